"""queries capability."""
