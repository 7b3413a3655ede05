"""Publishing Kubernetes Services into ZooKeeper registries: the pure core.

`desired` turns Services and EndpointSlices into the registry zkop wants (znode path -> data), in the
layouts of `formats`; `ledger` says where zkop records what it owns; `diff` compares the desired registry
with the owned nodes observed and yields the minimal changes. No I/O here: the writer lives in
`zkop.zookeeper.registry`, the handlers in `zkop.operator.exports`.
"""
