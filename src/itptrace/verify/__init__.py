"""Inspector verification and illicit-trade detection: online, offline and from a photo.

``model`` (pure: verdicts, reasons, policy), ``rules`` (pure: the checks), ``facts``
(gathering), ``service`` (``verify``), ``alerts``, ``bloom``, ``bundle`` and ``queue``
(the device side, no database), ``exchange`` (bundles and offline scans on the node) and
``store`` (SQL).
"""
