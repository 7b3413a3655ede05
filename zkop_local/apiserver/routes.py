"""HTTP surface: URL parsing, verb dispatch, the admin endpoints, request logging and fault injection.

All API paths go through one catch-all route because Kubernetes paths are data-driven (CRDs add groups and
plurals at run time) and because ``/api/v1/namespaces/<x>/<plural>`` and ``/api/v1/namespaces/<x>/status``
can only be told apart by asking the registry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import discovery, errors, openapi, tables, watch
from .errors import ApiError, json_response
from .faults import Faults
from .handlers import Api, Target, WriteContext, delete_options, parse_body

log = logging.getLogger(__name__)

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass
class Parsed:
    target: Target
    verb: str
    watch_path: bool = False


class Routes:
    def __init__(
        self, api: Api, faults: Faults, *, bookmark_interval: float, server_address: Callable[[], str]
    ) -> None:
        self.api = api
        self.faults = faults
        self.bookmark_interval = bookmark_interval
        self.server_address = server_address

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    # -- middleware: log, then turn every exception into a Status ------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        record = None
        if not request.path.startswith("/zkop-local/"):
            record = self.faults.record(
                request.method,
                request.path,
                {k: v for k, v in request.query.items()},
                request.headers.get("User-Agent", ""),
                request.headers.get("Content-Type", ""),
            )
            if request.method in ("POST", "PUT", "PATCH", "DELETE") and not record.field_manager:
                record.field_manager = _manager(request)
        try:
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path_qs)
            response = errors.internal(f"{type(exc).__name__}: {exc}").response()
        if record is not None:
            record.status = response.status
        return response

    # -- dispatch ------------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["zkop-local"]:
            return await self._admin(request, parts[1:])
        if request.method == "GET":
            document = self._discovery(parts)
            if document is not None:
                return json_response(document)
        if parts[:1] not in (["api"], ["apis"]):
            raise errors.path_not_found()
        parsed = self._parse(request.method, parts, request.query)
        return await self._serve(request, parsed)

    def _discovery(self, parts: list[str]) -> Any:
        registry = self.api.registry
        if parts == ["version"]:
            return discovery.version(self.server_address())
        if parts == ["api"]:
            return discovery.api_versions(self.server_address())
        if parts == ["apis"]:
            return discovery.api_group_list(registry)
        if len(parts) == 2 and parts[0] == "api":
            return discovery.api_resource_list(registry, "", parts[1]) or _raise(errors.path_not_found())
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(registry, parts[1]) or _raise(errors.path_not_found())
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.api_resource_list(registry, parts[1], parts[2]) or _raise(
                errors.path_not_found()
            )
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        if parts[:1] == ["openapi"]:
            raise errors.path_not_found()  # v2 is protobuf-first; clients here only need v3
        return None

    def _openapi(self, rest: list[str]) -> Any:
        registry = self.api.registry
        docs = {gv: openapi.document(registry, *gv) for gv in registry.group_versions()}
        if not rest:
            return openapi.index(registry, {gv: openapi.content_hash(d) for gv, d in docs.items() if d})
        if rest[0] == "api" and len(rest) == 2:
            gv = ("", rest[1])
        elif rest[0] == "apis" and len(rest) == 3:
            gv = (rest[1], rest[2])
        else:
            raise errors.path_not_found()
        doc = docs.get(gv)
        if doc is None:
            raise errors.path_not_found()
        return doc

    def _parse(self, method: str, parts: list[str], query: Any) -> Parsed:
        if parts[0] == "api":
            if len(parts) < 3:
                raise errors.path_not_found()
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) < 4:
                raise errors.path_not_found()
            group, version, rest = parts[1], parts[2], parts[3:]
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        registry = self.api.registry
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            candidate = registry.lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise errors.path_not_found()
        rtype = registry.lookup(group, version, rest[0])
        if rtype is None:
            raise errors.path_not_found()
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in rtype.subresources():
            raise errors.path_not_found()
        if namespace and not rtype.namespaced:
            raise errors.path_not_found()
        if name and rtype.namespaced and not namespace:
            raise errors.path_not_found()
        target = Target(rtype, namespace, name, sub)
        watching = watch_path or query.get("watch", "").lower() in ("true", "1")
        verb = {
            ("GET", True): "get",
            ("GET", False): "watch" if watching else "list",
            ("POST", False): "create",
            ("PUT", True): "update",
            ("PATCH", True): "patch",
            ("DELETE", True): "delete",
            ("DELETE", False): "deletecollection",
        }.get((method, bool(name)))
        if verb is None or (verb in ("create", "deletecollection") and rtype.namespaced and not namespace):
            # Creating or mass-deleting namespaced objects needs a namespace in the path (as on real servers).
            raise errors.method_not_allowed()
        return Parsed(target, verb, watch_path)

    async def _serve(self, request: web.Request, parsed: Parsed) -> web.StreamResponse:
        target, verb = parsed.target, parsed.verb
        query = {k: v for k, v in request.query.items()}
        resource = target.rtype.plural + (f"/{target.subresource}" if target.subresource else "")
        fault = self.faults.take(("error", "timeout"), verb, resource, target.name, target.namespace)
        if fault is not None:
            if fault.action == "timeout":
                await asyncio.sleep(fault.seconds)
                raise ApiError(504, "Timeout", f"{fault.message}: request timed out")
            if fault.code == 409:
                raise errors.conflict(target.rtype.plural, target.rtype.group, target.name, fault.message)
            raise ApiError(fault.code, _REASONS.get(fault.code, "InternalError"), fault.message)
        stale = verb in ("get", "list") and (
            self.faults.take(("stale",), verb, resource, target.name, target.namespace) is not None
        )
        api = self.api
        # Table / PartialObjectMetadata answers (kubectl get); scale and log have no printers.
        rendering = None
        if verb in ("get", "list", "watch") and target.subresource in ("", "status"):
            rendering = tables.negotiate(request.headers.get("Accept", ""), verb)
        if verb == "get":
            if target.subresource == "log":
                return await self._logs(request, target, query)
            if rendering is not None:
                shown = tables.render_object(rendering, target.rtype, api.get(target, stale=stale), query)
                return tables.response(rendering, shown)
            return json_response(api.get(target, stale=stale))
        if verb == "list":
            if rendering is not None:
                listing = api.list(target, query, stale=stale)
                return tables.response(rendering, tables.render_list(rendering, target.rtype, listing, query))
            return json_response(api.list(target, query, stale=stale))
        if verb == "watch":
            render = tables.WatchRenderer(rendering, target.rtype, query) if rendering is not None else None
            return await watch.serve(
                request,
                api,
                self.faults,
                target,
                query,
                bookmark_interval=self.bookmark_interval,
                render=render,
            )
        ctx = self._write_context(request, query)
        raw = await request.read()
        if verb == "create":
            if target.subresource:
                raise errors.method_not_allowed()
            body = api.create(target, parse_body(raw, allow_yaml=_is_yaml(request)), ctx)
            return self._written(body, 201, ctx)
        if verb == "update":
            body = api.update(target, parse_body(raw, allow_yaml=_is_yaml(request)), ctx)
            return self._written(body, 200, ctx)
        if verb == "patch":
            code, body = api.patch(target, raw, request.headers.get("Content-Type", ""), query, ctx)
            return self._written(body, code, ctx)
        options = delete_options(query, json.loads(raw) if raw.strip() else None)
        if verb == "delete":
            return json_response(api.delete(target, options))
        return json_response(api.delete_collection(target, query, options))

    def _write_context(self, request: web.Request, query: dict[str, str]) -> WriteContext:
        dry_run = query.get("dryRun", "")
        if dry_run and dry_run != "All":
            raise errors.bad_request(f'Invalid dry run value "{dry_run}"; only "All" is supported')
        validation = query.get("fieldValidation", "Warn") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f'fieldValidation "{validation}" is not valid: use Ignore, Warn or Strict'
            )
        return WriteContext(_manager(request), bool(dry_run), validation)

    @staticmethod
    def _written(body: Any, code: int, ctx: WriteContext) -> web.Response:
        headers = {"Warning": ", ".join(_warning(w) for w in ctx.warnings)} if ctx.warnings else None
        return json_response(body, status=code, headers=headers)

    async def _logs(self, request: web.Request, target: Target, query: dict[str, str]) -> web.StreamResponse:
        result = await self.api.logs(target, query)
        if isinstance(result, str | bytes):
            data = result.encode() if isinstance(result, str) else result
            return web.Response(body=data, content_type="text/plain")
        stream = web.StreamResponse(status=200)
        stream.content_type = "text/plain"
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        await _pump(stream, result)
        await stream.write_eof()
        return stream

    # -- admin endpoints -----------------------------------------------------------------------------------

    async def _admin(self, request: web.Request, rest: list[str]) -> web.StreamResponse:
        faults = self.faults
        if rest == ["faults"]:
            if request.method == "GET":
                return json_response([f.to_json() for f in faults.list()])
            if request.method == "POST":
                try:
                    fault = faults.add_json(await request.json())
                except (ValueError, TypeError) as exc:
                    raise errors.bad_request(str(exc)) from exc
                return json_response(fault.to_json(), status=201)
            if request.method == "DELETE":
                faults.clear()
                return json_response({"cleared": True})
        if len(rest) == 2 and rest[0] == "faults" and request.method == "DELETE":
            faults.remove(int(rest[1]))
            return json_response({"removed": int(rest[1])})
        if rest == ["requests"]:
            if request.method == "GET":
                return json_response([r.to_json() for r in faults.requests])
            if request.method == "DELETE":
                faults.clear_requests()
                return json_response({"cleared": True})
        if rest == ["compact"] and request.method == "POST":
            self.api.store.compact()
            return json_response({"compactedResourceVersion": str(self.api.store.compacted_rv)})
        raise errors.path_not_found()


async def _pump(stream: web.StreamResponse, chunks: AsyncIterator[bytes]) -> None:
    try:
        async for chunk in chunks:
            await stream.write(chunk.encode() if isinstance(chunk, str) else chunk)
    except ConnectionResetError:
        pass


def _manager(request: web.Request) -> str:
    """The field manager of a write: the explicit one, else the User-Agent's product token."""
    explicit = request.query.get("fieldManager")
    if explicit:
        return explicit
    agent = request.headers.get("User-Agent", "")
    return agent.split("/")[0].strip()[:128] or "unknown"


def _warning(text: str) -> str:
    """One RFC 7234 warning value, as the API server sends them (code 299, quoted and escaped text)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def _is_yaml(request: web.Request) -> bool:
    return "yaml" in request.headers.get("Content-Type", "")


def _raise(error: ApiError) -> Any:
    raise error
