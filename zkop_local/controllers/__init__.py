"""Controllers of the local control plane: StatefulSet, Deployment/ReplicaSet, EndpointSlice/Endpoints,
PersistentVolume provisioning, Namespace, garbage collector and node lifecycle.

Each controller is a pure decision core (observed objects -> actions) plus a thin asyncio loop that
talks to the API server only through a lightkube ``AsyncClient``. Start them all with
``zkop_local.controllers.manager.ControllerManager``. Deviations from Kubernetes: ``DIFFERENCES.md``.
"""

from .volumes import pv_host_path, volume_path

__all__ = ["pv_host_path", "volume_path"]
