"""proxier layer."""
