"""Rule families: each module writes one kind of kube-proxy rule as text into a :class:`RuleBuffer`."""
