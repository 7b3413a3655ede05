"""Fault injection and the request log, for tests that need a misbehaving or auditable API server.

Faults are matched on the API verb (get, list, watch, create, update, patch, delete, deletecollection), the
resource plural (optionally with ``/subresource``), the object name and the namespace; any of these left
empty matches everything. ``count`` limits how many requests a fault hits (None: until cleared).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Match:
    verb: str | None = None
    resource: str | None = None  # plural, or plural/subresource
    name: str | None = None
    namespace: str | None = None

    def hits(self, verb: str, resource: str, name: str, namespace: str) -> bool:
        if self.verb is not None and self.verb != verb:
            return False
        if (
            self.resource is not None
            and self.resource != resource
            and self.resource != resource.split("/")[0]
        ):
            return False
        if self.name is not None and self.name != name:
            return False
        return self.namespace is None or self.namespace == namespace


@dataclass
class Fault:
    """One rule. ``action`` is one of:

    - ``error``: answer ``code`` (409 or 500, or any other) with a Status; 409 comes as reason Conflict.
    - ``timeout``: hang ``seconds`` and then answer 504 Timeout (clients with shorter timeouts give up first).
    - ``stale``: GET/LIST serve the previous version of each object (a lagging cache or a replica).
    - ``drop_watch``: watch events for matching objects are not delivered.
    - ``delay_watch``: watch events for matching objects are delivered ``seconds`` late.
    """

    action: str
    match: Match = field(default_factory=Match)
    code: int = 500
    seconds: float = 0.0
    count: int | None = None
    message: str = "injected fault"
    id: int = 0
    hits: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_ACTIONS = ("error", "timeout", "stale", "drop_watch", "delay_watch")


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    user_agent: str
    field_manager: str
    content_type: str
    time: float
    status: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The active fault rules and the request log."""

    def __init__(self, log_limit: int = 10000) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.requests: list[RequestRecord] = []
        self._log_limit = log_limit

    # -- rules ---------------------------------------------------------------------------------------------

    def add(
        self,
        action: str,
        *,
        verb: str | None = None,
        resource: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        code: int = 500,
        seconds: float = 0.0,
        count: int | None = None,
        message: str = "injected fault",
    ) -> Fault:
        if action not in _ACTIONS:
            raise ValueError(f"unknown fault action {action!r}; choose one of {', '.join(_ACTIONS)}")
        fault = Fault(
            action, Match(verb, resource, name, namespace), code, seconds, count, message, next(self._ids)
        )
        self._faults.append(fault)
        return fault

    def add_json(self, body: dict[str, Any]) -> Fault:
        """The admin endpoint's form: the same keywords as ``add`` in one JSON object."""
        known = {"verb", "resource", "name", "namespace", "code", "seconds", "count", "message"}
        unknown = set(body) - known - {"action"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return self.add(str(body.get("action", "")), **{k: v for k, v in body.items() if k in known})

    def remove(self, fault_id: int) -> None:
        self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        self._faults.clear()

    def list(self) -> list[Fault]:
        return list(self._faults)

    def take(
        self, actions: tuple[str, ...], verb: str, resource: str, name: str, namespace: str
    ) -> Fault | None:
        """The first matching fault among ``actions``; consumes one of its ``count``."""
        for fault in self._faults:
            if fault.action in actions and fault.match.hits(verb, resource, name, namespace):
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def peek(
        self, actions: tuple[str, ...], verb: str, resource: str, name: str, namespace: str
    ) -> Fault | None:
        """Like ``take`` without consuming (watch faults judge every event, counting only real hits)."""
        for fault in self._faults:
            if fault.action in actions and fault.match.hits(verb, resource, name, namespace):
                return fault
        return None

    def consume(self, fault: Fault) -> None:
        fault.hits += 1
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0 and fault in self._faults:
                self._faults.remove(fault)

    # -- request log ---------------------------------------------------------------------------------------

    def record(
        self, method: str, path: str, query: dict[str, str], user_agent: str, content_type: str
    ) -> RequestRecord:
        entry = RequestRecord(
            method, path, query, user_agent, query.get("fieldManager", ""), content_type, time.time()
        )
        self.requests.append(entry)
        if len(self.requests) > self._log_limit:
            del self.requests[: len(self.requests) - self._log_limit]
        return entry

    def clear_requests(self) -> None:
        self.requests.clear()
