"""objects layer."""
