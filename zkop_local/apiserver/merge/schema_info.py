"""Merge-relevant type information for built-in kinds and custom resources.

One tree of :class:`TypeNode` describes, for every position in an object, what strategic merge patch and
server-side apply need to know:

* the node kind: scalar, struct (declared fields), map (arbitrary keys), list, or untyped (structure is
  deduced from the value: maps are granular, lists atomic, as structured-merge-diff's "deduced" type);
* for lists the ``x-kubernetes-list-type`` (``atomic``/``set``/``map``), the ``x-kubernetes-list-map-keys``
  and
  defaults for key fields (``protocol: TCP`` in port lists);
* for structs and maps whether they are atomic (``x-kubernetes-map-type: atomic``);
* the strategic-merge tags of the field that leads to the node (``patchStrategy``, ``patchMergeKey``).

Built-in kinds come from the generated ``_builtin_schema`` table (Kubernetes' own OpenAPI). Custom resources
come from the CRD version's ``openAPIV3Schema``; there, lists without ``x-kubernetes-list-type`` are atomic
and ``metadata`` is always the built-in ObjectMeta.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from . import _builtin_schema

GVK = tuple[str, str, str]
NodeKind = Literal["scalar", "struct", "map", "list", "untyped"]
ListType = Literal["atomic", "set", "map"]

OBJECT_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Built-in kinds served with a ``status`` subresource: on the main resource the server ignores ``status``,
# on ``/status`` it ignores everything else (keys are (group, kind)).
BUILTIN_STATUS_SUBRESOURCE: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("", "Pod"),
        ("", "Service"),
        ("", "Node"),
        ("", "Namespace"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ReplicationController"),
        ("", "ResourceQuota"),
        ("apps", "StatefulSet"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("policy", "PodDisruptionBudget"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    }
)


class TypeNode:
    """Merge information about one position in an object; children are resolved lazily."""

    __slots__ = (
        "_elem",
        "_elem_factory",
        "_field_factories",
        "_fields",
        "atomic",
        "key_defaults",
        "keys",
        "kind",
        "list_type",
        "patch_merge_key",
        "patch_strategies",
        "preserve_unknown",
    )

    def __init__(
        self,
        kind: NodeKind,
        *,
        atomic: bool = False,
        list_type: ListType = "atomic",
        keys: tuple[str, ...] = (),
        key_defaults: Mapping[str, Any] | None = None,
        patch_strategies: frozenset[str] = frozenset(),
        patch_merge_key: str | None = None,
        preserve_unknown: bool = False,
        field_factories: Mapping[str, Callable[[], TypeNode]] | None = None,
        elem_factory: Callable[[], TypeNode] | None = None,
    ) -> None:
        self.kind: NodeKind = kind
        self.atomic = atomic
        self.list_type: ListType = list_type
        self.keys = keys
        self.key_defaults: Mapping[str, Any] = key_defaults or {}
        self.patch_strategies = patch_strategies
        self.patch_merge_key = patch_merge_key
        self.preserve_unknown = preserve_unknown
        self._field_factories: Mapping[str, Callable[[], TypeNode]] = field_factories or {}
        self._fields: dict[str, TypeNode] = {}
        self._elem_factory = elem_factory
        self._elem: TypeNode | None = None

    def __repr__(self) -> str:
        extra = f" {self.list_type}{list(self.keys) if self.keys else ''}" if self.kind == "list" else ""
        return f"<TypeNode {self.kind}{extra}{' atomic' if self.atomic else ''}>"

    def declared(self, name: str) -> TypeNode | None:
        """The declared struct field ``name`` (None for maps, untyped nodes and unknown fields)."""
        if self.kind != "struct":
            return None
        node = self._fields.get(name)
        if node is None:
            factory = self._field_factories.get(name)
            if factory is None:
                return None
            node = self._fields[name] = factory()
        return node

    def child(self, name: str) -> TypeNode:
        """The node of map key / struct field ``name``; unknown fields are untyped."""
        if self.kind == "struct":
            return self.declared(name) or UNTYPED
        if self.kind == "map":
            return self.elem()
        return UNTYPED

    def elem(self) -> TypeNode:
        """The item node of a list or the value node of a map."""
        if self._elem is None:
            self._elem = self._elem_factory() if self._elem_factory is not None else UNTYPED
        return self._elem

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self._field_factories)

    @property
    def granular(self) -> bool:
        """Whether SSA tracks children separately (not a scalar, not atomic)."""
        if self.kind in ("struct", "map", "untyped"):
            return not self.atomic
        if self.kind == "list":
            return self.list_type != "atomic"
        return False


SCALAR: Final = TypeNode("scalar")
UNTYPED: Final = TypeNode("untyped")


# --------------------------------------------------------------------------------------------- built-ins


# Keyed by the descriptor string, or by the id of a descriptor dict (those live as long as the module).
_builtin_cache: dict[str | int, TypeNode] = {}


def _builtin_node(desc: Any) -> TypeNode:
    if desc == "s":
        return SCALAR
    if desc == "u":
        return UNTYPED
    key: str | int = desc if isinstance(desc, str) else id(desc)
    cached = _builtin_cache.get(key)
    if cached is None:
        cached = _builtin_cache[key] = _build_builtin(desc)
    return cached


def _build_builtin(desc: Any) -> TypeNode:
    if isinstance(desc, str):
        if not desc.startswith("T:"):
            raise ValueError(f"bad descriptor {desc!r}")
        return _builtin_struct(desc[2:], {})
    if "t" in desc:
        return _builtin_struct(desc["t"], desc)
    strategies = frozenset(s for s in str(desc.get("ps", "")).split(",") if s)
    if "l" in desc:
        item = desc["l"]
        key_defaults: Mapping[str, Any] = {}
        if isinstance(item, str) and item.startswith("T:"):
            key_defaults = _builtin_schema.TYPES[item[2:]].get("kd", {})
        return TypeNode(
            "list",
            list_type=desc.get("lt", "atomic"),
            keys=tuple(desc.get("k", ())),
            key_defaults=key_defaults,
            patch_strategies=strategies,
            patch_merge_key=desc.get("pmk"),
            elem_factory=lambda: _builtin_node(item),
        )
    if "m" in desc:
        value = desc["m"]
        return TypeNode(
            "map",
            atomic=desc.get("mt") == "atomic",
            patch_strategies=strategies,
            elem_factory=lambda: _builtin_node(value),
        )
    raise ValueError(f"bad descriptor {desc!r}")


def _builtin_struct(name: str, attrs: Mapping[str, Any]) -> TypeNode:
    entry = _builtin_schema.TYPES[name]
    fields: dict[str, Any] = entry["f"]
    return TypeNode(
        "struct",
        atomic=entry.get("mt") == "atomic" or attrs.get("mt") == "atomic",
        patch_strategies=frozenset(s for s in str(attrs.get("ps", "")).split(",") if s),
        patch_merge_key=attrs.get("pmk"),
        field_factories={field: _factory(desc) for field, desc in fields.items()},
    )


def _factory(desc: Any) -> Callable[[], TypeNode]:
    return lambda: _builtin_node(desc)


def builtin_type_name(gvk: GVK) -> str | None:
    return _builtin_schema.ROOTS.get(gvk)


def is_builtin(gvk: GVK) -> bool:
    return gvk in _builtin_schema.ROOTS


def builtin_root(gvk: GVK) -> TypeNode | None:
    name = _builtin_schema.ROOTS.get(gvk)
    return None if name is None else _builtin_node("T:" + name)


def object_meta() -> TypeNode:
    return _builtin_node("T:" + OBJECT_META)


# --------------------------------------------------------------------------------------------- CRDs


def crd_node(schema: Mapping[str, Any] | None, *, root: bool = False) -> TypeNode:
    """The merge tree of a CRD's ``openAPIV3Schema`` (``root``: add apiVersion/kind/metadata)."""
    schema = schema or {}
    if schema.get("x-kubernetes-int-or-string"):
        return SCALAR
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    kind = schema.get("type")
    properties: Mapping[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    atomic = schema.get("x-kubernetes-map-type") == "atomic"
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    if kind == "array":
        items = schema.get("items")
        list_type: ListType = schema.get("x-kubernetes-list-type") or "atomic"
        keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        key_defaults: dict[str, Any] = {}
        if isinstance(items, Mapping):
            for key in keys:
                key_schema = (items.get("properties") or {}).get(key) or {}
                if "default" in key_schema:
                    key_defaults[key] = key_schema["default"]
        return TypeNode(
            "list",
            list_type=list_type,
            keys=keys,
            key_defaults=key_defaults,
            elem_factory=lambda: crd_node(items if isinstance(items, Mapping) else None),
        )
    if kind == "object" or properties or root or embedded:
        factories: dict[str, Callable[[], TypeNode]] = {
            name: _crd_factory(sub) for name, sub in properties.items()
        }
        if root or embedded:
            factories["apiVersion"] = lambda: SCALAR
            factories["kind"] = lambda: SCALAR
            factories["metadata"] = object_meta
        if factories:
            return TypeNode("struct", atomic=atomic, preserve_unknown=preserve, field_factories=factories)
        if isinstance(additional, Mapping):
            return TypeNode("map", atomic=atomic, elem_factory=lambda: crd_node(additional))
        return TypeNode("untyped", atomic=atomic)
    if kind in ("string", "integer", "number", "boolean"):
        return SCALAR
    return UNTYPED


def _crd_factory(sub: Any) -> Callable[[], TypeNode]:
    return lambda: crd_node(sub if isinstance(sub, Mapping) else None)


def root_node(gvk: GVK, crd_schema: Mapping[str, Any] | None = None) -> TypeNode:
    """The merge tree for objects of ``gvk``: the CRD schema if given, else the built-in table.

    Unknown kinds without a schema get a tree in which only ``metadata`` is typed.
    """
    if crd_schema is not None:
        return crd_node(crd_schema, root=True)
    builtin = builtin_root(gvk)
    if builtin is not None:
        return builtin
    return crd_node({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, root=True)


def has_status_subresource(gvk: GVK, crd_schema: Mapping[str, Any] | None = None) -> bool:
    """Whether ``gvk`` is served with a status subresource.

    Built-ins: from :data:`BUILTIN_STATUS_SUBRESOURCE`. Custom resources: the CRD's ``subresources`` are not
    part of the schema, so this guesses True when the schema declares a ``status`` property (callers who
    know the CRD should pass the flag explicitly).
    """
    group, _, kind = gvk
    if crd_schema is None and is_builtin(gvk):
        return (group, kind) in BUILTIN_STATUS_SUBRESOURCE
    if crd_schema is not None:
        return "status" in (crd_schema.get("properties") or {})
    return (group, kind) in BUILTIN_STATUS_SUBRESOURCE
