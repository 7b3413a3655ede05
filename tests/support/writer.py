"""The safety proof of every day-2 test: continuous writer, verifier, election counter, quorum monitor.

`ContinuousWriter` creates `<root>/w-0`, `<root>/w-1`, ... one at a time through its own kazoo client and
records what ZooKeeper told it about each attempt:

- acknowledged: `create` returned; the write is committed by a quorum and must survive anything the operator
  does. Kept with its `czxid`, so a node deleted and re-created behind our back is caught too.
- acknowledged late: an attempt of n ended uncertain and a retry of the same n got `NodeExists` whose data is
  ours: the earlier attempt did land. Counted as acknowledged (it is committed), flagged `late`.
- failed: a definite refusal (`NoNode`, `NoAuth`, `NodeExists` with no earlier uncertain attempt of n, ...):
  the create did not happen. The writer moves on to n + 1.
- uncertain: connection loss, session expiry, a time-out: it may or may not have landed. The writer retries
  the same n until it gets a definite answer, so at most the last n is left uncertain when it stops.

`verify_no_loss` reads the tree back through a fresh client after `sync` and checks both directions: every
acknowledged n is present with its data and `czxid`, and every present n was acknowledged or uncertain.

`ElectionCounter` counts leader elections from the zxid epoch (the high 32 bits), which every established
leader increments. Caveat: followers do not report the current epoch until the first write committed in it
(a freshly started follower reports 0x0; one that lived through an election keeps reporting the old epoch's
last zxid). Measured on ZooKeeper 3.8.0: the leader reports `<epoch>00000000` as soon as it serves. So a
reading is the maximum over all serving members, taken only while some member serves as leader; for good
measure keep a `ContinuousWriter` running across the window, so every member is in the current epoch.

`QuorumMonitor` polls every ~0.2 s whether some member leads and records the leaderless intervals and the
sequence of leaders: "the voting membership never lost quorum", checked loosely (a poll can miss a gap shorter
than its interval).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from kazoo.client import KazooClient
from kazoo.exceptions import (
    AuthFailedError,
    BadArgumentsError,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
)
from kazoo.retry import KazooRetry

from zkop.zookeeper.membership import CLIENT_PORT, SECURE_CLIENT_PORT
from zkop.zookeeper.observe import PLAIN, Dial, EnsembleState, observe_ensemble

Outcome = Literal["acknowledged", "acknowledged-late", "failed", "uncertain"]
HostSource = Callable[[], Sequence[str]] | Sequence[str]
AddressSource = Callable[[], Mapping[int, str | None]] | Mapping[int, str | None]

# Server answers that prove the create did not happen. Anything else (ConnectionLoss, SessionExpired,
# OperationTimeout, SessionMoved, a client-side time-out, an unexpected exception) leaves the outcome unknown.
_DEFINITE_REFUSALS: tuple[type[BaseException], ...] = (
    NoNodeError,
    NoAuthError,
    BadArgumentsError,
    InvalidACLError,
    NoChildrenForEphemeralsError,
    AuthFailedError,
)
_CHILD = re.compile(r"^w-(\d+)$")


def _host_list(hosts: HostSource) -> list[str]:
    return list(hosts() if callable(hosts) else hosts)


def _connect_string(hosts: Iterable[str], port: int = CLIENT_PORT) -> str:
    return ",".join(h if ":" in h else f"{h}:{port}" for h in hosts)


class TlsSource(Protocol):
    """A client certificate: ClientTls, or files that follow a Secret (tests/support/tls.py)."""

    def kazoo_args(self) -> dict[str, Any]: ...


def _fast_client(
    hosts: Sequence[str],
    session_timeout: float,
    tls: TlsSource | None = None,
    auth: list[tuple[str, str]] | None = None,
) -> KazooClient:
    """A kazoo client tuned for fast failover: retry connecting forever, quickly, and never retry commands
    behind the caller's back (the caller must see every ConnectionLoss to classify it). With `tls` it
    connects to the TLS port with that client certificate."""
    return KazooClient(
        hosts=_connect_string(hosts, SECURE_CLIENT_PORT if tls else CLIENT_PORT),
        **(tls.kazoo_args() if tls else {}),
        auth_data=auth,
        timeout=session_timeout,
        connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_jitter=0.3, max_delay=0.5),
        command_retry=None,
    )


def _close(client: KazooClient) -> None:
    with contextlib.suppress(Exception):
        client.stop()
    with contextlib.suppress(Exception):
        client.close()


def _ranges(ns: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> "w-1..w-3, w-7"."""
    parts: list[str] = []
    ordered = sorted(ns)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(f"w-{ordered[i]}" if i == j else f"w-{ordered[i]}..w-{ordered[j]}")
        i = j + 1
    return ", ".join(parts)


@dataclass(frozen=True)
class Attempt:
    """One create of `<root>/w-<n>` and what ZooKeeper said. Times are `time.monotonic()`."""

    n: int
    outcome: Outcome
    started: float
    finished: float
    error: str | None = None
    czxid: int | None = None


@dataclass(frozen=True)
class Ack:
    """An acknowledged write: n, the zxid that created it, and when the writer learned of it."""

    n: int
    czxid: int
    at: float
    late: bool = False


@dataclass(frozen=True)
class Stall:
    """A gap between consecutive acknowledged writes longer than the writer's `stall_threshold`.

    `after` is the last n acknowledged before the gap. `open` marks the trailing gap from the last
    acknowledgement to stop (or now). The time before the first acknowledgement is not a stall.
    """

    start: float
    end: float
    after: int
    open: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start


class ContinuousWriter:
    """Background writer of `<root>/w-<n>` (data `str(n)`), one create at a time; see the module docstring.

    `hosts()` is called about every `refresh_every` seconds and the client's host list updated (pod IPs change
    when pods are recreated); kazoo uses the new list at its next reconnect. Entries are `ip` or `ip:port`.
    """

    def __init__(
        self,
        hosts: Callable[[], Sequence[str]],
        root: str = "/zkop-writer",
        interval: float = 0.02,
        *,
        session_timeout: float = 6.0,
        op_timeout: float = 3.0,
        connect_timeout: float = 30.0,
        refresh_every: float = 1.0,
        stall_threshold: float = 0.25,
        tls: TlsSource | None = None,
        auth: list[tuple[str, str]] | None = None,
    ) -> None:
        self.hosts = hosts
        self.tls = tls
        self.auth = auth
        self.root = root.rstrip("/") or "/"
        self.interval = interval
        self.session_timeout = session_timeout
        self.op_timeout = op_timeout
        self.connect_timeout = connect_timeout
        self.refresh_every = refresh_every
        self.stall_threshold = stall_threshold
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: KazooClient | None = None
        self._attempts: list[Attempt] = []
        self._acks: dict[int, Ack] = {}
        self._ack_order: list[Ack] = []
        self._uncertain: set[int] = set()  # n with an uncertain attempt and no definite answer since
        self._failed: set[int] = set()
        self._host_lists: list[list[str]] = []
        self._host_errors: list[str] = []
        self._crash: BaseException | None = None
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def path(self, n: int) -> str:
        return f"{self.root}/w-{n}"

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> ContinuousWriter:
        """Connect (bounded by `connect_timeout`), create `root` (it must hold no children), start writing."""
        if self._thread is not None:
            raise RuntimeError("writer already started")
        initial = _host_list(self.hosts)
        if not initial:
            raise ValueError("hosts() returned no hosts")
        client = _fast_client(initial, self.session_timeout, self.tls, self.auth)
        try:
            client.start(timeout=self.connect_timeout)
            retry = KazooRetry(max_tries=20, delay=0.1, max_delay=1.0, deadline=self.connect_timeout)
            retry(client.ensure_path, self.root)
            existing = retry(client.get_children, self.root)
        except BaseException:
            _close(client)
            raise
        if existing:
            _close(client)
            raise ValueError(f"{self.root} already has {len(existing)} children: use a fresh root")
        self._client = client
        self._host_lists.append(initial)
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"zk-writer{self.root}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """Stop writing, join the thread (bounded), close the client. Re-raises a crash of the thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"writer thread did not stop within {timeout}s")
        if self.stopped_at is None and self.started_at is not None:
            self.stopped_at = time.monotonic()
        if self._client is not None:
            _close(self._client)
            self._client = None
        if self._crash is not None:
            raise RuntimeError("the writer thread crashed") from self._crash

    def __enter__(self) -> ContinuousWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the loop ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        client = self._client
        assert client is not None
        try:
            n = 0
            next_refresh = time.monotonic() + self.refresh_every
            while not self._stop.is_set():
                if time.monotonic() >= next_refresh:
                    self._refresh_hosts(client)
                    next_refresh = time.monotonic() + self.refresh_every
                if not client.connected:
                    # Queuing creates while disconnected only makes more uncertain outcomes: wait instead.
                    self._stop.wait(0.01)
                    continue
                attempt = self._attempt(client, n)
                with self._lock:
                    self._record(attempt)
                if attempt.outcome != "uncertain":
                    n += 1
                self._stop.wait(self.interval)
        except BaseException as exc:  # a bug in the harness: surface it from stop()
            self._crash = exc
        finally:
            self.stopped_at = time.monotonic()

    def _refresh_hosts(self, client: KazooClient) -> None:
        try:
            hosts = _host_list(self.hosts)
        except Exception as exc:
            self._host_errors.append(f"{type(exc).__name__}: {exc}")
            return
        if hosts and hosts != self._host_lists[-1]:
            client.set_hosts(_connect_string(hosts))
            self._host_lists.append(hosts)

    def _attempt(self, client: KazooClient, n: int) -> Attempt:
        path, data = self.path(n), str(n).encode()
        started = time.monotonic()

        def done(outcome: Outcome, error: str | None = None, czxid: int | None = None) -> Attempt:
            return Attempt(n, outcome, started, time.monotonic(), error, czxid)

        try:
            _, stat = client.create_async(path, data, include_data=True).get(timeout=self.op_timeout)
            return done("acknowledged", czxid=int(stat.czxid))
        except NodeExistsError as exc:
            with self._lock:
                retried = n in self._uncertain
            if not retried:
                return done("failed", f"NodeExists on a first attempt: {exc!r}")
            # An earlier attempt of n may have landed: read it to be sure it is ours.
            try:
                got, stat = client.get_async(path).get(timeout=self.op_timeout)
            except Exception as read_exc:
                return done("uncertain", f"NodeExists, then {read_exc!r}")
            if got != data:
                return done("failed", f"NodeExists with foreign data {got!r}")
            return done("acknowledged-late", czxid=int(stat.czxid))
        except _DEFINITE_REFUSALS as exc:
            return done("failed", repr(exc))
        except Exception as exc:  # ConnectionLoss, SessionExpired, time-outs, ...: unknown outcome
            return done("uncertain", repr(exc))

    def _record(self, attempt: Attempt) -> None:
        self._attempts.append(attempt)
        n = attempt.n
        if attempt.outcome in ("acknowledged", "acknowledged-late"):
            assert attempt.czxid is not None
            ack = Ack(n, attempt.czxid, attempt.finished, late=attempt.outcome == "acknowledged-late")
            self._acks[n] = ack
            self._ack_order.append(ack)
            self._uncertain.discard(n)
        elif attempt.outcome == "uncertain":
            self._uncertain.add(n)
        elif n not in self._uncertain:  # a failure after an uncertain attempt leaves n uncertain
            self._failed.add(n)

    # -- results -----------------------------------------------------------------------------------------

    @property
    def acknowledged(self) -> list[int]:
        """Every n whose create was acknowledged (directly or late), in order."""
        with self._lock:
            return [a.n for a in self._ack_order]

    @property
    def acks(self) -> dict[int, Ack]:
        with self._lock:
            return dict(self._acks)

    @property
    def acknowledged_late(self) -> list[int]:
        with self._lock:
            return [a.n for a in self._ack_order if a.late]

    @property
    def uncertain(self) -> list[int]:
        """Every n whose outcome is still unknown: it may or may not be in the tree."""
        with self._lock:
            return sorted(self._uncertain)

    @property
    def failed(self) -> list[int]:
        """Every n that ZooKeeper definitely refused (and that had no uncertain attempt)."""
        with self._lock:
            return sorted(self._failed)

    @property
    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    @property
    def uncertain_attempts(self) -> list[Attempt]:
        with self._lock:
            return [a for a in self._attempts if a.outcome == "uncertain"]

    @property
    def host_lists(self) -> list[list[str]]:
        """Each distinct host list the client was given, in order."""
        return [list(h) for h in self._host_lists]

    @property
    def host_errors(self) -> list[str]:
        return list(self._host_errors)

    def _gaps(self) -> list[Stall]:
        with self._lock:
            acks = list(self._ack_order)
        gaps = [Stall(a.at, b.at, a.n) for a, b in itertools.pairwise(acks)]
        if acks:
            end = self.stopped_at if self.stopped_at is not None else time.monotonic()
            gaps.append(Stall(acks[-1].at, max(end, acks[-1].at), acks[-1].n, open=True))
        return gaps

    @property
    def max_stall(self) -> float:
        """The longest time, in seconds, between two consecutive acknowledgements while running, including the
        trailing gap from the last acknowledgement to stop (so a writer that never recovers shows a stall).
        Connecting and the first write are not counted. 0.0 before the first acknowledgement."""
        return max((g.duration for g in self._gaps()), default=0.0)

    @property
    def stalls(self) -> list[Stall]:
        """Every gap between consecutive acknowledgements longer than `stall_threshold`, in order."""
        return [g for g in self._gaps() if g.duration > self.stall_threshold]

    def wait_for_acks(self, count: int, timeout: float = 30.0) -> int:
        """Block until at least `count` more writes are acknowledged than now (bounded); return the total."""
        target = len(self.acknowledged) + count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            total = len(self.acknowledged)
            if total >= target:
                return total
            if self._crash is not None or (self._thread is not None and not self._thread.is_alive()):
                raise RuntimeError("writer is not running") from self._crash
            time.sleep(0.02)
        raise AssertionError(
            f"writer acknowledged {len(self.acknowledged)} writes, wanted {target} within {timeout}s; "
            f"last attempts: {self.attempts[-3:]}"
        )

    def summary(self) -> str:
        return (
            f"{len(self.attempts)} attempts, {len(self.acknowledged)} acknowledged "
            f"({len(self.acknowledged_late)} late), {len(self.uncertain)} uncertain, "
            f"{len(self.failed)} failed, "
            f"max stall {self.max_stall:.3f}s, {len(self.stalls)} stalls"
        )


# -- verification --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What the tree holds compared with what the writer was told. `ok` iff nothing is missing, corrupted,
    replaced or invented."""

    root: str
    acknowledged: int
    uncertain: int
    failed: int
    present: int
    missing: tuple[int, ...] = ()  # acknowledged, not in the tree: LOST
    corrupted: tuple[tuple[int, bytes], ...] = ()  # acknowledged, present with other data
    replaced: tuple[tuple[int, int, int], ...] = ()  # (n, acked czxid, czxid now): deleted, re-created
    invented: tuple[int, ...] = ()  # present, but never acknowledged nor uncertain
    uncertain_landed: tuple[int, ...] = ()  # uncertain and present (fine: it did land)
    uncertain_absent: tuple[int, ...] = ()  # uncertain and absent (fine: it did not)
    foreign: tuple[str, ...] = ()  # children not named w-<n> (reported, not a failure)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupted or self.replaced or self.invented)

    def describe(self) -> str:
        lines = [
            f"{self.root}: {self.acknowledged} acknowledged, {self.uncertain} uncertain "
            f"({len(self.uncertain_landed)} landed), {self.failed} failed, {self.present} present"
        ]
        if self.missing:
            lines.append(f"LOST {len(self.missing)} acknowledged writes: {_ranges(self.missing)}")
        if self.corrupted:
            corrupted = ", ".join(f"w-{n}={d!r}" for n, d in self.corrupted)
            lines.append(f"acknowledged writes with other data: {corrupted}")
        if self.replaced:
            lines.append(
                "acknowledged writes deleted and re-created: "
                + ", ".join(f"w-{n} (czxid {a:#x} -> {b:#x})" for n, a, b in self.replaced)
            )
        if self.invented:
            lines.append(f"present but never acknowledged nor uncertain: {_ranges(self.invented)}")
        if self.foreign:
            lines.append(f"foreign children: {', '.join(self.foreign)}")
        return "\n".join(lines)


def verify_no_loss(writer: ContinuousWriter, hosts: HostSource, timeout: float = 30.0) -> Verification:
    """Read `writer.root` back through a fresh client (after `sync`) and compare with the writer's record.

    Call after `writer.stop()`. Every acknowledged n must be present with data `str(n)` and the czxid it was
    acknowledged with; every present n must have been acknowledged or uncertain.
    """
    if writer.running:
        raise RuntimeError("stop the writer before verifying")
    acks = writer.acks
    uncertain = set(writer.uncertain)
    client = _fast_client(_host_list(hosts), writer.session_timeout, writer.tls, writer.auth)
    retry = KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0, deadline=timeout)
    try:
        client.start(timeout=timeout)
        retry(client.sync, writer.root)
        children = retry(client.get_children, writer.root)
        present: dict[int, tuple[bytes, int]] = {}
        foreign: list[str] = []
        for child in children:
            match = _CHILD.match(child)
            if not match:
                foreign.append(child)
                continue
            try:
                data, stat = retry(client.get, f"{writer.root}/{child}")
            except NoNodeError:
                continue  # deleted since the listing: then it is simply absent
            present[int(match.group(1))] = (data, int(stat.czxid))
    finally:
        _close(client)
    missing = sorted(n for n in acks if n not in present)
    corrupted = sorted((n, present[n][0]) for n in acks if n in present and present[n][0] != str(n).encode())
    replaced = sorted(
        (n, acks[n].czxid, present[n][1]) for n in acks if n in present and present[n][1] != acks[n].czxid
    )
    invented = sorted(n for n in present if n not in acks and n not in uncertain)
    return Verification(
        root=writer.root,
        acknowledged=len(acks),
        uncertain=len(uncertain),
        failed=len(writer.failed),
        present=len(present),
        missing=tuple(missing),
        corrupted=tuple(corrupted),
        replaced=tuple(replaced),
        invented=tuple(invented),
        uncertain_landed=tuple(sorted(n for n in uncertain if n in present)),
        uncertain_absent=tuple(sorted(n for n in uncertain if n not in present)),
        foreign=tuple(sorted(foreign)),
    )


def assert_no_acknowledged_write_lost(
    writer: ContinuousWriter, hosts: HostSource, timeout: float = 30.0
) -> Verification:
    """`verify_no_loss`, raising AssertionError that lists the lost (and any corrupted or invented) writes."""
    verification = verify_no_loss(writer, hosts, timeout)
    if not verification.ok:
        raise AssertionError(f"acknowledged writes lost or altered\n{verification.describe()}")
    return verification


# -- elections and quorum ------------------------------------------------------------------------------------


def _addresses(addresses: AddressSource) -> Mapping[int, str | None]:
    return addresses() if callable(addresses) else addresses


def observe_now(addresses: AddressSource, timeout: float = 1.0, dial: Dial = PLAIN) -> EnsembleState:
    """One synchronous observation (a private event loop: callable from any thread)."""
    return asyncio.run(observe_ensemble(_addresses(addresses), timeout=timeout, dial=dial))


def epoch_of(zxid: int) -> int:
    return zxid >> 32


def current_epoch(
    addresses: AddressSource, timeout: float = 30.0, observe_timeout: float = 1.0, dial: Dial = PLAIN
) -> int:
    """The highest zxid epoch any serving member reports, once a leader serves and some zxid is non-zero.

    Bounded by `timeout` (AssertionError). See the module docstring: only meaningful after a write in the
    current epoch.
    """
    deadline = time.monotonic() + timeout
    last: EnsembleState | None = None
    while True:
        last = observe_now(addresses, observe_timeout, dial)
        zxids = [m.zxid for m in last.members if m.serving and m.zxid]
        if last.leaders and zxids:
            return max(epoch_of(z) for z in zxids)
        if time.monotonic() >= deadline:
            raise AssertionError(f"no serving leader with a zxid within {timeout}s; last: {last}")
        time.sleep(0.1)


@dataclass
class ElectionCounter:
    """Leader elections between `begin` and `end`, from the zxid epoch. Needs a write after the last election
    before each reading (see the module docstring); a running ContinuousWriter provides it."""

    timeout: float = 30.0
    observe_timeout: float = 1.0
    dial: Dial = PLAIN
    begin_epoch: int | None = None
    end_epoch: int | None = None

    def begin(self, addresses: AddressSource) -> int:
        self.begin_epoch = current_epoch(addresses, self.timeout, self.observe_timeout, self.dial)
        self.end_epoch = None
        return self.begin_epoch

    def end(self, addresses: AddressSource) -> int:
        if self.begin_epoch is None:
            raise RuntimeError("end() before begin()")
        self.end_epoch = current_epoch(addresses, self.timeout, self.observe_timeout, self.dial)
        return self.end_epoch

    @property
    def elections(self) -> int:
        if self.begin_epoch is None or self.end_epoch is None:
            raise RuntimeError("call begin() and end() first")
        return self.end_epoch - self.begin_epoch


@dataclass(frozen=True)
class Sample:
    at: float
    leaders: tuple[int, ...]  # ids of members saying they lead (two, briefly, around a reconfig)


@dataclass(frozen=True)
class LeaderlessGap:
    """From the first poll that saw no leader to the next poll that saw one (or the monitor's stop: `open`).
    Accurate to about one poll interval."""

    start: float
    end: float
    polls: int
    open: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start


class QuorumMonitor:
    """Polls every `interval` whether a member leads; records the leaderless gaps and the leader sequence."""

    def __init__(
        self,
        addresses: AddressSource,
        interval: float = 0.2,
        observe_timeout: float = 1.0,
        dial: Dial = PLAIN,
    ) -> None:
        self.dial = dial
        self.addresses = addresses
        self.interval = interval
        self.observe_timeout = observe_timeout
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._samples: list[Sample] = []
        self._errors: list[str] = []
        self._crash: BaseException | None = None
        self.stopped_at: float | None = None

    def start(self) -> QuorumMonitor:
        if self._thread is not None:
            raise RuntimeError("monitor already started")
        self._thread = threading.Thread(target=self._run, name="zk-quorum-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"quorum monitor did not stop within {timeout}s")
        if self.stopped_at is None:
            self.stopped_at = time.monotonic()
        if self._crash is not None:
            raise RuntimeError("the quorum monitor crashed") from self._crash

    def __enter__(self) -> QuorumMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    state = observe_now(self.addresses, self.observe_timeout, self.dial)
                    leaders = tuple(m.id for m in state.leaders)
                except Exception as exc:  # e.g. the address source failed: no evidence of a leader
                    self._errors.append(f"{type(exc).__name__}: {exc}")
                    leaders = ()
                with self._lock:
                    self._samples.append(Sample(time.monotonic(), leaders))
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))
        except BaseException as exc:
            self._crash = exc
        finally:
            self.stopped_at = time.monotonic()

    @property
    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    @property
    def errors(self) -> list[str]:
        return list(self._errors)

    @property
    def leaders(self) -> list[int]:
        """Leader ids in the order seen, consecutive repeats collapsed (e.g. [2, 3] after 2 was killed)."""
        seen: list[int] = []
        for sample in self.samples:
            for leader in sample.leaders:
                if not seen or seen[-1] != leader:
                    seen.append(leader)
        return seen

    @property
    def leaderless(self) -> list[LeaderlessGap]:
        gaps: list[LeaderlessGap] = []
        start: float | None = None
        polls = 0
        for sample in self.samples:
            if not sample.leaders:
                if start is None:
                    start, polls = sample.at, 0
                polls += 1
            elif start is not None:
                gaps.append(LeaderlessGap(start, sample.at, polls))
                start = None
        if start is not None:
            end = self.stopped_at if self.stopped_at is not None else time.monotonic()
            gaps.append(LeaderlessGap(start, max(end, start), polls, open=True))
        return gaps

    @property
    def longest_leaderless(self) -> float:
        return max((g.duration for g in self.leaderless), default=0.0)


__all__ = [
    "Ack",
    "AddressSource",
    "Attempt",
    "ContinuousWriter",
    "ElectionCounter",
    "HostSource",
    "LeaderlessGap",
    "QuorumMonitor",
    "Sample",
    "Stall",
    "Verification",
    "assert_no_acknowledged_write_lost",
    "current_epoch",
    "epoch_of",
    "observe_now",
    "verify_no_loss",
]
