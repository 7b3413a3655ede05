"""Where zkop records what it owns in a registry: `/zkop/exports/<export uid>/<parent>/<child>`.

Every registry node zkop writes has a twin entry here, created and deleted in the same multi-op
transaction as the node itself, so ownership and existence never disagree. A node without an entry is
not zkop's and is never touched. The ledger is keyed by the export's uid, not its name: a re-created
export starts with an empty ledger instead of silently adopting its predecessor's nodes.

Why a ledger rather than a marker inside each node: Dubbo provider nodes carry empty data (the URL is
the name), and putting a foreign field into ServiceInstance JSON would depend on every reader ignoring
unknown fields. The ledger also tells zkop which parents to look under after a restart without
scanning a shared registry.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

LEDGER_ROOT = "/zkop/exports"


def ledger_root(export_uid: str) -> str:
    return f"{LEDGER_ROOT}/{export_uid}"


def split(path: str) -> tuple[str, str]:
    parent, _, child = path.rpartition("/")
    return parent, child


def parent_key(parent: str) -> str:
    """A registry parent path as one znode name (reversible: `%` itself is escaped)."""
    return quote(parent, safe="")


def parent_of_key(key: str) -> str:
    return unquote(key)


def entry(export_uid: str, path: str) -> str:
    """The ledger entry that records ownership of registry node `path`."""
    parent, child = split(path)
    return f"{ledger_root(export_uid)}/{parent_key(parent)}/{child}"


def ledger_parent(export_uid: str, path: str) -> str:
    parent, _ = split(path)
    return f"{ledger_root(export_uid)}/{parent_key(parent)}"
