"""kernel layer: the cluster built for real in Linux network namespaces, its rules loaded with iptables-restore.

``plan`` decides names and addresses (pure), ``build`` creates and removes them,
``send`` runs real connections and tallies them, ``state`` records running clusters.
"""
