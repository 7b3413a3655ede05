"""An in-memory stand-in for the API server that applies decision-core actions, for the pure tests.

It is deliberately small: merge patches, the JSON-patch ops the controllers emit, uid/resourceVersion
bookkeeping and generateName. Pods vanish at once on delete (unscheduled pods do so on the real server).
"""

from __future__ import annotations

import builtins
import copy
import itertools
from typing import Any

from zkop_local.controllers.actions import Action, Create, Delete, MakeDirectory, Patch, RemoveDirectory
from zkop_local.controllers.objects import Obj, name_of, namespace_of
from zkop_local.controllers.resources import ResourceKind

_counter = itertools.count(1)


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class PreconditionFailed(Exception):
    pass


def json_patch(target: Obj, ops: list[dict[str, Any]]) -> Obj:
    result = copy.deepcopy(target)
    for op in ops:
        parts = op["path"].strip("/").split("/")
        parent = result
        for part in parts[:-1]:
            parent = parent.setdefault(part, {})
        if op["op"] == "test":
            if parent.get(parts[-1]) != op["value"]:
                raise PreconditionFailed(op)
        elif op["op"] in ("add", "replace"):
            parent[parts[-1]] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            parent.pop(parts[-1], None)
    return result


class World:
    def __init__(self) -> None:
        self.objects: dict[tuple[ResourceKind, str, str], Obj] = {}
        self.log: list[Action] = []

    def add(self, resource: ResourceKind, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = f"{meta['generateName']}{next(_counter):05d}"
        meta.setdefault("uid", f"uid-{next(_counter)}")
        meta["resourceVersion"] = str(next(_counter))
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        meta.setdefault("generation", 1)
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        key = (resource, namespace_of(obj), name_of(obj))
        self.objects[key] = obj
        return obj

    def list(self, resource: ResourceKind) -> list[Obj]:
        return [
            copy.deepcopy(o)
            for (r, _, _), o in sorted(self.objects.items(), key=lambda kv: kv[0][1:])
            if r == resource
        ]

    def get(self, resource: ResourceKind, namespace: str, name: str) -> Obj | None:
        return self.objects.get((resource, namespace, name))

    def apply(self, actions: builtins.list[Action]) -> None:
        for action in actions:
            self.log.append(action)
            if isinstance(action, Create):
                key = (action.resource, namespace_of(action.body), name_of(action.body))
                if name_of(action.body) and key in self.objects:
                    raise AssertionError(f"create of an existing object: {key}")
                self.add(action.resource, action.body)
            elif isinstance(action, Delete):
                self.objects.pop((action.resource, action.namespace, action.name), None)
            elif isinstance(action, Patch):
                key = (action.resource, action.namespace, action.name)
                if key not in self.objects:
                    continue
                if action.patch_type == "merge":
                    new = merge_patch(self.objects[key], action.patch)
                else:
                    try:
                        new = json_patch(self.objects[key], action.patch)
                    except PreconditionFailed:
                        return
                new["metadata"]["resourceVersion"] = str(next(_counter))
                self.objects[key] = new
            else:
                assert isinstance(action, MakeDirectory | RemoveDirectory)
