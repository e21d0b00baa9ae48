"""netfilter layer."""
