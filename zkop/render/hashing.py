"""A stable hash of everything whose change needs members to restart."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def restart_hash(*parts: Any) -> str:
    """sha256 over a canonical JSON of the parts; short enough for an annotation, long enough to trust."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]
