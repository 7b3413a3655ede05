"""Image references mapped to local runtimes; shell shims emulating the official ZooKeeper image."""
