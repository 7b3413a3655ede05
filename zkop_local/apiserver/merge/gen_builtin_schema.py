"""Generate ``_builtin_schema.py`` (merge metadata of built-in kinds) from Kubernetes' OpenAPI.

The source is the OpenAPI-derived JSON schema shipped in the ``kubernetes-validate`` dev dependency
(``kubernetes-json-schema/v<version>-local/_definitions.json``), which keeps the ``x-kubernetes-*``
extensions:
``x-kubernetes-list-type``, ``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``,
``x-kubernetes-patch-strategy`` and ``x-kubernetes-patch-merge-key``. Descriptions, validation and
anything else the merge algorithms do not need are dropped.

Run ``python -m zkop_local.apiserver.merge.gen_builtin_schema`` to regenerate; a test checks that the
committed module matches what this generator produces.

Descriptor format (all plain JSON values):

* ``"s"``: scalar; ``"u"``: untyped (RawExtension, JSON, FieldsV1: structure is deduced from the value).
* ``"T:<type>"``: a named struct from ``TYPES``; ``{"t": "<type>", "ps": ..., "mt": ...}`` when the field
  itself carries a patch strategy or map type.
* ``{"l": <item>, "lt": "atomic"|"set"|"map", "k": [keys], "ps": "merge[,retainKeys]", "pmk": key}``: a list.
* ``{"m": <value>, "mt": "atomic"?}``: a map with arbitrary keys (``additionalProperties``).
* ``TYPES[name] = {"f": {field: descriptor}, "mt": "atomic"?}``.
"""

from __future__ import annotations

import json
import pprint
import sys
from pathlib import Path
from typing import Any

KUBERNETES_VERSION = "1.37.0"

# Group/versions whose kinds get merge metadata (GA APIs a local control plane serves).
GROUP_VERSIONS: tuple[tuple[str, str], ...] = (
    ("", "v1"),
    ("apps", "v1"),
    ("batch", "v1"),
    ("policy", "v1"),
    ("autoscaling", "v1"),
    ("discovery.k8s.io", "v1"),
    ("coordination.k8s.io", "v1"),
    ("events.k8s.io", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
    ("apiextensions.k8s.io", "v1"),
    ("networking.k8s.io", "v1"),
    ("storage.k8s.io", "v1"),
    ("scheduling.k8s.io", "v1"),
    ("admissionregistration.k8s.io", "v1"),
)

# Kinds with a group/version-kind in the OpenAPI that are not stored resources.
_NOT_RESOURCES = {
    "Status",
    "WatchEvent",
    "DeleteOptions",
    "APIResourceList",
    "APIGroup",
    "APIGroupList",
    "APIVersions",
    "Binding",
    "Eviction",
    "TokenRequest",
}

# Scalars represented as named definitions in the OpenAPI.
_SCALAR_TYPES = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
}

# Defaults of list-map key fields. The real OpenAPI v3 carries ``default: "TCP"`` on these ``protocol``
# fields (the SMD typed converter uses it to build keys such as ``k:{"containerPort":80,"protocol":"TCP"}``);
# the JSON-schema flavour in kubernetes-validate drops defaults, so they are restored here.
KEY_DEFAULTS: dict[str, dict[str, Any]] = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.EndpointPort": {"protocol": "TCP"},
    "io.k8s.api.discovery.v1.EndpointPort": {"protocol": "TCP"},
}


def _definitions_path() -> Path:
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    return base / f"v{KUBERNETES_VERSION}-local" / "_definitions.json"


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


class _Generator:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.types: dict[str, Any] = {}
        self.pending: list[str] = []

    def named(self, name: str) -> Any:
        if name in _SCALAR_TYPES:
            return "s"
        definition = self.defs[name]
        if "properties" not in definition:
            kinds = _types(definition)
            return "s" if kinds and not kinds & {"object", "array"} else "u"
        if name not in self.types:
            self.types[name] = None  # placeholder against recursion
            self.pending.append(name)
        return f"T:{name}"

    def build_type(self, name: str) -> None:
        definition = self.defs[name]
        fields = {field: self.descriptor(prop) for field, prop in sorted(definition["properties"].items())}
        entry: dict[str, Any] = {"f": fields}
        if definition.get("x-kubernetes-map-type") == "atomic":
            entry["mt"] = "atomic"
        if name in KEY_DEFAULTS:
            entry["kd"] = KEY_DEFAULTS[name]
        self.types[name] = entry

    def descriptor(self, prop: dict[str, Any]) -> Any:
        field_attrs: dict[str, Any] = {}
        if "x-kubernetes-patch-strategy" in prop:
            field_attrs["ps"] = prop["x-kubernetes-patch-strategy"]
        if "x-kubernetes-patch-merge-key" in prop:
            field_attrs["pmk"] = prop["x-kubernetes-patch-merge-key"]
        if prop.get("x-kubernetes-map-type") == "atomic":
            field_attrs["mt"] = "atomic"
        if "$ref" in prop:
            base = self.named(_ref_name(prop["$ref"]))
            if field_attrs and isinstance(base, str) and base.startswith("T:"):
                return {"t": base[2:], **field_attrs}
            return base
        kinds = _types(prop)
        if "array" in kinds:
            out: dict[str, Any] = {"l": self.descriptor(prop.get("items") or {})}
            list_type = prop.get("x-kubernetes-list-type")
            keys = prop.get("x-kubernetes-list-map-keys")
            if list_type is None:
                # kube-openapi's schemaconv falls back to the patch strategy for lists without a list type.
                if "merge" in str(field_attrs.get("ps", "")).split(","):
                    list_type = "map" if field_attrs.get("pmk") else "set"
                    keys = [field_attrs["pmk"]] if field_attrs.get("pmk") else None
                else:
                    list_type = "atomic"
            out["lt"] = list_type
            if list_type == "map":
                out["k"] = list(keys or [])
            for attr in ("ps", "pmk"):
                if attr in field_attrs:
                    out[attr] = field_attrs[attr]
            return out
        if "additionalProperties" in prop:
            out = {"m": self.descriptor(prop["additionalProperties"])}
            if "mt" in field_attrs:
                out["mt"] = "atomic"
            return out
        if "object" in kinds:
            return "u"
        if not kinds and "oneOf" not in prop:
            return "u"
        return "s"

    def run(self) -> tuple[dict[tuple[str, str, str], str], dict[str, Any]]:
        roots: dict[tuple[str, str, str], str] = {}
        wanted = set(GROUP_VERSIONS)
        for name, definition in sorted(self.defs.items()):
            if not name.startswith(("io.k8s.api.", "io.k8s.apiextensions-apiserver.")):
                continue
            for gvk in definition.get("x-kubernetes-group-version-kind", []):
                key = (gvk["group"], gvk["version"], gvk["kind"])
                if (key[0], key[1]) not in wanted or key[2].endswith("List") or key[2] in _NOT_RESOURCES:
                    continue
                roots[key] = name
                self.named(name)
        while self.pending:
            self.build_type(self.pending.pop())
        return roots, dict(sorted(self.types.items()))


def _types(prop: dict[str, Any]) -> set[str]:
    kind = prop.get("type")
    if kind is None:
        return set()
    if isinstance(kind, str):
        return {kind}
    return {k for k in kind if k != "null"}


def render() -> str:
    defs = json.loads(_definitions_path().read_text())["$defs"]
    roots, types = _Generator(defs).run()
    lines = [
        '"""Merge metadata of built-in Kubernetes kinds. GENERATED by gen_builtin_schema.py; do not edit.',
        "",
        f"Source: Kubernetes v{KUBERNETES_VERSION} OpenAPI (via kubernetes-validate);",
        'see gen_builtin_schema.py for the descriptor format."""',
        "",
        "# ruff: noqa: E501",
        "from typing import Any, Final",
        "",
        f"KUBERNETES_VERSION: Final = {KUBERNETES_VERSION!r}",
        "",
        "ROOTS: Final[dict[tuple[str, str, str], str]] = "
        + pprint.pformat(roots, width=110, sort_dicts=True),
        "",
        "TYPES: Final[dict[str, Any]] = " + pprint.pformat(types, width=110, sort_dicts=True),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    target = Path(__file__).with_name("_builtin_schema.py")
    text = render()
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        sys.exit(0 if target.read_text() == text else 1)
    target.write_text(text)


if __name__ == "__main__":
    main()
