"""ZooKeeper versions from image references, and the downgrade rule. Pure.

A downgrade across minor versions can leave data a server cannot read back (snapshot and log formats move
forward with minor versions), so it is refused unless the resource carries
`zkop.io/allow-downgrade: "true"`.
"""

from __future__ import annotations

import re
from typing import Any

from zkop.api.cluster import ZookeeperCluster

ANNOTATION_ALLOW_DOWNGRADE = "zkop.io/allow-downgrade"
_TAG_VERSION = re.compile(r":(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?(?:[-_.][\w.-]*)?$")


def image_version(image: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from a tag like `zookeeper:3.9.3` or `repo/zookeeper:3.8.4-jre-17`."""
    name = image.split("@", 1)[0]
    match = _TAG_VERSION.search(name)
    if not match:
        return None
    return int(match["major"]), int(match["minor"]), int(match["patch"] or 0)


def _running_image(statefulset: dict[str, Any]) -> str | None:
    containers = (((statefulset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    for container in containers or []:
        if container.get("name") == "zookeeper":
            image: str | None = container.get("image")
            return image
    return None


def downgrade_refusal(statefulset: dict[str, Any], cluster: ZookeeperCluster) -> str | None:
    """A message naming spec.image when it would downgrade across minor versions without permission."""
    current_image = _running_image(statefulset)
    if current_image is None:
        return None
    current, wanted = image_version(current_image), image_version(cluster.spec.image)
    if current is None or wanted is None or wanted[:2] >= current[:2]:
        return None
    allowed = (cluster.metadata.get("annotations") or {}).get(ANNOTATION_ALLOW_DOWNGRADE) == "true"
    if allowed:
        return None
    return (
        f"spec.image: {cluster.spec.image} would downgrade ZooKeeper from {current[0]}.{current[1]} to "
        f"{wanted[0]}.{wanted[1]}; set it back to {current_image}, or annotate the resource "
        f'{ANNOTATION_ALLOW_DOWNGRADE}="true" if its data can be read by the older version'
    )
