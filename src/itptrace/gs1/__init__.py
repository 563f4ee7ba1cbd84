"""gs1 capability."""
