"""The chaos suite (`make chaos`; a short run is part of `make test`): a support workload on a real local
control plane while operators, kube-apiserver and etcd are killed at random moments, then the invariants.

Workload: cases of every priority created over the run, acknowledged, resolved, effort booked, a member
removed and one added, a namespace labelled into and out of the access scope. Faults: SIGKILLs of random
replicas of a two-replica deployment (restarted after a moment, as the kubelet does), kube-apiserver and
etcd restarts, one kill of the current leader. Invariants, once the faults stop: one confirmation e-mail
per case (a second one only in the documented crash-after-SMTP window, reported separately), reaction
states as the SLA implies, observedGeneration current, queue positions a permutation, no elevation without
an open production incident (and one for each), no identity of a removed member, removed members' tokens
refused (real tokens, 401) while current members' work.

    .venv/bin/python tests/chaos/chaos.py --duration 600 --kills 50      # figures for the README
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import datetime as dt
import email
import email.policy
import json
import random
import secrets
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiosmtpd.controller import Controller
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from support_operator.access.plan import LABEL_CONTRACT, LABEL_PURPOSE
from support_operator.access.provisioner import kubeconfig_secret_name
from support_operator.api.v1alpha1 import (
    CASE_PLURAL,
    CONTRACT_PLURAL,
    GROUP,
    OPEN_STATES,
    VERSION,
    SupportCase,
    SupportContract,
)
from support_operator.api.v1alpha1.reasons import CONFIRMATION_RESENT
from support_operator.kube.leader import LEASE_NAME
from support_operator.status import case as case_logic
from support_operator.testing.controlplane import LocalControlPlane, free_port
from support_operator.testing.install import OPERATOR_NAMESPACE, install_crds, operator_kubeconfig
from support_operator.testing.operator_process import OperatorProcess

REPO = Path(__file__).resolve().parents[2]
SCOPE_LABEL = "support.puzzle.ch/chaos-scope"
T = TypeVar("T")


@dataclass(frozen=True)
class Parameters:
    duration: float = 120.0  # seconds of workload and faults
    cases: int = 30
    operator_kills: int = 10
    apiserver_restarts: int = 1
    etcd_restarts: int = 1
    leader_kill: bool = True
    seed: int = 13
    settle_timeout: float = 120.0


@dataclass
class Figures:
    operator_kills: int = 0
    leader_takeovers: list[float] = field(default_factory=list)  # kill -> standby holds the Lease, s
    apiserver_outages: list[float] = field(default_factory=list)  # seconds down
    etcd_outages: list[float] = field(default_factory=list)
    recoveries: list[float] = field(default_factory=list)  # server back -> a spec edit in status, s
    cases: int = 0
    mails: int = 0
    resent_in_window: list[str] = field(default_factory=list)  # crash-after-SMTP window (documented)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        def spread(values: list[float]) -> str:
            return f"{min(values):.1f}-{max(values):.1f} s (n={len(values)})" if values else "-"

        return "\n".join(
            [
                f"chaos run: {self.seconds:.0f} s, {self.cases} cases, {self.mails} confirmation e-mails",
                f"  operator SIGKILLs: {self.operator_kills}, leader kills: {len(self.leader_takeovers)}, "
                f"takeover {spread(self.leader_takeovers)}",
                f"  kube-apiserver outages: {spread(self.apiserver_outages)}, "
                f"etcd outages: {spread(self.etcd_outages)}",
                f"  status writes resumed after the server's return: {spread(self.recoveries)}",
                f"  duplicates in the crash-after-SMTP window: {len(self.resent_in_window)} "
                f"{self.resent_in_window}",
                f"  invariant violations: {len(self.violations)}",
                *[f"    - {v}" for v in self.violations],
            ]
        )


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def for_case(self, name: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if f" {name} " in str(m["Subject"])]


def retrying(call: Callable[[], T], timeout: float = 90.0) -> T:
    """The workload's own API calls ride out the outages it causes."""
    started = time.monotonic()
    while True:
        try:
            return call()
        except ApiException as error:
            if error.status in (404, 409, 422) or time.monotonic() - started > timeout:
                raise
        except Exception:
            if time.monotonic() - started > timeout:
                raise
        time.sleep(0.3)


class Chaos:
    def __init__(self, parameters: Parameters, workdir: Path) -> None:
        self.p = parameters
        self.random = random.Random(parameters.seed)
        self.workdir = workdir
        self.figures = Figures()
        self.plane = LocalControlPlane(workdir=workdir / "plane")
        self.replicas: dict[str, OperatorProcess] = {}
        self.lock = threading.Lock()  # one fault at a time
        self.done = threading.Event()
        self.mailbox = Mailbox()
        self.contract = "chaos"
        self.removed_tokens: dict[str, str] = {}
        self.team = ["anna", "luca", "claire"]
        self.namespaces: list[str] = []

    # -- setup -------------------------------------------------------------------------------------------

    def setup(self) -> None:
        self.plane.start()
        install_crds(self.plane)
        kubeconfig = operator_kubeconfig(
            self.plane, self.plane.kubeconfig, self.workdir / "operator.kubeconfig"
        )
        self.admin = config.new_client_from_config(str(self.plane.kubeconfig))
        self.objects = client.CustomObjectsApi(self.admin)
        self.core = client.CoreV1Api(self.admin)
        self.smtp_port = free_port()
        self.smtp = Controller(self.mailbox, hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()
        for index, labelled in enumerate((True, True, False)):
            name = f"chaos-{index}"
            labels = {SCOPE_LABEL: "yes"} if labelled else {}
            self.core.create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
            )
            self.namespaces.append(name)
        self._contract()
        for name in ("a", "b"):
            folder = self.workdir / f"replica-{name}"
            folder.mkdir()
            self.replicas[name] = OperatorProcess(
                kubeconfig=kubeconfig, workdir=folder, extra_env={"POD_ID": f"support-operator-{name}"}
            )
            self.replicas[name].start()

    def _contract(self) -> None:
        secret = "chaos-smtp"
        data = {"host": "127.0.0.1", "port": str(self.smtp_port), "security": "none"}
        self.core.create_namespaced_secret(
            OPERATOR_NAMESPACE,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name=secret),
                data={k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            ),
        )
        body = copy.deepcopy(yaml.safe_load((REPO / "crds" / "samples" / "supportcontract.yaml").read_text()))
        body["metadata"] = {"name": self.contract}
        body["spec"]["notification"] = {
            "smtpSecretRef": {"name": secret, "namespace": OPERATOR_NAMESPACE},
            "from": "support@puzzle.ch",
        }
        body["spec"]["access"]["scope"] = {"namespaceSelector": {"matchLabels": {SCOPE_LABEL: "yes"}}}
        self.objects.create_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, body)

    def teardown(self) -> None:
        for replica in self.replicas.values():
            replica.cleanup()
        with contextlib.suppress(Exception):
            self.smtp.stop()
        self.plane.stop()

    # -- workload ----------------------------------------------------------------------------------------

    def workload(self) -> None:
        try:
            self._workload()
        except Exception:  # the workload itself broke: the run proves nothing, say so
            self.figures.violations.append(f"harness: workload failed: {traceback.format_exc(limit=4)}")

    def _workload(self) -> None:
        """Creates the cases spread over the run, and edits them as a support team and customers would."""
        created: list[tuple[str, str]] = []
        deadline = time.monotonic() + self.p.duration
        interval = self.p.duration / max(self.p.cases, 1)
        team_changed = relabelled = False
        while time.monotonic() < deadline and not self.done.is_set():
            if len(created) < self.p.cases:
                created.append(self._create_case(len(created)))
            if created:
                self._edit(*self.random.choice(created))
            elapsed = 1 - (deadline - time.monotonic()) / self.p.duration
            if not team_changed and elapsed > 0.4:
                self._remove_member("luca")
                team_changed = True
            if not relabelled and elapsed > 0.3:
                self._relabel(self.namespaces[2], True)
                relabelled = True
            if relabelled and elapsed > 0.7 and self.random.random() < 0.1:
                self._relabel(self.namespaces[self.random.choice((1, 2))], self.random.random() < 0.5)
            time.sleep(interval * self.random.uniform(0.5, 1.0))
        self.figures.cases = len(created)

    def _create_case(self, index: int) -> tuple[str, str]:
        namespace = self.random.choice(self.namespaces)
        name = f"case-{index:03d}"
        category, impact = self.random.choice(
            [("Incident", "Production"), ("Incident", "NonProduction"), ("Consultation", None)]
        )
        reported = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=self.random.choice((0, 5, 90, 600, 4000)))
        spec: dict[str, Any] = {
            "contractRef": {"name": self.contract},
            "title": f"chaos {name}",
            "category": category,
            "reporter": {"name": "Petra Keller", "email": "petra.keller@acme.example"},
            "reportedAt": _iso(reported),
        }
        if impact:
            spec["impact"] = impact
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SupportCase",
            "metadata": {"name": name},
            "spec": spec,
        }
        with contextlib.suppress(ApiException):  # 409: created before an outage cut the answer off
            retrying(
                lambda: self.objects.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, CASE_PLURAL, body
                )
            )
        return namespace, name

    def _edit(self, namespace: str, name: str) -> None:
        case = retrying(
            lambda: self.objects.get_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL, name)
        )
        spec = case["spec"]
        state = spec.get("state", "New")
        now = _iso(dt.datetime.now(dt.UTC))
        roll = self.random.random()
        if state == "New" and roll < 0.5:
            patch: dict[str, Any] = {"state": "InAnalysis", "analysisStartedAt": now}
        elif state in ("New", "InAnalysis") and roll < 0.8:
            patch = {"state": "Resolved", "analysisStartedAt": spec.get("analysisStartedAt") or now}
        else:
            entry = {
                "id": f"e-{secrets.token_hex(4)}",
                "member": "anna",
                "date": dt.date.today().isoformat(),
                "duration": "15m",
                "note": "chaos",
            }
            patch = {"effort": [*(spec.get("effort") or []), entry]}
        with contextlib.suppress(ApiException):  # refused by validation (e.g. a transition): nothing to check
            retrying(
                lambda: self.objects.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, CASE_PLURAL, name, {"spec": patch}
                )
            )

    def _remove_member(self, member: str) -> None:
        secret = retrying(
            lambda: self.core.read_namespaced_secret(
                kubeconfig_secret_name(self.contract, member), OPERATOR_NAMESPACE
            )
        )
        self.removed_tokens[member] = base64.b64decode(secret.data["kubeconfig"]).decode()
        contract = retrying(
            lambda: self.objects.get_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, self.contract)
        )
        team = [m for m in contract["spec"]["team"] if m["name"] != member]
        team.append(
            {
                "name": "marco",
                "fullName": "Marco Bernasconi",
                "email": "marco.bernasconi@puzzle.ch",
                "languages": ["de", "it"],
            }
        )
        self.team = [m["name"] for m in team]
        retrying(
            lambda: self.objects.patch_cluster_custom_object(
                GROUP, VERSION, CONTRACT_PLURAL, self.contract, {"spec": {"team": team}}
            )
        )

    def _relabel(self, namespace: str, in_scope: bool) -> None:
        labels = {SCOPE_LABEL: "yes" if in_scope else None}
        retrying(lambda: self.core.patch_namespace(namespace, {"metadata": {"labels": labels}}))

    # -- faults ------------------------------------------------------------------------------------------

    def faults(self) -> None:
        kinds = ["kill"] * self.p.operator_kills + ["apiserver"] * self.p.apiserver_restarts
        kinds += ["etcd"] * self.p.etcd_restarts + (["leader"] if self.p.leader_kill else [])
        self.random.shuffle(kinds)
        start = time.monotonic()
        moments = sorted(self.random.uniform(0.05, 0.85) * self.p.duration for _ in kinds)
        for kind, moment in zip(kinds, moments, strict=True):
            time.sleep(max(0.0, start + moment - time.monotonic()))
            if self.done.is_set():
                return
            try:
                getattr(self, f"_fault_{kind}")()
            except Exception:  # a fault that fails to inject is a harness problem: say so, go on
                self.figures.violations.append(
                    f"harness: fault {kind} failed: {traceback.format_exc(limit=3)}"
                )

    def _fault_kill(self) -> None:
        name = self.random.choice(sorted(self.replicas))
        self.replicas[name].kill()
        self.figures.operator_kills += 1
        time.sleep(self.random.uniform(0.2, 2.0))  # the kubelet restarts the container
        self.replicas[name].start(timeout=120, until="/healthz")

    def _fault_leader(self) -> None:
        holder = self._holder()
        name = next((n for n in self.replicas if f"support-operator-{n}" == holder), None)
        if name is None:
            return
        self.replicas[name].kill()
        self.figures.operator_kills += 1
        killed = time.monotonic()
        while self._holder() in (holder, None):
            if time.monotonic() - killed > 90:
                self.figures.violations.append("no takeover within 90 s of the leader's kill")
                break
            time.sleep(0.1)
        self.figures.leader_takeovers.append(time.monotonic() - killed)
        self.replicas[name].start(timeout=120, until="/healthz")

    def _holder(self) -> str | None:
        try:
            lease = client.CoordinationV1Api(self.admin).read_namespaced_lease(LEASE_NAME, OPERATOR_NAMESPACE)
        except Exception:
            return None
        return lease.spec.holder_identity if lease.spec else None

    def _fault_apiserver(self) -> None:
        self._outage("kube-apiserver", self.random.uniform(3, 10), self.figures.apiserver_outages)

    def _fault_etcd(self) -> None:
        self._outage("etcd", self.random.uniform(2, 5), self.figures.etcd_outages)

    def _outage(self, component: str, seconds: float, record: list[float]) -> None:
        self.plane.stop_component(component)
        time.sleep(seconds)
        self.plane.start_component(component)
        record.append(seconds)
        self.figures.recoveries.append(self._time_until_a_write())

    def _time_until_a_write(self) -> float:
        """From now until the operator has written status for a spec edit (a probe case's title)."""
        started = time.monotonic()
        namespace, name = self.namespaces[0], "probe"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SupportCase",
            "metadata": {"name": name},
            "spec": {
                "contractRef": {"name": self.contract},
                "title": "probe",
                "category": "Consultation",
                "reporter": {"name": "Probe", "email": "probe@acme.example"},
            },
        }
        with contextlib.suppress(ApiException):
            retrying(
                lambda: self.objects.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, CASE_PLURAL, body
                )
            )
        edited = retrying(
            lambda: self.objects.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, CASE_PLURAL, name, {"spec": {"title": f"probe {time.time():.3f}"}}
            )
        )
        while time.monotonic() - started < 120:
            current = retrying(
                lambda: self.objects.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, CASE_PLURAL, name
                )
            )
            if (current.get("status") or {}).get("observedGeneration") == edited["metadata"]["generation"]:
                break
            time.sleep(0.1)
        return time.monotonic() - started

    # -- invariants --------------------------------------------------------------------------------------

    def violations(self) -> list[str]:
        found: list[str] = []
        contract_obj = self.objects.get_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, self.contract)
        contract = SupportContract.from_k8s(contract_obj)
        cases = self.objects.list_cluster_custom_object(GROUP, VERSION, CASE_PLURAL)["items"]
        if (contract_obj.get("status") or {}).get("observedGeneration") != contract_obj["metadata"][
            "generation"
        ]:
            found.append("contract: observedGeneration behind")
        open_positions = []
        for obj in cases:
            found += self._case_violations(obj, contract)
            if _is_open(obj):
                open_positions.append((obj.get("status") or {}).get("queuePosition"))
        if sorted(p for p in open_positions if p is not None) != list(range(1, len(open_positions) + 1)):
            found.append(f"queue positions are no permutation: {sorted(map(str, open_positions))}")
        found += self._access_violations(contract_obj, cases)
        return found

    def _case_violations(self, obj: dict[str, Any], contract: SupportContract) -> list[str]:
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        found = []
        if status.get("observedGeneration") != obj["metadata"]["generation"]:
            found.append(f"{name}: observedGeneration {status.get('observedGeneration')} behind")
        mails = self.mailbox.for_case(name)
        if not mails:
            found.append(f"{name}: no confirmation e-mail")
        elif len(mails) > 1:
            if len({m["Message-ID"] for m in mails}) != 1:
                found.append(f"{name}: confirmations with different Message-IDs")
            elif self._resent(obj):
                self.figures.resent_in_window.append(name)
            else:
                found.append(f"{name}: {len(mails)} confirmation e-mails, none announced as resent")
        recorded = (status.get("confirmation") or {}).get("messageID")
        if mails and recorded != mails[0]["Message-ID"]:
            found.append(f"{name}: status.confirmation {recorded} is not the mail's {mails[0]['Message-ID']}")
        case = SupportCase.from_k8s(obj)
        deadline = case_logic.queue_item(case, contract).reaction_deadline
        started = case.spec.analysis_started_at
        now = dt.datetime.now(dt.UTC)
        if started is not None:
            expected = "Met" if started <= deadline else "Breached"
        else:
            expected = "Breached" if now >= deadline + dt.timedelta(seconds=5) else "Pending"
        state = (status.get("reaction") or {}).get("state")
        if state != expected and not (started is None and abs((now - deadline).total_seconds()) < 5):
            found.append(f"{name}: reaction {state}, the SLA says {expected} (deadline {deadline})")
        return found

    def _resent(self, obj: dict[str, Any]) -> bool:
        events = self.core.list_namespaced_event(
            obj["metadata"]["namespace"], field_selector=f"involvedObject.name={obj['metadata']['name']}"
        )
        return any(e.reason == CONFIRMATION_RESENT for e in events.items)

    def _access_violations(self, contract_obj: dict[str, Any], cases: list[dict[str, Any]]) -> list[str]:
        found = []
        in_scope = {
            n.metadata.name for n in self.core.list_namespace(label_selector=f"{SCOPE_LABEL}=yes").items
        }
        # Elevation lasts while the incident is open, at most elevationMaxDuration (8h) from its report.
        longest = dt.timedelta(hours=8)
        now = dt.datetime.now(dt.UTC)
        incidents = {
            c["metadata"]["namespace"]
            for c in cases
            if c["spec"].get("category") == "Incident"
            and c["spec"].get("impact") == "Production"
            and _is_open(c)
            and dt.datetime.fromisoformat(c["spec"]["reportedAt"]) + longest > now + dt.timedelta(seconds=5)
        }
        rbac = client.RbacAuthorizationV1Api(self.admin)
        elevated = {
            b.metadata.namespace
            for b in rbac.list_role_binding_for_all_namespaces(
                label_selector=f"{LABEL_PURPOSE}=elevated,{LABEL_CONTRACT}={self.contract}"
            ).items
        }
        for namespace in sorted(elevated - (incidents & in_scope)):
            found.append(f"elevation in {namespace} without an open production incident in scope")
        for namespace in sorted((incidents & in_scope) - elevated):
            found.append(f"open production incident in {namespace} without elevation")
        members = {i["member"] for i in (contract_obj.get("status") or {}).get("identities") or []}
        if members - set(self.team):
            found.append(f"identities of removed members: {sorted(members - set(self.team))}")
        if set(self.team) - members:
            found.append(f"members without identity: {sorted(set(self.team) - members)}")
        for member, kubeconfig in self.removed_tokens.items():
            code = _status_of(kubeconfig, self.namespaces[0])
            if code != 401:
                found.append(f"removed member {member}'s token answers {code}, not 401")
        for member in ("anna",):
            secret = self.core.read_namespaced_secret(
                kubeconfig_secret_name(self.contract, member), OPERATOR_NAMESPACE
            )
            code = _status_of(base64.b64decode(secret.data["kubeconfig"]).decode(), self.namespaces[0])
            if code != 200:
                found.append(f"current member {member}'s token answers {code}, not 200")
        return found

    # -- the run -----------------------------------------------------------------------------------------

    def run(self) -> Figures:
        started = time.monotonic()
        self.setup()
        try:
            # Faults run on the main thread: the components and operators they restart die with the thread
            # that started them (PR_SET_PDEATHSIG follows the thread, not the process).
            workload = threading.Thread(target=self.workload, daemon=True)
            workload.start()
            self.faults()
            workload.join(self.p.duration + 300)
            self.done.set()
            for replica in self.replicas.values():
                if replica.pid is None:
                    replica.start(timeout=120, until="/healthz")
            self._settle()
            self.figures.mails = len(self.mailbox.messages)
        finally:
            self.figures.seconds = time.monotonic() - started
            self.teardown()
        return self.figures

    def _settle(self) -> None:
        """Invariants are checked until they hold or the settle timeout passes (tokens stay cached for up
        to 10 s by the API server, timers fire at deadlines): then what still fails is a violation."""
        deadline = time.monotonic() + self.p.settle_timeout
        while True:
            self.figures.resent_in_window = []
            try:
                found = self.violations()
            except Exception as error:  # e.g. the API server was just restarted by the last fault
                found = [f"checking failed: {error}"]
            if not found or time.monotonic() > deadline:
                self.figures.violations += found
                return
            time.sleep(2)


def _is_open(obj: dict[str, Any]) -> bool:
    return obj["spec"].get("state", "New") in {s.value for s in OPEN_STATES}


def _status_of(kubeconfig: str, namespace: str) -> int:
    api = config.new_client_from_config_dict(yaml.safe_load(kubeconfig))
    try:
        client.CoreV1Api(api).list_namespaced_pod(namespace)
    except ApiException as error:
        return int(error.status)
    return 200


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def run(parameters: Parameters) -> Figures:
    with tempfile.TemporaryDirectory(prefix="support-operator-chaos-") as folder:
        return Chaos(parameters, Path(folder)).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Parameters()
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of workload and faults")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--kills", type=int, default=50, help="random operator SIGKILLs")
    parser.add_argument("--apiserver-restarts", type=int, default=3)
    parser.add_argument("--etcd-restarts", type=int, default=1)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    options = parser.parse_args(argv)
    figures = run(
        Parameters(
            duration=options.duration,
            cases=options.cases,
            operator_kills=options.kills,
            apiserver_restarts=options.apiserver_restarts,
            etcd_restarts=options.etcd_restarts,
            seed=options.seed,
        )
    )
    print(figures.summary())
    if options.json:
        print(json.dumps(figures.__dict__, indent=2))
    return 1 if figures.violations else 0


if __name__ == "__main__":
    sys.exit(main())
