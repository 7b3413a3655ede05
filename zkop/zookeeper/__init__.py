"""Talking to ZooKeeper: membership (pure), member observation (AdminServer) and reconfiguration (kazoo)."""
