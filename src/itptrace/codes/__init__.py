"""codes capability."""
