"""zkop: Apache ZooKeeper on Kubernetes, and Kubernetes into ZooKeeper."""

__version__ = "0.1.0"
