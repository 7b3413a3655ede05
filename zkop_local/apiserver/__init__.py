"""A local, in-memory Kubernetes API server (plain HTTP on loopback) for tests and the local demo."""

from .faults import Fault, Faults, RequestRecord
from .handlers import LogProvider, LogRequest
from .server import ApiServer

__all__ = ["ApiServer", "Fault", "Faults", "LogProvider", "LogRequest", "RequestRecord"]
