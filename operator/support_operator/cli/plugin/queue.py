"""`kubectl support queue [-A | -n NAMESPACE] [--contract C] [-o table|wide|json|yaml]`: the open cases in the
order the team works on them, with reaction deadline and business time left."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import click
import yaml
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from support_operator.api.v1alpha1 import OPEN_STATES, SupportCase, SupportContract
from support_operator.cli.plugin.connection import (
    Cluster,
    Obj,
    PluginError,
    api_errors,
    cluster_of,
    connection_of,
    connection_options,
    contract_zone,
    iso,
    parse_case,
    utc_now,
)
from support_operator.cli.plugin.scope import cases_in_contract_scope, context_extension
from support_operator.domain import sla
from support_operator.domain.calendar import to_epoch_us
from support_operator.domain.queue import priority_class
from support_operator.status.case import domain_category, domain_impact, report_time
from support_operator.status.policy import reaction_policy


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
            "deadline": iso(self.deadline) if self.deadline else None,
            "businessSecondsLeft": int(self.left.total_seconds()) if self.left is not None else None,
            "reportedAt": iso(self.reported_at),
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
            clock = sla.ReactionClock.start(
                reaction_policy(contract.spec),
                report_time(case),
                category,
                impact,
                case.spec.analysis_started_at,
                reaction.state if reaction else None,
            )
            reading = clock.read(to_epoch_us(now))
            state, deadline = reading.state.value, clock.deadline
            left = reading.remaining if reading.state == sla.ReactionState.PENDING else None
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
        zone=contract_zone(contract),
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


@click.command()
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
    cluster = cluster_of(ctx)
    namespace = (
        cluster.namespace if connection_of(ctx).namespace and not connection_of(ctx).all_namespaces else None
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
            cases.append(parse_case(raw))
        except PluginError as error:  # one unreadable case must not hide the queue
            click.echo(f"Warning: {error.message}", err=True)
    if contract is not None:
        cases = [case for case in cases if case.spec.contract_ref.name == contract]
    now = utc_now()
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
            connection = connection_of(ctx)
            own = contract or context_extension(connection.kubeconfig, connection.context).get("contract")
            if error.status != 403 or namespace is not None or not own:
                raise
            return cases_in_contract_scope(cluster, own)
