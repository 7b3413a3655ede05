"""A process kubelet: runs Pod objects as real local processes in their own namespaces.

`runtime` turns a Pod (a plain dict as the API returns it) into processes; `kubelet` syncs pods
from the local API server. See DIFFERENCES.md for where this deviates from a real kubelet.
"""
