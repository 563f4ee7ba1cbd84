"""itptrace: independent tracking and tracing for tobacco products (WHO FCTC ITP Article 8)."""

__version__ = "0.1.0"
