"""repository capability."""
