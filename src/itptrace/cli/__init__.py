"""cli capability."""
