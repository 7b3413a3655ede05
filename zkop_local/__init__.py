"""zkop's local control plane: a Kubernetes-API-compatible server, controllers and a process kubelet.

The operator (package ``zkop``) never imports this package; tests and ``zkop local`` do.
"""
