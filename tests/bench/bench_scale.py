"""Scale benchmark (issue 16): a local control plane (etcd + kube-apiserver + kube-controller-manager), the
operator as a separate process, and N SupportCases; prints the figures of the issue against its goals.

    .venv/bin/python tests/bench/bench_scale.py --quick                  # a few minutes
    .venv/bin/python tests/bench/bench_scale.py                          # 10,000 cases, cold start 50,000
    .venv/bin/python tests/bench/bench_scale.py --quick --only raw,throughput --json figures.json

Two clusters, one after the other (each its own control plane, SMTP sink and operator):

- main: 10 contracts (the sample contract, e-mail to a local SMTP sink), 20 namespaces. Raw creates of N
  cases with no operator (then deleted); N cases created as fast as possible with the operator running,
  until all are reconciled (status.observedGeneration == metadata.generation and a Ready condition);
  creates at 20/s with N present (create -> first status from a watch); 30 s with nothing changing;
  /metrics scrapes; a restart; a cold start with M cases.
- shapes: one contract whose access scope selects 2,000 namespaces by label, 10,000 closed + 50 open
  cases; one namespace created or deleted per second for 60 s (API requests from the audit log, operator
  CPU); an alert storm of 200 production incidents in 10 s (all statused and confirmed).

Progress goes to stderr, the table to stdout (and JSON with --json). Speed is never asserted: the exit
code is 1 when the operator crashed or a phase timed out, else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import datetime as dt
import gzip
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from support_resources import condition, sample

from support_operator.api.v1alpha1 import CASE_PLURAL, CONTRACT_PLURAL, GROUP, VERSION
from support_operator.testing.controlplane import LocalControlPlane, free_port
from support_operator.testing.install import OPERATOR_NAMESPACE, install_crds, operator_kubeconfig
from support_operator.testing.operator_process import OperatorProcess
from support_operator.testing.wait import process_alive

# --- names the operator's redesign may change: kept here, in one place ------------------------------------
STATUS_WRITES_METRIC = "support_operator_status_writes_total"  # labels: kind
EMAILS_SENT_METRIC = "support_operator_confirmation_emails_sent_total"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:support-operator"  # deploy/base/rbac
EVENT_SELECTOR = "involvedObject.kind=SupportCase"
READY_CONDITION = "Ready"
BACKGROUND_RESOURCES = frozenset({"leases"})  # leader election renews every 2 s: not a namespace's cost
SCOPE_LABEL = "bench.support.puzzle.ch/scope"
SETTLE_QUIET_SECONDS = 3.0  # "settled": no status writes for this long

PHASES = (
    "raw",
    "throughput",
    "cpu",
    "latency",
    "writes",
    "events",
    "smtp",
    "rss",
    "restart",
    "steady",
    "metrics",
    "cold",
    "namespaces",
    "storm",
)
SHAPE_PHASES = frozenset({"namespaces", "storm"})
NEEDS_POPULATION = frozenset(PHASES) - SHAPE_PHASES - {"raw", "cold"}
# The goal column of issue 16.
GOALS = {
    "raw": "—",
    "throughput": "≥ 50 % of raw",
    "cpu": "≤ 3 ms",
    "latency": "p99 < 0.5 s",
    "writes": "~1 per create",
    "events": "≤ 1 per create",
    "mails": "1 per case",
    "secrets": "a cache, not a GET per mail",
    "rss": "< 300 MB",
    "restart": "< 5 s / — / < 20 s",
    "cold": "linear; < 30 s / < 600 MB",
    "steady": "0",
    "metrics": "< 250 ms",
    "namespaces": "a few requests, not one per binding",
    "storm": "all statused and confirmed",
}

STARTED = time.monotonic()
Obj = dict[str, Any]


class PhaseTimeoutError(RuntimeError):
    """A phase did not finish within --phase-timeout."""


class OperatorCrashedError(RuntimeError):
    """The operator process exited while a phase ran."""


# --- pure helpers (tests/unit/test_bench_scale.py) -------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; NaN without values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def metric_values(text: str, name: str) -> dict[str, float]:
    """Samples of one metric in Prometheus text format, keyed by their label part ('' without labels)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        rest = line[len(name) :]
        if rest[:1] not in ("{", " "):
            continue  # another metric sharing the prefix
        labels, _, value = rest.rpartition("} ") if rest.startswith("{") else ("", "", rest.strip())
        found[labels.lstrip("{")] = float(value.split()[0])
    return found


def label_value(labels: str) -> str:
    """'kind="SupportCase"' -> 'SupportCase': the value of a one-label sample key of metric_values()."""
    return labels.partition("=")[2].strip('"') or labels


def stat_fields(stat: str) -> tuple[int, int, int]:
    """(process group, utime + stime in clock ticks, RSS in pages) from a /proc/<pid>/stat line; the
    command name in parentheses may hold spaces."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[2]), int(fields[11]) + int(fields[12]), int(fields[21])


def audit_requests(lines: Iterable[str], user: str) -> Counter[tuple[str, str]]:
    """Completed requests of `user` in kube-apiserver audit log lines (JSON), by (verb, resource)."""
    counted: Counter[tuple[str, str]] = Counter()
    for line in lines:
        if user not in line:
            continue  # most lines are other users': skip them before parsing
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("stage") != "ResponseComplete" or event.get("user", {}).get("username") != user:
                continue
            resource = (event.get("objectRef") or {}).get("resource") or event.get("requestURI", "")
            counted[(event.get("verb", ""), resource)] += 1
    return counted


def format_table(rows: Sequence[tuple[str, str, str]]) -> str:
    """A Markdown table as in the issue: figure | measured (right-aligned) | goal (right-aligned)."""
    header = ("figure", "measured", "goal")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
    lines = [
        f"| {header[0].ljust(widths[0])} | {header[1].rjust(widths[1])} | {header[2].rjust(widths[2])} |",
        f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 1)}:|{'-' * (widths[2] + 1)}:|",
    ]
    lines += [f"| {f.ljust(widths[0])} | {m.rjust(widths[1])} | {g.rjust(widths[2])} |" for f, m, g in rows]
    return "\n".join(lines)


def seconds(value: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def megabytes(pages: int) -> str:
    return f"{pages * os.sysconf('SC_PAGE_SIZE') / 1e6:.0f} MB"


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


# --- processes ------------------------------------------------------------------------------------------


def group_usage(pgid: int) -> tuple[float, int]:
    """(CPU seconds, RSS pages) of every process in a process group: the operator and any child."""
    cpu = rss = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            group, ticks, pages = stat_fields((entry / "stat").read_text())
        except (OSError, IndexError, ValueError):
            continue
        if group == pgid:
            cpu, rss = cpu + ticks, rss + pages
    return cpu / os.sysconf("SC_CLK_TCK"), rss


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd, as the confirmation tests use) that counts mails."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.received = 0
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self.received += 1
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()


class AuditLog:
    """kube-apiserver's audit log, read from an offset: the operator's requests in a window."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self, offset: int) -> Counter[tuple[str, str]]:
        with self.path.open("rb") as handle:
            handle.seek(offset)
            lines = (line.decode(errors="replace") for line in handle)
            return audit_requests(lines, OPERATOR_USER)


# --- watching and creating cases --------------------------------------------------------------------------


@dataclass
class Seen:
    """When the watch first showed a case with some status, reconciled, and confirmed (monotonic s)."""

    first_status: float | None = None
    reconciled: float | None = None
    confirmed: float | None = None


def reconciled(obj: Obj) -> bool:
    status = obj.get("status") or {}
    current = status.get("observedGeneration") == obj["metadata"].get("generation")
    return bool(current and condition(obj, READY_CONDITION))


class Tracker:
    """Watches every SupportCase and records when status first appears, when it is reconciled and when
    it is confirmed; re-lists after 410 Gone."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.objects = client.CustomObjectsApi(api_client)
        self.cases: dict[str, Seen] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tracker", daemon=True)
        self.synced = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> Tracker:
        self.thread.start()
        if not self.synced.wait(300):
            raise PhaseTimeoutError("the watch of SupportCases did not start")
        return self

    def stop(self) -> None:
        self.stopped.set()

    def _observe(self, kind: str, obj: Obj) -> None:
        now = time.monotonic()
        key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        with self.lock:
            if kind == "DELETED":
                self.cases.pop(key, None)
                return
            seen = self.cases.setdefault(key, Seen())
            status = obj.get("status") or {}
            if status and seen.first_status is None:
                seen.first_status = now
            if seen.reconciled is None and reconciled(obj):
                seen.reconciled = now
            if seen.confirmed is None and status.get("confirmation"):
                seen.confirmed = now

    def _relist(self) -> str:
        token: str | None = None
        names: set[str] = set()
        while True:
            response = self.objects.list_cluster_custom_object(
                GROUP, VERSION, CASE_PLURAL, limit=1000, _continue=token, _preload_content=False
            )
            page = json.loads(response.data)
            for item in page["items"]:
                self._observe("ADDED", item)
                names.add(f"{item['metadata']['namespace']}/{item['metadata']['name']}")
            token = page["metadata"].get("continue")
            if not token:
                with self.lock:
                    for gone in set(self.cases) - names:
                        del self.cases[gone]
                return str(page["metadata"]["resourceVersion"])

    def _run(self) -> None:
        try:
            version = self._relist()
            self.synced.set()
            while not self.stopped.is_set():
                version = self._watch(version)
        except BaseException as error:  # surfaced by the waits
            self.error = error
            self.synced.set()

    def _watch(self, version: str) -> str:
        stream = watch.Watch()
        try:
            for event in stream.stream(
                self.objects.list_cluster_custom_object,
                GROUP,
                VERSION,
                CASE_PLURAL,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=60,
            ):
                if self.stopped.is_set():
                    break
                kind = event["type"]
                if kind == "ERROR":
                    return self._relist()
                if kind != "BOOKMARK":
                    self._observe(kind, event["object"])
                version = stream.resource_version or version
        except ApiException as error:
            if error.status != 410:
                raise
            return self._relist()
        return version

    def count(self) -> int:
        with self.lock:
            return len(self.cases)

    def times(self, keys: Iterable[str], attribute: str) -> list[float | None]:
        with self.lock:
            return [getattr(self.cases.get(k) or Seen(), attribute) for k in keys]


class Creator:
    """Creates objects from a thread pool, one ApiClient per thread, not deserializing the answers: the
    rate is the API server's, not the client's."""

    def __init__(self, kubeconfig: Path, workers: int) -> None:
        self.kubeconfig = kubeconfig
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="create")
        self._local = threading.local()

    def _client(self) -> client.ApiClient:
        api = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = config.new_client_from_config(str(self.kubeconfig))
        return api

    def create_case(self, body: Obj) -> float:
        """Creates one case; returns when the request was sent (monotonic s)."""
        objects = client.CustomObjectsApi(self._client())
        namespace = body["metadata"]["namespace"]
        for attempt in range(5):
            sent = time.monotonic()
            try:
                response = objects.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, CASE_PLURAL, body, _preload_content=False
                )
                response.data  # noqa: B018 - drain the answer so the connection is reused
                return sent
            except ApiException as error:
                if error.status == 409:
                    return sent  # already there: a retried request that had gone through
                if error.status not in (429, 500, 503, 504) or attempt == 4:
                    raise
            time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def bulk(self, bodies: Sequence[Obj], action: Callable[[Obj], float] | None = None) -> list[float]:
        return list(self.pool.map(action or self.create_case, bodies))

    def paced(self, bodies: Sequence[Obj], rate: float) -> list[float]:
        """Submits one create every 1/rate s, whatever the previous ones take."""
        started = time.monotonic()
        futures: list[Future[float]] = []
        for index, body in enumerate(bodies):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(self.pool.submit(self.create_case, body))
        return [f.result() for f in futures]

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def key(body: Obj) -> str:
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


KINDS = (("Incident", "Production"), ("Incident", "NonProduction"), ("Consultation", None))


def case_body(namespace: str, name: str, contract: str, index: int, **spec: Any) -> Obj:
    """An open case; the kind rotates over production incident, other incident and consultation."""
    category, impact = KINDS[index % len(KINDS)]
    body: Obj = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SupportCase",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "contractRef": {"name": contract},
            "title": f"bench case {index}",
            "category": category,
            "reporter": {"name": "Petra Keller", "email": "petra.keller@acme.example"},
            **({"impact": impact} if impact else {}),
            **spec,
        },
    }
    return body


def closed_case_body(namespace: str, name: str, contract: str, index: int) -> Obj:
    """A case closed long ago that carries its billing record (one effort entry)."""
    reported = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC) + dt.timedelta(hours=index % 5000)
    return case_body(
        namespace,
        name,
        contract,
        index,
        state="Closed",
        reportedAt=iso(reported),
        analysisStartedAt=iso(reported + dt.timedelta(minutes=40)),
        effort=[{"id": "e-1", "member": "anna", "date": reported.date().isoformat(), "duration": 45}],
    )


# --- one cluster: control plane, SMTP sink, contracts, the operator -------------------------------------


@dataclass
class Window:
    """What the operator did between two moments: CPU, status writes, Events, mails, API requests."""

    started: float
    cpu: float
    writes: dict[str, float]
    events: int
    mails: int
    audit_offset: int
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    status_writes: dict[str, float] = field(default_factory=dict)
    events_posted: int = 0
    mails_received: int = 0
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def total_writes(self) -> float:
        return sum(self.status_writes.values())

    def foreground(self) -> int:
        return sum(n for (_, resource), n in self.requests.items() if resource not in BACKGROUND_RESOURCES)


class Cluster:
    def __init__(self, name: str, args: argparse.Namespace, workdir: Path) -> None:
        self.name = name
        self.args = args
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True)
        self.plane = LocalControlPlane(workdir=self.workdir / "plane")
        self.smtp = SmtpSink()
        self.operator: OperatorProcess | None = None
        self.tracker: Tracker | None = None
        self.creator: Creator | None = None
        self.operator_log = self.workdir / "operator"

    def __enter__(self) -> Cluster:
        log(f"{self.name}: starting the control plane")
        self.plane.start()
        install_crds(self.plane)
        self.operator_kubeconfig = operator_kubeconfig(
            self.plane, self.plane.kubeconfig, self.workdir / "operator.kubeconfig"
        )
        self.admin = config.new_client_from_config(str(self.plane.kubeconfig))
        self.core = client.CoreV1Api(self.admin)
        self.objects = client.CustomObjectsApi(self.admin)
        self.audit = AuditLog(self.plane.audit_log)
        self.creator = Creator(self.plane.kubeconfig, self.args.workers)
        self.smtp.start()
        self._smtp_secret()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.operator is not None:
            with contextlib.suppress(Exception):
                self.operator.cleanup()
        if self.tracker is not None:
            self.tracker.stop()
        if self.creator is not None:
            self.creator.shutdown()
        self.smtp.stop()
        self.plane.stop()

    def _smtp_secret(self) -> None:
        import base64

        data = {"host": "127.0.0.1", "port": str(self.smtp.port), "security": "none"}
        self.core.create_namespaced_secret(
            OPERATOR_NAMESPACE,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name="bench-smtp"),
                data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            ),
        )

    def contract(self, name: str, **spec: Any) -> None:
        body = copy.deepcopy(sample("supportcontract"))
        body["metadata"] = {"name": name}
        body["spec"]["notification"] = {
            "smtpSecretRef": {"name": "bench-smtp", "namespace": OPERATOR_NAMESPACE},
            "from": "support@puzzle.ch",
        }
        body["spec"].update(spec)
        self.objects.create_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, body)

    def namespaces(self, names: Sequence[str], labels: dict[str, str] | None = None) -> None:
        def make(name: str) -> float:
            self.core.create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
            )
            return 0.0

        assert self.creator is not None
        list(self.creator.pool.map(make, names))

    def track(self) -> Tracker:
        if self.tracker is None:
            self.tracker = Tracker(config.new_client_from_config(str(self.plane.kubeconfig))).start()
        return self.tracker

    # -- the operator --

    def start_operator(self, until: str = "/readyz") -> float:
        """Starts the operator; returns the seconds until `until` answered."""
        self.operator_log.mkdir(exist_ok=True)
        if self.operator is None:
            self.operator = OperatorProcess(kubeconfig=self.operator_kubeconfig, workdir=self.operator_log)
        started = time.monotonic()
        self.operator.start(timeout=self.args.phase_timeout, until=until)
        return time.monotonic() - started

    def stop_operator(self) -> None:
        if self.operator is not None:
            self.operator.stop()

    def check_operator(self) -> None:
        pid = self.operator.pid if self.operator else None
        if pid is not None and not process_alive(pid):
            assert self.operator is not None
            tail = "\n".join(self.operator.log_text().splitlines()[-60:])
            raise OperatorCrashedError(f"the operator exited; the end of its log:\n{tail}")
        if self.tracker is not None and self.tracker.error is not None:
            raise RuntimeError(f"the watch of SupportCases failed: {self.tracker.error!r}")

    def usage(self) -> tuple[float, int]:
        assert self.operator is not None and self.operator.pid is not None
        return group_usage(self.operator.pid)

    def scrape(self) -> str:
        assert self.operator is not None
        request = urllib.request.Request(self.operator.metrics_url, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body: bytes = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
        return body.decode()

    def status_writes(self) -> dict[str, float]:
        return metric_values(self.scrape(), STATUS_WRITES_METRIC)

    def events(self) -> int:
        """Events about SupportCases, in all namespaces."""
        total, token = 0, None
        while True:
            response = self.core.list_event_for_all_namespaces(
                field_selector=EVENT_SELECTOR, limit=1000, _continue=token, _preload_content=False
            )
            page = json.loads(response.data)
            total += len(page["items"])
            token = page["metadata"].get("continue")
            if not token:
                return total

    # -- waiting and windows --

    def wait(self, what: str, done: Callable[[], bool], timeout: float | None = None) -> float:
        """Polls `done` until true; returns the seconds it took. Raises on timeout or a crash."""
        started = time.monotonic()
        limit = timeout if timeout is not None else self.args.phase_timeout
        last_report = started
        while not done():
            self.check_operator()
            now = time.monotonic()
            if now - started > limit:
                raise PhaseTimeoutError(f"{self.name}: {what} not within {limit:.0f} s")
            if now - last_report > 30:
                log(f"{self.name}: still waiting for {what} ({now - started:.0f} s)")
                last_report = now
            time.sleep(0.2)
        return time.monotonic() - started

    def wait_attribute(self, keys: Sequence[str], attribute: str, what: str) -> float:
        tracker = self.track()

        def missing() -> int:
            return sum(t is None for t in tracker.times(keys, attribute))

        return self.wait(f"{what} ({len(keys)} cases)", lambda: missing() == 0)

    def wait_settled(self, keys: Sequence[str] = (), ready: Callable[[], bool] | None = None) -> float:
        """Until every key is reconciled, `ready` holds and the status writes stood still for
        SETTLE_QUIET_SECONDS; returns when the operator settled (monotonic s): its last status write seen."""
        if keys:
            self.wait_attribute(keys, "reconciled", "reconciled")
        last: dict[str, float] | None = None
        changed = time.monotonic()

        def quiet() -> bool:
            nonlocal last, changed
            try:
                writes: dict[str, float] | None = self.status_writes()
            except OSError:
                writes = None  # /metrics not served yet
            if writes is None or writes != last:
                last, changed = writes, time.monotonic()
            if ready is not None and not ready():
                return False
            return time.monotonic() - changed >= SETTLE_QUIET_SECONDS

        self.wait(f"no status writes for {SETTLE_QUIET_SECONDS:.0f} s", quiet)
        return changed

    def window(self) -> Window:
        self.check_operator()
        return Window(
            started=time.monotonic(),
            cpu=self.usage()[0],
            writes=self.status_writes(),
            events=self.events(),
            mails=self.smtp.received,
            audit_offset=self.audit.offset(),
        )

    def close(self, window: Window) -> Window:
        self.check_operator()
        window.seconds = time.monotonic() - window.started
        window.cpu_seconds = self.usage()[0] - window.cpu
        writes = self.status_writes()
        window.status_writes = {k: v - window.writes.get(k, 0.0) for k, v in writes.items()}
        window.events_posted = self.events() - window.events
        window.mails_received = self.smtp.received - window.mails
        window.requests = self.audit.since(window.audit_offset)
        return window


# --- the benchmark ----------------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    measured: str
    goal: str
    values: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.only = set(args.only)
        self.rows: list[Row] = []
        self.failures: list[str] = []
        self.raw_rate: float | None = None

    def wants(self, *phases: str) -> bool:
        return bool(self.only & set(phases))

    def add(self, phase: str, figure: str, measured: str, goal: str | None = None, **values: Any) -> None:
        if phase in self.only or (phase in ("mails", "secrets") and "smtp" in self.only):
            row = Row(figure, measured, goal if goal is not None else GOALS[phase], values)
            self.rows.append(row)
            log(f"figure: {figure}: {measured}")

    def run(self) -> int:
        for name, steps in (("main", self.main), ("shapes", self.shapes)):
            try:
                steps()
            except (PhaseTimeoutError, OperatorCrashedError, RuntimeError) as error:
                self.failures.append(f"{name}: {error}")
                log(f"FAILED {name}: {error}")
        return 1 if self.failures else 0

    # -- main cluster --

    def main(self) -> None:
        if not self.wants(*NEEDS_POPULATION, "raw", "cold"):
            return
        a = self.args
        with Cluster("main", a, self.workdir) as cluster:
            contracts = [f"bench-{i}" for i in range(a.contracts)]
            namespaces = [f"bench-{i:02d}" for i in range(a.namespaces)]
            for name in contracts:
                cluster.contract(name)
            cluster.namespaces(namespaces)

            def bodies(prefix: str, count: int, start: int = 0) -> list[Obj]:
                return [
                    case_body(
                        namespaces[i % len(namespaces)],
                        f"{prefix}-{i:06d}",
                        contracts[i % len(contracts)],
                        i,
                    )
                    for i in range(start, start + count)
                ]

            if self.wants("raw", "throughput"):
                self.raw(cluster, bodies("raw", a.cases), namespaces)
            cluster.track()
            if self.wants(*NEEDS_POPULATION):
                cluster.start_operator()
                log("main: operator ready")
                self.throughput(cluster, bodies("bulk", a.cases))
                if self.wants("latency", "writes", "events", "smtp"):
                    self.latency(cluster, bodies("late", a.latency_cases, a.cases))
                if self.wants("steady"):
                    self.steady(cluster)
                if self.wants("metrics"):
                    self.metrics(cluster)
                if self.wants("rss", "restart"):
                    self.restart(cluster)
                cluster.stop_operator()
            if self.wants("cold"):
                present = cluster.track().count()
                self.cold(cluster, bodies("cold", max(a.cold_cases - present, 0)))

    def raw(self, cluster: Cluster, cases: list[Obj], namespaces: list[str]) -> None:
        assert cluster.creator is not None
        log(f"raw: creating {len(cases)} cases, no operator ({self.args.workers} threads)")
        apiserver = cluster.plane.component("kube-apiserver").process.pid
        etcd = cluster.plane.component("etcd").process.pid
        before = (group_usage(apiserver)[0], group_usage(etcd)[0], time.process_time())
        started = time.monotonic()
        cluster.creator.bulk(cases)
        elapsed = time.monotonic() - started
        used = (group_usage(apiserver)[0], group_usage(etcd)[0], time.process_time())
        cores = [(u - b) / elapsed for u, b in zip(used, before, strict=True)]
        self.raw_rate = len(cases) / elapsed
        self.add(
            "raw",
            f"raw creates of {len(cases):,} SupportCases, no operator",
            f"{self.raw_rate:.0f}/s",
            seconds=elapsed,
            rate=self.raw_rate,
            cores={"kube-apiserver": cores[0], "etcd": cores[1], "client": cores[2]},
        )
        log(
            f"raw: {elapsed:.1f} s; cores used: kube-apiserver {cores[0]:.2f}, etcd {cores[1]:.2f}, "
            f"this client {cores[2]:.2f}"
        )
        for namespace in namespaces:
            cluster.objects.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL)

    def throughput(self, cluster: Cluster, cases: list[Obj]) -> None:
        assert cluster.creator is not None
        keys = [key(b) for b in cases]
        log(f"throughput: creating {len(cases)} cases with the operator running")
        window = cluster.window()
        started = time.monotonic()
        cluster.creator.bulk(cases)
        created = time.monotonic() - started
        log(
            f"throughput: created in {created:.1f} s ({len(cases) / created:.0f}/s); waiting for the operator"
        )
        cluster.wait_attribute(keys, "reconciled", "reconciled")
        last = max(t or 0.0 for t in cluster.track().times(keys, "reconciled"))
        elapsed = last - started
        cluster.wait_settled()
        cluster.close(window)
        rss = cluster.usage()[1]
        rate = len(cases) / elapsed
        share = f"; {100 * rate / self.raw_rate:.0f} % of raw" if self.raw_rate else ""
        self.add(
            "throughput",
            f"all {len(cases):,} reconciled, operator running",
            f"{rate:.1f}/s ({elapsed:.0f} s{share})",
            rate=rate,
            seconds=elapsed,
            create_seconds=created,
            raw_rate=self.raw_rate,
        )
        cpu_ms = 1000 * window.cpu_seconds / len(cases)
        self.add(
            "cpu",
            "operator CPU per case",
            f"{cpu_ms:.1f} ms ({window.cpu_seconds:.0f} s for {len(cases):,})",
            ms_per_case=cpu_ms,
            cpu_seconds=window.cpu_seconds,
        )
        self.per_create(window, len(cases), "bulk")
        log(f"throughput: operator RSS {megabytes(rss)}; requests: {window.requests.most_common(8)}")

    def per_create(self, window: Window, creates: int, label: str) -> None:
        kinds = ", ".join(f"{label_value(k)} {v:,.0f}" for k, v in sorted(window.status_writes.items()) if v)
        secrets_get = window.requests.get(("get", "secrets"), 0)
        self.add(
            "writes",
            f"status writes for {creates:,} creates ({label})",
            f"{window.total_writes / creates:.2f}/create ({window.total_writes:,.0f}: {kinds or '-'})",
            per_create=window.total_writes / creates,
            by_kind=window.status_writes,
        )
        self.add(
            "events",
            f"Events posted for {creates:,} creates ({label})",
            f"{window.events_posted / creates:.2f}/create ({window.events_posted:,})",
            per_create=window.events_posted / creates,
            events=window.events_posted,
        )
        self.add(
            "mails",
            f"SMTP: mails received for {creates:,} creates ({label})",
            f"{window.mails_received:,} ({window.mails_received / creates:.2f}/create)",
            mails=window.mails_received,
        )
        self.add(
            "secrets",
            f"SMTP Secret GETs for {creates:,} creates ({label})",
            f"{secrets_get:,} ({secrets_get / creates:.2f}/create)",
            secret_gets=secrets_get,
        )

    def latency(self, cluster: Cluster, cases: list[Obj]) -> None:
        assert cluster.creator is not None
        rate = self.args.rate
        present = cluster.track().count()
        log(f"latency: creating {len(cases)} cases at {rate:.0f}/s with {present:,} present")
        window = cluster.window()
        sent = cluster.creator.paced(cases, rate)
        keys = [key(b) for b in cases]
        cluster.wait_attribute(keys, "first_status", "a first status")
        cluster.wait_settled(keys)
        cluster.close(window)
        tracker = cluster.track()
        first = [t - s for t, s in zip(tracker.times(keys, "first_status"), sent, strict=True) if t]
        ready = [t - s for t, s in zip(tracker.times(keys, "reconciled"), sent, strict=True) if t]
        p50, p99 = percentile(first, 50), percentile(first, 99)
        self.add(
            "latency",
            f"create → first status at {rate:.0f} creates/s with {present:,} present",
            f"p50 {seconds(p50)}, p99 {seconds(p99)}",
            p50=p50,
            p99=p99,
            reconciled_p50=percentile(ready, 50),
            reconciled_p99=percentile(ready, 99),
        )
        self.per_create(window, len(cases), f"at {rate:.0f}/s")

    def steady(self, cluster: Cluster) -> None:
        log(f"steady: {self.args.steady_seconds:.0f} s with nothing changing")
        window = cluster.window()
        time.sleep(self.args.steady_seconds)
        cluster.close(window)
        log(f"steady: requests by the operator: {window.requests.most_common(10)}")
        self.add(
            "steady",
            f"steady state, nothing changing ({self.args.steady_seconds:.0f} s)",
            f"{window.total_writes:,.0f} writes ({window.foreground()} API requests, "
            f"{window.cpu_seconds:.1f} CPU-s)",
            writes=window.total_writes,
            requests=window.foreground(),
            cpu_seconds=window.cpu_seconds,
        )

    def metrics(self, cluster: Cluster) -> None:
        times = []
        for _ in range(self.args.scrapes):
            started = time.monotonic()
            cluster.scrape()
            times.append(time.monotonic() - started)
        median = statistics.median(times)
        present = cluster.track().count()
        self.add(
            "metrics",
            f"/metrics scrape at {present:,} cases",
            f"{seconds(median)} median",
            median=median,
            scrapes=times,
        )

    def restart(self, cluster: Cluster) -> None:
        present = cluster.track().count()
        rss_before = cluster.usage()[1]
        log(f"restart: stopping and starting the operator with {present:,} cases")
        cluster.stop_operator()
        started = time.monotonic()
        alive = cluster.start_operator(until="/healthz")
        ready_at: list[float] = []

        def ready() -> bool:
            if not ready_at and cluster.operator is not None and cluster.operator.probe("/readyz") == 200:
                ready_at.append(time.monotonic())
            return bool(ready_at)

        settled_at = cluster.wait_settled(ready=ready)
        readyz = ready_at[0] - started
        settled = max(settled_at, ready_at[0]) - started
        rss_after = cluster.usage()[1]
        self.add(
            "rss",
            f"operator RSS at {present:,} cases / after a restart",
            f"{megabytes(rss_before)} / {megabytes(rss_after)}",
            before_pages=rss_before,
            after_pages=rss_after,
        )
        self.add(
            "restart",
            f"restart with {present:,} cases: /healthz / /readyz / settled",
            f"{alive:.1f} s / {readyz:.1f} s / {settled:.1f} s",
            healthz=alive,
            readyz=readyz,
            settled=settled,
        )

    def cold(self, cluster: Cluster, extra: list[Obj]) -> None:
        assert cluster.creator is not None
        cluster.stop_operator()
        present = cluster.track().count() + len(extra)
        if extra:
            log(f"cold: creating {len(extra):,} more cases, no operator")
            cluster.creator.bulk(extra)
            cluster.wait("the watch to show every case", lambda: cluster.track().count() >= present)
        log(f"cold: starting the operator with {present:,} cases")
        ready = cluster.start_operator(until="/readyz")
        rss = cluster.usage()[1]
        self.add(
            "cold",
            f"cold start with {present:,} cases: /readyz / RSS",
            f"{ready:.1f} s / {megabytes(rss)}",
            readyz=ready,
            rss_pages=rss,
            cases=present,
        )
        cluster.stop_operator()

    # -- shapes cluster --

    def shapes(self) -> None:
        if not self.wants(*SHAPE_PHASES):
            return
        a = self.args
        with Cluster("shapes", a, self.workdir) as cluster:
            scoped = [f"scope-{i:04d}" for i in range(a.scope_namespaces)]
            log(
                f"shapes: {len(scoped)} scoped namespaces, "
                f"{a.closed_cases} closed + {a.open_cases} open cases"
            )
            cluster.namespaces(scoped, {SCOPE_LABEL: "yes"})
            cluster.contract(
                "scoped",
                access={
                    **sample("supportcontract")["spec"]["access"],
                    "scope": {"namespaceSelector": {"matchLabels": {SCOPE_LABEL: "yes"}}},
                },
            )
            assert cluster.creator is not None
            closed = [
                closed_case_body(scoped[i % len(scoped)], f"closed-{i:06d}", "scoped", i)
                for i in range(a.closed_cases)
            ]
            opened = [
                case_body(scoped[(7 * i) % len(scoped)], f"open-{i:04d}", "scoped", i)
                for i in range(a.open_cases)
            ]
            cluster.creator.bulk(closed + opened)
            cluster.track()
            startup = cluster.start_operator()
            log(f"shapes: operator ready in {startup:.1f} s; waiting for access and every case")
            started = time.monotonic()
            cluster.wait("AccessProvisioned", lambda: self._provisioned(cluster))
            settled = cluster.wait_settled([key(b) for b in closed + opened]) - started
            log(f"shapes: settled {settled:.0f} s after /readyz")
            if self.wants("namespaces"):
                self.namespace_churn(cluster)
            if self.wants("storm"):
                self.storm(cluster, scoped)

    def _provisioned(self, cluster: Cluster) -> bool:
        found = cluster.objects.get_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, "scoped")
        return (condition(found, "AccessProvisioned") or {}).get("status") == "True"

    def _quiet_audit(self, cluster: Cluster, quiet: float = 5.0, cap: float = 120.0) -> None:
        """Until the operator sent no request (but Lease renewals) for `quiet` s; gives up after `cap`."""
        started = time.monotonic()
        offset = cluster.audit.offset()
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            cluster.check_operator()
            if time.monotonic() - started > cap:
                log(f"shapes: the operator did not fall quiet within {cap:.0f} s; measuring anyway")
                return
            time.sleep(1)
            requests = cluster.audit.since(offset)
            offset = cluster.audit.offset()
            if any(r not in BACKGROUND_RESOURCES for (_, r) in requests):
                last = time.monotonic()

    def namespace_churn(self, cluster: Cluster) -> None:
        duration = self.args.churn_seconds
        self._quiet_audit(cluster)
        log(f"namespaces: one namespace created or deleted per second for {duration:.0f} s")
        window = cluster.window()
        started = time.monotonic()
        created: list[str] = []
        events = 0
        while time.monotonic() - started < duration:
            if events % 2 == 0:
                name = f"churn-{events:04d}"
                cluster.core.create_namespace(
                    client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={SCOPE_LABEL: "yes"}))
                )
                created.append(name)
            else:
                cluster.core.delete_namespace(created.pop())
            events += 1
            time.sleep(max(0.0, started + events - time.monotonic()))
        self._quiet_audit(cluster)
        cluster.close(window)
        requests = window.foreground()
        busy = window.cpu_seconds / window.seconds
        self.add(
            "namespaces",
            f"1 namespace event/s, {self.args.scope_namespaces:,} scoped namespaces, "
            f"{self.args.closed_cases:,} closed + {self.args.open_cases} open cases: API requests/event",
            f"{requests / events:.1f} ({requests:,} for {events})",
            requests=requests,
            namespace_events=events,
            by_request={f"{v} {r}": n for (v, r), n in window.requests.most_common()},
        )
        self.add(
            "namespaces",
            "… operator CPU during the namespace events (and their catch-up)",
            f"{window.cpu_seconds:.1f} s in {window.seconds:.0f} s ({100 * busy:.0f} % of a core)",
            goal="—",
            cpu_seconds=window.cpu_seconds,
            seconds=window.seconds,
        )
        log(f"namespaces: requests by the operator: {window.requests.most_common(10)}")

    def storm(self, cluster: Cluster, scoped: list[str]) -> None:
        assert cluster.creator is not None
        count, seconds_ = self.args.storm_cases, self.args.storm_seconds
        log(f"storm: {count} production incidents in {seconds_:.0f} s")
        cases = [
            case_body(
                scoped[(13 * i) % len(scoped)],
                f"alert-{i:04d}",
                "scoped",
                0,  # KINDS[0]: a production incident
                title=f"Alert KubePodCrashLooping #{i}",
                reportedVia="Alert",
            )
            for i in range(count)
        ]
        keys = [key(b) for b in cases]
        window = cluster.window()
        sent = cluster.creator.paced(cases, count / seconds_)
        cluster.wait_attribute(keys, "reconciled", "statused")
        cluster.wait_attribute(keys, "confirmed", "confirmed")
        cluster.close(window)
        confirmed = [t - s for t, s in zip(cluster.track().times(keys, "confirmed"), sent, strict=True) if t]
        statused = [t - s for t, s in zip(cluster.track().times(keys, "reconciled"), sent, strict=True) if t]
        self.add(
            "storm",
            f"alert storm, {count} cases in {seconds_:.0f} s: statused / confirmed, p99 create → confirmed",
            f"{len(statused)} / {len(confirmed)}, p99 {seconds(percentile(confirmed, 99))} "
            f"(p50 {seconds(percentile(confirmed, 50))}; {window.mails_received} mails)",
            statused=len(statused),
            confirmed=len(confirmed),
            confirmed_p50=percentile(confirmed, 50),
            confirmed_p99=percentile(confirmed, 99),
            statused_p99=percentile(statused, 99),
            mails=window.mails_received,
        )


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, help="N: cases of the bulk phase (default 10000; quick 500)")
    parser.add_argument(
        "--cold-cases", type=int, help="M: cases at the cold start (default 50000; quick 1000)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: the whole run in a few minutes")
    parser.add_argument(
        "--only", default=",".join(PHASES), help=f"comma-separated phases of: {','.join(PHASES)}"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--contracts", type=int, default=10)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--latency-cases", type=int, help="cases created at --rate (default 1200; quick 200)")
    parser.add_argument("--rate", type=float, default=20.0, help="creates per second of the latency phase")
    parser.add_argument(
        "--scope-namespaces", type=int, help="namespaces in the access scope (2000; quick 200)"
    )
    parser.add_argument(
        "--closed-cases", type=int, help="closed cases of the scoped contract (10000; quick 1000)"
    )
    parser.add_argument("--open-cases", type=int, default=50)
    parser.add_argument("--churn-seconds", type=float, help="namespace events, one per second (60; quick 20)")
    parser.add_argument("--storm-cases", type=int, default=200)
    parser.add_argument("--storm-seconds", type=float, default=10.0)
    parser.add_argument("--steady-seconds", type=float, help="nothing changing (30; quick 10)")
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--workers", type=int, default=8, help="threads creating objects")
    parser.add_argument("--phase-timeout", type=float, default=3600.0, help="seconds a wait may take")
    parser.add_argument(
        "--workdir", type=Path, help="keep control plane logs, audit logs and operator logs here"
    )
    args = parser.parse_args(argv)
    defaults = {
        "cases": (10_000, 500),
        "cold_cases": (50_000, 1_000),
        "latency_cases": (1_200, 200),
        "scope_namespaces": (2_000, 200),
        "closed_cases": (10_000, 1_000),
        "churn_seconds": (60.0, 20.0),
        "steady_seconds": (30.0, 10.0),
    }
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.only = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(args.only) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; known: {','.join(PHASES)}")
    return args


def report(bench: Bench, args: argparse.Namespace) -> None:
    print(format_table([(r.figure, r.measured, r.goal) for r in bench.rows]))
    for failure in bench.failures:
        print(f"\nFAILED: {failure.splitlines()[0]}")
    if args.json:
        parameters = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        document = {
            "parameters": parameters,
            "rows": [dataclasses.asdict(r) for r in bench.rows],
            "failures": bench.failures,
        }
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")


@contextlib.contextmanager
def folder(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as made:
        yield Path(made)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    with folder(args.workdir) as workdir:
        bench = Bench(args, workdir)
        try:
            code = bench.run()
        finally:
            report(bench, args)
    return code


if __name__ == "__main__":
    sys.exit(main())
