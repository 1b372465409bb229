"""`kubectl support`: the support team's terminal tools, a kubectl plugin (the `kubectl-support` executable).

    kubectl support queue [-A | -n NAMESPACE] [-o wide|json|yaml]
    kubectl support ack CASE
    kubectl support state CASE InAnalysis|WaitingForCustomer|Resolved|Closed
    kubectl support log CASE 1h30m "what was done" [--member M] [--date YYYY-MM-DD] [--reason R]
    kubectl support approve CASE [--for 2h] --reason R [--revoke]
    kubectl support access kubeconfig --member M [--contract C]
    kubectl support access audit --audit-log FILE [--case C] [--member M] [--since 2h]
    kubectl support report --contract C --month 2026-11 [--format md|csv]
    kubectl support open --contract C --title T --impact I --reporter-name N --phone P   (cli/open_case.py)

CASE is a name in the current namespace or namespace/name. Like kubectl, every command takes --kubeconfig,
--context, -n/--namespace and -A. It writes only what a human owns in a case's spec (state,
analysisStartedAt, effort), never status. Errors go to stderr with exit code 1 (2 for bad input).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import getpass
import io
import json
import re
import secrets
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from support_operator import constants
from support_operator.api.v1alpha1 import (
    CASE_PLURAL,
    CONTRACT_PLURAL,
    GROUP,
    OPEN_STATES,
    STATEMENT_PLURAL,
    VERSION,
    AccessMode,
    CaseState,
    SupportCase,
    SupportContract,
)
from support_operator.api.v1alpha1.case import EFFORT_DURATION_MESSAGE, EFFORT_DURATION_PATTERN
from support_operator.api.v1alpha1.common import DNS_LABEL_PATTERN
from support_operator.cli import access_audit, plugin_approve
from support_operator.cli import report as report_view
from support_operator.cli.plugin_scope import cases_in_contract_scope, context_extension
from support_operator.domain import ledger, sla
from support_operator.domain.queue import priority_class
from support_operator.status.case import domain_category, domain_impact, report_time
from support_operator.status.ledger import statement
from support_operator.status.policy import reaction_policy

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
Obj = dict[str, Any]
DEFAULT_OPERATOR_NAMESPACE = constants.DEFAULT_NAMESPACE
MEMBER_ENV = "KUBECTL_SUPPORT_MEMBER"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"


class PluginError(click.ClickException):
    """A clear one-line error; exit code 1."""


# --- connection: kubectl's flags ---------------------------------------------------------------------------


@dataclass
class Connection:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False


def _remember(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """Stores a connection flag on the root context, so it works before or after the subcommand."""

    def store(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(ctx.find_root().ensure_object(Connection), attribute, value)

    return store


def connection_options(command: F) -> F:
    options = [
        click.option(
            "--kubeconfig",
            expose_value=False,
            callback=_remember("kubeconfig"),
            help="Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).",
        ),
        click.option(
            "--context", expose_value=False, callback=_remember("context"), help="Kubeconfig context to use."
        ),
        click.option(
            "-n",
            "--namespace",
            expose_value=False,
            callback=_remember("namespace"),
            help="Namespace of the case (default: the context's namespace).",
        ),
        click.option(
            "-A",
            "--all-namespaces",
            is_flag=True,
            expose_value=False,
            callback=_remember("all_namespaces"),
            help="All namespaces (queue's default).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class Cluster(Protocol):
    """What the commands need from the API server (a fake in unit tests)."""

    namespace: str

    def get_case(self, namespace: str, name: str) -> Obj: ...
    def list_cases(self, namespace: str | None) -> list[Obj]: ...
    def get_contract(self, name: str) -> Obj: ...
    def list_contracts(self) -> list[Obj]: ...
    def patch_case(self, namespace: str, name: str, body: Any, content_type: str) -> Obj: ...
    def create_case(self, namespace: str, body: Obj) -> Obj: ...
    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None: ...
    def list_statements(self) -> list[Obj]: ...


@dataclass
class KubeCluster:
    api: client.ApiClient
    namespace: str

    @property
    def objects(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def get_case(self, namespace: str, name: str) -> Obj:
        found: Obj = self.objects.get_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL, name)
        return found

    def list_cases(self, namespace: str | None) -> list[Obj]:
        if namespace is None:
            listed = self.objects.list_cluster_custom_object(GROUP, VERSION, CASE_PLURAL)
        else:
            listed = self.objects.list_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL)
        return [_with_kind(item, "SupportCase") for item in listed.get("items", [])]

    def get_contract(self, name: str) -> Obj:
        found: Obj = self.objects.get_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, name)
        return found

    def list_contracts(self) -> list[Obj]:
        listed = self.objects.list_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL)
        return [_with_kind(item, "SupportContract") for item in listed.get("items", [])]

    def patch_case(self, namespace: str, name: str, body: Any, content_type: str) -> Obj:
        patched: Obj = self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, CASE_PLURAL, name, body, _content_type=content_type
        )
        return patched

    def create_case(self, namespace: str, body: Obj) -> Obj:
        created: Obj = self.objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, CASE_PLURAL, body
        )
        return created

    def list_statements(self) -> list[Obj]:
        listed = self.objects.list_cluster_custom_object(GROUP, VERSION, STATEMENT_PLURAL)
        return list(listed.get("items", []))

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            secret = client.CoreV1Api(self.api).read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}


def _with_kind(item: Obj, kind: str) -> Obj:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, **item}


def connect(connection: Connection) -> Cluster:
    """A client for the kubeconfig and context chosen by the flags."""
    configuration = client.Configuration()
    try:
        config.load_kube_config(
            config_file=connection.kubeconfig, context=connection.context, client_configuration=configuration
        )
        contexts, active = config.list_kube_config_contexts(config_file=connection.kubeconfig)
    except (ConfigException, OSError) as error:
        raise PluginError(f"cannot load the kubeconfig: {error}") from None
    chosen = next((c for c in contexts if c["name"] == connection.context), active)
    configuration.retries = 1  # fail fast with a clear message instead of retrying for a minute
    default_namespace = (chosen or {}).get("context", {}).get("namespace") or "default"
    return KubeCluster(client.ApiClient(configuration), connection.namespace or default_namespace)


@contextlib.contextmanager
def api_errors(what: str) -> Iterator[None]:
    """Turns API and network failures into one clear line."""
    try:
        yield
    except ApiException as error:
        message = _server_message(error)
        if error.status == 404:
            raise PluginError(f"{what}: not found") from None
        if error.status in (401, 403):
            raise PluginError(f"{what}: no permission ({message})") from None
        raise PluginError(f"{what}: {message}") from None
    except urllib3.exceptions.HTTPError as error:
        raise PluginError(f"{what}: cannot reach the API server ({error})") from None


def _server_message(error: ApiException) -> str:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        body = json.loads(error.body)
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    return f"{error.status} {error.reason}"


def _connection(ctx: click.Context) -> Connection:
    return ctx.find_root().ensure_object(Connection)


def _cluster(ctx: click.Context) -> Cluster:
    return connect(_connection(ctx))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _case_address(cluster: Cluster, reference: str) -> tuple[str, str]:
    namespace, _, name = reference.rpartition("/")
    return namespace or cluster.namespace, name


def _load_case(cluster: Cluster, reference: str) -> tuple[Obj, SupportCase]:
    namespace, name = _case_address(cluster, reference)
    with api_errors(f"SupportCase {namespace}/{name}"):
        raw = cluster.get_case(namespace, name)
    return raw, _parse_case(raw)


def _parse_case(raw: Obj) -> SupportCase:
    try:
        return SupportCase.from_k8s(_with_kind(raw, "SupportCase"))
    except ValidationError as error:
        name = raw.get("metadata", {}).get("name")
        raise PluginError(f"SupportCase {name} cannot be read: {error.errors()[0]['msg']}") from None


def _optional_contract(cluster: Cluster, name: str) -> SupportContract | None:
    """The contract, or None when it is missing or we may not read it (cluster-scoped)."""
    try:
        return SupportContract.from_k8s(_with_kind(cluster.get_contract(name), "SupportContract"))
    except (ApiException, ValidationError):
        return None


def _zone(contract: SupportContract | None) -> dt.tzinfo | None:
    if contract is None:
        return None
    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(contract.spec.support_hours.time_zone)
    return None


# --- the command ---------------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@connection_options
@click.version_option(package_name="support-operator")
def main() -> None:
    """The support team's tools: case queue, reaction, state, effort, access and monthly statements."""


# --- queue ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    namespace: str
    name: str
    contract: str
    priority: str
    category: str
    impact: str
    state: str
    reaction: str  # Pending | Met | Breached | Unknown
    deadline: dt.datetime | None
    left: dt.timedelta | None  # business time left while Pending
    reported_at: dt.datetime
    title: str
    zone: dt.tzinfo | None
    evidence: str = ""  # Observed | Recorded once acknowledged

    def to_json(self) -> Obj:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "contract": self.contract,
            "priority": self.priority,
            "category": self.category,
            "impact": self.impact,
            "state": self.state,
            "reaction": self.reaction,
            "deadline": _iso(self.deadline) if self.deadline else None,
            "businessSecondsLeft": int(self.left.total_seconds()) if self.left is not None else None,
            "reportedAt": _iso(self.reported_at),
            "title": self.title,
            "evidence": self.evidence or None,
        }


def queue_rows(
    cases: Sequence[SupportCase], contracts: dict[str, SupportContract], now: dt.datetime
) -> list[QueueRow]:
    """Open cases in queue order: priority class, then reaction deadline, report time, name."""
    rows = [_queue_row(case, contracts.get(case.spec.contract_ref.name), now) for case in cases]
    rows = [row for row in rows if row.state in {s.value for s in OPEN_STATES}]
    return sorted(
        rows,
        key=lambda r: (
            r.priority,
            r.deadline is None,
            r.deadline or r.reported_at,
            r.reported_at,
            f"{r.namespace}/{r.name}",
        ),
    )


def _queue_row(case: SupportCase, contract: SupportContract | None, now: dt.datetime) -> QueueRow:
    category, impact = domain_category(case), domain_impact(case)
    reaction = case.status.reaction if case.status else None
    state = reaction.state.value if reaction else "Unknown"
    deadline = reaction.deadline if reaction else None
    left = None
    if contract is not None:
        with contextlib.suppress(ValueError):
            evaluation = sla.evaluate_reaction(
                reaction_policy(contract.spec),
                report_time(case),
                category,
                impact,
                case.spec.analysis_started_at,
                now,
                sla.ReactionState(state) if reaction else None,
            )
            state, deadline = evaluation.state.value, evaluation.deadline
            left = evaluation.remaining if evaluation.state == sla.ReactionState.PENDING else None
    return QueueRow(
        namespace=case.metadata.namespace or "",
        name=case.metadata.name,
        contract=case.spec.contract_ref.name,
        priority=priority_class(category, impact).label,
        category=category.value,
        impact=impact.value,
        state=case.spec.state.value,
        reaction=state,
        deadline=deadline,
        left=left,
        reported_at=report_time(case),
        title=case.spec.title,
        zone=_zone(contract),
        evidence=reaction.evidence.value if reaction and reaction.evidence else "",
    )


def _short(duration: dt.timedelta) -> str:
    minutes = int(duration.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text or "0m"


def _age(since: dt.datetime, now: dt.datetime) -> str:
    seconds = max(int((now - since).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


COLOURS = {
    "P1": ("red", True),
    "Breached": ("red", True),
    "Pending": ("yellow", False),
    "Met": ("green", False),
}


def render_queue(rows: Sequence[QueueRow], wide: bool, now: dt.datetime) -> str:
    """kubectl-style columns; cells carry ANSI colours that click strips when stdout is no terminal."""
    header = ["NAMESPACE", "NAME", "PRIORITY", "STATE", "REACTION", "DEADLINE", "LEFT"]
    if wide:
        header += ["EVIDENCE", "CONTRACT", "CATEGORY", "IMPACT", "AGE", "TITLE"]
    table = [header]
    for row in rows:
        local = row.deadline.astimezone(row.zone) if row.deadline and row.zone else row.deadline
        deadline = local.strftime("%Y-%m-%d %H:%M %Z") if local else "-"
        left = _short(row.left) if row.left is not None else {"Breached": "overdue"}.get(row.reaction, "-")
        cells = [row.namespace, row.name, row.priority, row.state, row.reaction, deadline, left]
        if wide:
            evidence = row.evidence or "-"
            cells += [evidence, row.contract, row.category, row.impact, _age(row.reported_at, now), row.title]
        table.append(cells)
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for line in table:
        padded = [cell.ljust(width) for cell, width in zip(line, widths, strict=True)]
        coloured = [_colour(cell, text) for cell, text in zip(line, padded, strict=True)]
        lines.append("   ".join(coloured).rstrip())
    return "\n".join(lines)


def _colour(cell: str, padded: str) -> str:
    if cell not in COLOURS:
        return padded
    colour, bold = COLOURS[cell]
    return click.style(padded, fg=colour, bold=bold)


@main.command()
@connection_options
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json", "yaml"]),
    default="table",
    help="Output format (default: columns).",
)
@click.option("--contract", help="Only cases of this SupportContract.")
@click.pass_context
def queue(ctx: click.Context, output: str, contract: str | None) -> None:
    """Open cases in queue order, with reaction deadline and business time left (all namespaces unless
    -n is given)."""
    cluster = _cluster(ctx)
    namespace = (
        cluster.namespace if _connection(ctx).namespace and not _connection(ctx).all_namespaces else None
    )
    raw_cases = _visible_cases(ctx, cluster, namespace, contract)
    contracts: dict[str, SupportContract] = {}
    with contextlib.suppress(ApiException):  # without read access to contracts, status is shown as is
        for raw in cluster.list_contracts():
            with contextlib.suppress(ValidationError):
                parsed = SupportContract.from_k8s(raw)
                contracts[parsed.metadata.name] = parsed
    cases = []
    for raw in raw_cases:
        try:
            cases.append(_parse_case(raw))
        except PluginError as error:  # one unreadable case must not hide the queue
            click.echo(f"Warning: {error.message}", err=True)
    if contract is not None:
        cases = [case for case in cases if case.spec.contract_ref.name == contract]
    now = _now()
    rows = queue_rows(cases, contracts, now)
    if output == "json":
        click.echo(json.dumps([row.to_json() for row in rows], indent=2))
    elif output == "yaml":
        click.echo(yaml.safe_dump([row.to_json() for row in rows], sort_keys=False), nl=False)
    elif not rows:
        click.echo("No open cases." if namespace is None else f"No open cases in namespace {namespace}.")
    else:
        click.echo(render_queue(rows, output == "wide", now))


def _visible_cases(
    ctx: click.Context, cluster: Cluster, namespace: str | None, contract: str | None
) -> list[Obj]:
    """All cases asked for; a supporter (no cluster-wide list) sees those of the contract's namespaces."""
    with api_errors("listing SupportCases"):
        try:
            return cluster.list_cases(namespace)
        except ApiException as error:
            connection = _connection(ctx)
            own = contract or context_extension(connection.kubeconfig, connection.context).get("contract")
            if error.status != 403 or namespace is not None or not own:
                raise
            return cases_in_contract_scope(cluster, own)


# --- ack and state -------------------------------------------------------------------------------------


@main.command()
@connection_options
@click.argument("case_ref", metavar="CASE")
@click.pass_context
def ack(ctx: click.Context, case_ref: str) -> None:
    """Start the analysis of CASE now: the reaction the SLA measures (state InAnalysis)."""
    cluster = _cluster(ctx)
    raw, case = _load_case(cluster, case_ref)
    namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
    if case.spec.analysis_started_at is not None:
        click.echo(f"{namespace}/{name}: analysis already started at {_iso(case.spec.analysis_started_at)}")
        return
    started = _now()
    patch = [
        {"op": "test", "path": "/spec/state", "value": CaseState.NEW.value},  # nobody acknowledged meanwhile
        {"op": "add", "path": "/spec/analysisStartedAt", "value": _iso(started)},
        {"op": "replace", "path": "/spec/state", "value": CaseState.IN_ANALYSIS.value},
    ]
    with api_errors(f"acknowledging SupportCase {namespace}/{name}"):
        cluster.patch_case(namespace, name, patch, JSON_PATCH)
    verdict = ""
    contract = _optional_contract(cluster, case.spec.contract_ref.name)
    if contract is not None:
        with contextlib.suppress(ValueError):
            category, impact = domain_category(case), domain_impact(case)
            deadline = reaction_policy(contract.spec).deadline(report_time(case), category, impact)
            verdict = f" (deadline {_iso(deadline)}: {'in time' if started <= deadline else 'late'})"
    click.echo(f"{namespace}/{name}: analysis started at {_iso(started)}{verdict}")


HUMAN_STATES = [
    CaseState.IN_ANALYSIS.value,
    CaseState.WAITING_FOR_CUSTOMER.value,
    CaseState.RESOLVED.value,
    CaseState.CLOSED.value,
]


@main.command()
@connection_options
@click.argument("case_ref", metavar="CASE")
@click.argument("new_state", metavar="STATE", type=click.Choice(HUMAN_STATES))
@click.pass_context
def state(ctx: click.Context, case_ref: str, new_state: str) -> None:
    """Set the state of CASE: InAnalysis, WaitingForCustomer, Resolved or Closed."""
    cluster = _cluster(ctx)
    raw, case = _load_case(cluster, case_ref)
    namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
    if case.spec.state == CaseState.NEW:
        raise PluginError(
            f"{namespace}/{name} is New: run `kubectl support ack {case_ref}` first (it records when the "
            "analysis started, which the reaction SLA measures)"
        )
    if case.spec.state.value == new_state:
        click.echo(f"{namespace}/{name} is already {new_state}")
        return
    patch = [{"op": "replace", "path": "/spec/state", "value": new_state}]
    with api_errors(f"changing the state of SupportCase {namespace}/{name}"):
        cluster.patch_case(namespace, name, patch, JSON_PATCH)
    click.echo(f"{namespace}/{name}: {case.spec.state.value} -> {new_state}")


# --- log -----------------------------------------------------------------------------------------------

_DURATION = re.compile(EFFORT_DURATION_PATTERN)
_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)


def effort_minutes(text: str) -> int:
    """Signed minutes of an effort duration (90, 1h30m, 45m, -15m); ValueError with the API's message."""
    if not _DURATION.search(text):
        raise ValueError(EFFORT_DURATION_MESSAGE)
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("-")
    if body.isdigit():
        minutes = int(body)
    else:
        hours, _, rest = body.partition("h") if "h" in body else ("0", "", body)
        minutes = int(hours) * 60 + int(rest.removesuffix("m") or "0")
    if minutes == 0:
        raise ValueError("effort duration must not be zero")
    return sign * minutes


def _default_member() -> str | None:
    with contextlib.suppress(OSError, KeyError):
        user = getpass.getuser().lower()
        if _DNS_LABEL.match(user):
            return user
    return None


@main.command("log", context_settings={"ignore_unknown_options": True})  # "-15m" is a duration
@connection_options
@click.argument("case_ref", metavar="CASE")
@click.argument("duration")
@click.argument("note", required=False)
@click.option("--member", envvar=MEMBER_ENV, help=f"Who did the work (default: ${MEMBER_ENV}, else $USER).")
@click.option("--date", "day", help="Day of the work, YYYY-MM-DD (default: today in the contract's zone).")
@click.option("--reason", help="Why a negative (correcting) entry corrects an earlier one; required then.")
@click.pass_context
def log_effort(
    ctx: click.Context,
    case_ref: str,
    duration: str,
    note: str | None,
    member: str | None,
    day: str | None,
    reason: str | None,
) -> None:
    """Append an effort entry to CASE: DURATION as 90, 1h30m or 45m; negative (-15m) with --reason to
    correct an earlier entry. Entries are append-only."""
    try:
        minutes = effort_minutes(duration)
    except ValueError as error:
        raise click.BadParameter(f"{duration!r}: {error}", param_hint="DURATION") from None
    if minutes < 0 and not reason:
        raise click.BadParameter("a negative (correcting) entry needs --reason", param_hint="--reason")
    connection = _connection(ctx)
    member = (
        member
        or context_extension(connection.kubeconfig, connection.context).get("member")
        or _default_member()
    )
    if not member or not _DNS_LABEL.match(member):
        raise click.BadParameter(
            f"{member!r} is no team member name; pass --member or set ${MEMBER_ENV}", param_hint="--member"
        )
    cluster = _cluster(ctx)
    raw, case = _load_case(cluster, case_ref)
    namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
    contract = _optional_contract(cluster, case.spec.contract_ref.name)
    if contract is not None and member not in {m.name for m in contract.spec.team}:
        team = ", ".join(m.name for m in contract.spec.team)
        raise PluginError(f"{member} is not in the team of SupportContract {contract.metadata.name} ({team})")
    work_day = _work_day(day, contract)
    entry: Obj = {
        "id": f"e-{work_day:%Y%m%d}-{member[:40].rstrip('-')}-{secrets.token_hex(3)}",
        "member": member,
        "date": work_day.isoformat(),
        "duration": duration,
    }
    entry |= {"note": note} if note else {}
    entry |= {"reason": reason} if reason else {}
    with api_errors(f"logging effort on SupportCase {namespace}/{name}"):
        _append_effort(cluster, raw, entry)
    click.echo(f"{namespace}/{name}: logged {duration} for {member} on {work_day} ({entry['id']})")


def _work_day(text: str | None, contract: SupportContract | None) -> dt.date:
    if text is None:
        return dt.datetime.now(_zone(contract) or dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected YYYY-MM-DD", param_hint="--date") from None


def _append_effort(cluster: Cluster, raw: Obj, entry: Obj) -> None:
    """Appends with a JSON patch `add .../-`, so concurrent appends never overwrite each other; the first
    entry creates the list under the resourceVersion we read (a race re-reads and appends)."""
    metadata = raw["metadata"]
    namespace, name = metadata["namespace"], metadata["name"]
    for _ in range(3):
        if raw.get("spec", {}).get("effort"):
            cluster.patch_case(
                namespace, name, [{"op": "add", "path": "/spec/effort/-", "value": entry}], JSON_PATCH
            )
            return
        body = {
            "metadata": {"resourceVersion": raw["metadata"]["resourceVersion"]},
            "spec": {"effort": [entry]},
        }
        try:
            cluster.patch_case(namespace, name, body, MERGE_PATCH)
            return
        except ApiException as error:
            if error.status != 409:
                raise
        raw = cluster.get_case(namespace, name)
    raise PluginError(f"SupportCase {namespace}/{name} keeps changing; try again")


# --- access --------------------------------------------------------------------------------------------


@main.group()
def access() -> None:
    """Remote access of the support team."""


@access.command("kubeconfig")
@connection_options
@click.option("--member", envvar=MEMBER_ENV, help=f"Team member (default: ${MEMBER_ENV}, else $USER).")
@click.option("--contract", help="SupportContract (default: the only one there is).")
@click.option(
    "--operator-namespace",
    envvar="SUPPORT_OPERATOR_NAMESPACE",
    default=DEFAULT_OPERATOR_NAMESPACE,
    show_default=True,
    help="Namespace the operator keeps kubeconfig Secrets in.",
)
@click.pass_context
def access_kubeconfig(
    ctx: click.Context, member: str | None, contract: str | None, operator_namespace: str
) -> None:
    """Print a member's kubeconfig for the customer platform."""
    member = member or _default_member()
    if not member:
        raise click.BadParameter(f"pass --member or set ${MEMBER_ENV}", param_hint="--member")
    cluster = _cluster(ctx)
    name = contract or _only_contract(cluster)
    the_contract = _optional_contract(cluster, name)
    namespace, secret = _kubeconfig_secret(the_contract, name, member, operator_namespace)
    with api_errors(f"reading Secret {namespace}/{secret}"):
        data = cluster.read_secret(namespace, secret)
    if data is None or "kubeconfig" not in data:
        raise PluginError(
            f"access for {member} under SupportContract {name} is not provisioned yet: Secret "
            f"{namespace}/{secret} (key kubeconfig) does not exist; check spec.access and the contract's "
            "AccessProvisioned condition"
        )
    click.echo(data["kubeconfig"], nl=not data["kubeconfig"].endswith("\n"))


@access.command("audit")
@connection_options
@access_audit.options
@click.pass_context
def access_audit_command(
    ctx: click.Context,
    audit_log: Any,
    case_ref: str | None,
    contract: str | None,
    member: str | None,
    since: str | None,
    output: str,
) -> None:
    """What support identities did, from kube-apiserver's audit log (--case: its elevation window)."""
    cluster = _cluster(ctx)
    api = getattr(cluster, "api", None)
    if api is None:
        raise PluginError("access audit needs a cluster connection")
    rows = access_audit.run(api, audit_log, case_ref, contract, member, since, cluster.namespace)
    click.echo(access_audit.render(rows, output))


def _only_contract(cluster: Cluster) -> str:
    with api_errors("listing SupportContracts"):
        names = [c["metadata"]["name"] for c in cluster.list_contracts()]
    if len(names) != 1:
        raise PluginError(f"pass --contract: there are {len(names)} SupportContracts ({', '.join(names)})")
    return str(names[0])


def _kubeconfig_secret(
    contract: SupportContract | None, name: str, member: str, operator_namespace: str
) -> tuple[str, str]:
    """The Secret the contract's status names for the member, else the operator's naming convention."""
    access_spec = contract.spec.access if contract else None
    identity = "team" if access_spec is not None and access_spec.mode == AccessMode.TEAM else member
    for status in (contract.status.identities or []) if contract and contract.status else []:
        if status.member == identity and status.kubeconfig_secret is not None:
            return status.kubeconfig_secret.namespace, status.kubeconfig_secret.name
    return operator_namespace, f"support-kubeconfig-{name}-{identity}"


# --- report --------------------------------------------------------------------------------------------


def hours(minutes: int) -> str:
    """h:mm, the way time sheets show it."""
    sign = "-" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


def _invoiced_by_category(result: ledger.Statement) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in result.cases:
        totals[line.category.value] += line.invoiced
    return totals


def render_markdown(contract: SupportContract, result: ledger.Statement) -> str:
    spec = contract.spec
    customer = spec.customer.name + (f" ({spec.customer.reference})" if spec.customer.reference else "")
    out = [
        f"# Support statement {result.month}: {customer}",
        "",
        f"SupportContract {contract.metadata.name}; billing {spec.billing.mode.value}, rounded up to "
        f"{spec.billing.increment_minutes} min per case and month; times in h:mm.",
        "",
        "## Cases",
        "",
        "| Case | Category | Effort | Billed | Packages | Invoiced |",
        "|---|---|---:|---:|---:|---:|",
    ]
    out += [
        f"| {c.case} | {c.category.value} | {hours(c.effort)} | {hours(c.billed)} | {hours(c.package)} | "
        f"{hours(c.invoiced)} |"
        for c in result.cases
    ]
    effort = sum(c.effort for c in result.cases)
    totals = result.totals
    out += [
        f"| **Total** | | {hours(effort)} | {hours(totals.billed)} | {hours(totals.package)} | "
        f"{hours(totals.invoiced)} |",
        "",
        "## Effort per member",
        "",
        "| Member | Category | Effort |",
        "|---|---|---:|",
    ]
    out += [f"| {m.member} | {m.category.value} | {hours(m.effort)} |" for m in result.members]
    out += [
        "",
        "## Packages",
        "",
        "| Package | Used this month | Remaining at month end | Expires | Forfeited |",
        "|---|---:|---:|---|---:|",
    ]
    out += [
        f"| {p.name} | {hours(p.used_in_month)} | {hours(p.balance.remaining)} | "
        f"{p.balance.expires_on}{' (expired)' if p.balance.expired else ''} | {hours(p.balance.forfeited)} |"
        for p in result.packages
    ]
    invoiced = _invoiced_by_category(result)
    out += ["", "## Invoiced (beyond packages)", "", "| Category | Time |", "|---|---:|"]
    out += [
        f"| {category} | {hours(invoiced.get(category, 0))} |" for category in ("Incident", "Consultation")
    ]
    out += [f"| **Total** | {hours(totals.invoiced)} |", "", "## Flat fees", ""]
    if result.flat_fees:
        out += ["| Item | Member | Date | Quantity |", "|---|---|---|---:|"]
        out += [
            f"| {_fee_name(f.kind)} | {f.member} | {f.day} | "
            f"{f'{f.person_days} person-day(s)' if f.kind == ledger.FeeKind.TRAINING else '1'} |"
            for f in result.flat_fees
        ]
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


def _fee_name(kind: ledger.FeeKind) -> str:
    return "Training" if kind == ledger.FeeKind.TRAINING else "Knowledge transfer"


CSV_COLUMNS = [
    "section",
    "item",
    "category",
    "member",
    "date",
    "effort_minutes",
    "billed_minutes",
    "package_minutes",
    "invoiced_minutes",
    "remaining_minutes",
    "quantity",
]


def render_csv(result: ledger.Statement) -> str:
    """One line item per row; empty cells where a figure does not apply."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in result.cases:
        writer.writerow(
            {
                "section": "case",
                "item": c.case,
                "category": c.category.value,
                "effort_minutes": c.effort,
                "billed_minutes": c.billed,
                "package_minutes": c.package,
                "invoiced_minutes": c.invoiced,
            }
        )
    for m in result.members:
        row = {"section": "member", "item": m.member, "member": m.member, "category": m.category.value}
        writer.writerow(row | {"effort_minutes": m.effort})
    for p in result.packages:
        writer.writerow(
            {
                "section": "package",
                "item": p.name,
                "date": p.balance.expires_on.isoformat(),
                "package_minutes": p.used_in_month,
                "remaining_minutes": p.balance.remaining,
            }
        )
    for f in result.flat_fees:
        writer.writerow(
            {
                "section": "flatfee",
                "item": f.kind.value,
                "member": f.member,
                "date": f.day.isoformat(),
                "quantity": f.person_days if f.kind == ledger.FeeKind.TRAINING else 1,
            }
        )
    totals = result.totals
    writer.writerow(
        {
            "section": "total",
            "item": result.month,
            "effort_minutes": sum(c.effort for c in result.cases),
            "billed_minutes": totals.billed,
            "package_minutes": totals.package,
            "invoiced_minutes": totals.invoiced,
        }
    )
    return buffer.getvalue()


def _month(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        ledger.month_bounds(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


@main.command()
@connection_options
@click.option("--contract", required=True, help="The SupportContract.")
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
@click.option(
    "--format", "output", type=click.Choice(["md", "csv"]), default="md", show_default=True, help="Output."
)
@click.pass_context
def report(ctx: click.Context, contract: str, month: str, output: str) -> None:
    """The monthly statement of a contract: cases, effort per member and category, package consumption,
    time invoiced beyond packages, flat fees, reactions. An issued month shows its SupportStatement as
    issued; only a month without one is computed from the cases."""
    cluster = _cluster(ctx)
    with api_errors(f"SupportContract {contract}"):
        raw_contract = cluster.get_contract(contract)
    try:
        the_contract = SupportContract.from_k8s(_with_kind(raw_contract, "SupportContract"))
    except ValidationError as error:
        raise PluginError(f"SupportContract {contract} cannot be read: {error.errors()[0]['msg']}") from None
    with api_errors("listing SupportCases in all namespaces"):
        raw_cases = cluster.list_cases(None)
    cases = [
        _parse_case(raw)
        for raw in raw_cases
        if raw.get("spec", {}).get("contractRef", {}).get("name") == contract
    ]
    with api_errors("listing SupportStatements"):
        issued = report_view.issued(cluster.list_statements(), contract, month)
    if issued is not None:
        text = report_view.statement_markdown(the_contract, issued, hours)
        click.echo(text if output == "md" else report_view.statement_csv(issued, CSV_COLUMNS), nl=False)
        return
    result = statement(the_contract, cases, month)
    if output == "csv":
        click.echo(render_csv(result), nl=False)
        return
    reactions = report_view.reactions_markdown(report_view.running_reactions(the_contract, cases, month))
    note = "Not issued yet: computed from the SupportCases as they are now.\n"
    click.echo(render_markdown(the_contract, result) + "\n".join(reactions) + "\n\n" + note, nl=False)


# --- commands in their own modules (imported last: they use the helpers above) ---------------------------

from support_operator.cli import diagnostics as _diagnostics  # noqa: E402
from support_operator.cli import open_case  # noqa: E402

_diagnostics.register(main)
open_case.register(main)

plugin_approve.register(main, sys.modules[__name__])  # `kubectl support approve` (cli/plugin_approve.py)
