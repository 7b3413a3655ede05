"""The watch stream: HTTP 200, chunked, one JSON event per line.

Rules that clients depend on (see the API semantics note, §4 and pitfalls 2, 4 and 8):
- a resourceVersion older than the history window is answered with 200 and an ERROR event carrying a 410
  Status, never with an HTTP 410 (kopf would stop, lightkube would loop);
- no resourceVersion, or "0", starts with synthetic ADDED events for the current objects;
- ``sendInitialEvents=true`` ends its initial ADDED events with a BOOKMARK annotated
  ``k8s.io/initial-events-end`` (kubectl delete/wait hang otherwise);
- with ``allowWatchBookmarks`` a BOOKMARK goes out whenever the stream has been quiet for the bookmark
  interval (kopf treats 70 s of silence as a dead stream), and one more before a timed-out stream closes;
- with selectors, an object that stops matching is sent as DELETED and one that starts matching as ADDED.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import errors
from .faults import Faults
from .handlers import Api, Target
from .meta import Obj
from .selectors import Selector
from .store import Watcher, WatchEvent

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def _transform(event: WatchEvent, selector: Selector) -> str | None:
    """The event type this watcher sees, given its selector (None: not at all)."""
    now_matches = selector.matches(event.obj)
    if event.type == "ADDED":
        return "ADDED" if now_matches else None
    if event.type == "DELETED":
        return "DELETED" if selector.matches(event.old or event.obj) else None
    was_matching = event.old is not None and selector.matches(event.old)
    if was_matching and now_matches:
        return "MODIFIED"
    if now_matches:
        return "ADDED"
    if was_matching:
        return "DELETED"
    return None


def validate(query: dict[str, str]) -> None:
    """Reject malformed watch requests before the 200 goes out (afterwards errors can only be events)."""
    if query.get("sendInitialEvents", "").lower() == "true":
        causes = []
        if query.get("resourceVersionMatch") != "NotOlderThan":
            causes.append(
                (
                    "FieldValueInvalid",
                    "resourceVersionMatch",
                    "Invalid value: must be set to NotOlderThan when sendInitialEvents is true",
                )
            )
        if query.get("allowWatchBookmarks", "").lower() not in ("true", "1"):
            causes.append(
                (
                    "FieldValueForbidden",
                    "allowWatchBookmarks",
                    "Forbidden: allowWatchBookmarks must be true when sendInitialEvents is true",
                )
            )
        if causes:
            raise errors.invalid("ListOptions", "meta.k8s.io", "", causes)


async def serve(
    request: web.Request,
    api: Api,
    faults: Faults,
    target: Target,
    query: dict[str, str],
    *,
    bookmark_interval: float,
    render: Callable[[Obj], Obj] | None = None,
) -> web.StreamResponse:
    """``render`` transforms each event's object (Table rows, PartialObjectMetadata); BOOKMARK and ERROR
    objects are sent as they are."""
    rtype = target.rtype
    validate(query)

    def show(obj: Obj) -> Obj:
        shown = api.present(rtype, obj)
        return render(shown) if render is not None else shown

    selector = api.selector(rtype, query)
    bookmarks = query.get("allowWatchBookmarks", "").lower() in ("true", "1")
    initial_stream = query.get("sendInitialEvents", "").lower() == "true"
    timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
    requested = query.get("resourceVersion", "")
    namespace = target.namespace if rtype.namespaced and target.namespace else None

    # Snapshot and subscription happen in one synchronous step, so no event falls in between.
    watcher = api.store.subscribe(rtype.key, namespace)
    pending: list[tuple[str, Obj]] = []
    expired_error: errors.ApiError | None = None
    if requested in ("", "0") or initial_stream:
        pending = [("ADDED", o) for o in api.store.list(rtype.key, namespace) if selector.matches(o)]
    else:
        try:
            since = int(requested)
        except ValueError:
            api.store.unsubscribe(watcher)
            raise errors.bad_request(f'invalid resource version "{requested}"') from None
        history = api.store.history_since(since, watcher)
        if history is None:
            expired_error = errors.expired(
                f"too old resource version: {requested} ({api.store.compacted_rv})"
            )
        else:
            for event in history:
                kind = _transform(event, selector)
                if kind is not None:
                    pending.append((kind, event.obj))
    snapshot_rv = api.store.rv

    response = web.StreamResponse(status=200)
    response.headers["Content-Type"] = "application/json"
    response.headers["Cache-Control"] = "no-cache, private"
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        if expired_error is not None:
            await response.write(_line("ERROR", expired_error.status()))
            return response
        for kind, obj in pending:
            await response.write(_line(kind, show(obj)))
        if initial_stream:
            await response.write(_line("BOOKMARK", _bookmark(target, snapshot_rv, initial_end=True)))
        await _follow(
            request,
            response,
            api,
            faults,
            target,
            watcher,
            selector,
            bookmarks,
            timeout,
            bookmark_interval,
            show,
        )
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        api.store.unsubscribe(watcher)
    return response


def _bookmark(target: Target, rv: int, *, initial_end: bool = False) -> Obj:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"kind": target.rtype.kind, "apiVersion": target.rtype.api_version, "metadata": meta}


async def _follow(
    request: web.Request,
    response: web.StreamResponse,
    api: Api,
    faults: Faults,
    target: Target,
    watcher: Watcher,
    selector: Selector,
    bookmarks: bool,
    timeout: float | None,
    bookmark_interval: float,
    show: Callable[[Obj], Obj],
) -> None:
    rtype = target.rtype
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout if timeout is not None else None
    last_sent = time.monotonic()
    while True:
        if request.transport is None or request.transport.is_closing():
            return
        wait = 1.0
        if bookmarks:
            wait = min(wait, max(0.0, bookmark_interval - (time.monotonic() - last_sent)))
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                if bookmarks:
                    await response.write(_line("BOOKMARK", _bookmark(target, api.store.rv)))
                return
            wait = min(wait, remaining)
        if not watcher.queue.empty():
            # Take queued events directly: a zero wait_for timeout would cancel the get before it ran.
            event = watcher.queue.get_nowait()
        else:
            try:
                event = await asyncio.wait_for(watcher.queue.get(), timeout=max(wait, 0.001))
            except TimeoutError:
                if bookmarks and time.monotonic() - last_sent >= bookmark_interval and watcher.queue.empty():
                    # Only with nothing queued is everything up to store.rv delivered, so resuming is safe.
                    await response.write(_line("BOOKMARK", _bookmark(target, api.store.rv)))
                    last_sent = time.monotonic()
                continue
        if event is None:
            return
        kind = _transform(event, selector)
        if kind is None:
            continue
        fault = faults.peek(("drop_watch", "delay_watch"), "watch", rtype.plural, event.name, event.namespace)
        if fault is not None:
            faults.consume(fault)
            if fault.action == "drop_watch":
                continue
            await asyncio.sleep(fault.seconds)
        await response.write(_line(kind, show(event.obj)))
        last_sent = time.monotonic()
