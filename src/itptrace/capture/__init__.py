"""capture capability."""
