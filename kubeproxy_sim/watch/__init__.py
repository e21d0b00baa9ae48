"""watch layer."""
