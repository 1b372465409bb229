"""The case commands: what a supporter writes into a case's spec (never status).

kubectl support ack CASE
kubectl support state CASE InAnalysis|WaitingForCustomer|Resolved|Closed
kubectl support log CASE 1h30m "what was done" [--member M] [--date YYYY-MM-DD] [--reason R]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets

import click
from kubernetes.client.rest import ApiException

from support_operator.api.v1alpha1 import CaseState, SupportContract
from support_operator.api.v1alpha1.case import EFFORT_DURATION_MESSAGE, EFFORT_DURATION_PATTERN
from support_operator.cli.plugin.connection import (
    DNS_LABEL,
    JSON_PATCH,
    MEMBER_ENV,
    MERGE_PATCH,
    Cluster,
    Obj,
    PluginError,
    api_errors,
    cluster_of,
    connection_of,
    connection_options,
    contract_zone,
    iso,
    load_case,
    optional_contract,
    utc_now,
)
from support_operator.cli.plugin.scope import context_extension, default_member
from support_operator.status.case import domain_category, domain_impact, report_time
from support_operator.status.policy import reaction_policy


@click.command()
@connection_options
@click.argument("case_ref", metavar="CASE")
@click.pass_context
def ack(ctx: click.Context, case_ref: str) -> None:
    """Start the analysis of CASE now: the reaction the SLA measures (state InAnalysis)."""
    cluster = cluster_of(ctx)
    raw, case = load_case(cluster, case_ref)
    namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
    if case.spec.analysis_started_at is not None:
        click.echo(f"{namespace}/{name}: analysis already started at {iso(case.spec.analysis_started_at)}")
        return
    started = utc_now()
    patch = [
        {"op": "test", "path": "/spec/state", "value": CaseState.NEW.value},  # nobody acknowledged meanwhile
        {"op": "add", "path": "/spec/analysisStartedAt", "value": iso(started)},
        {"op": "replace", "path": "/spec/state", "value": CaseState.IN_ANALYSIS.value},
    ]
    with api_errors(f"acknowledging SupportCase {namespace}/{name}"):
        cluster.patch_case(namespace, name, patch, JSON_PATCH)
    verdict = ""
    contract = optional_contract(cluster, case.spec.contract_ref.name)
    if contract is not None:
        with contextlib.suppress(ValueError):
            category, impact = domain_category(case), domain_impact(case)
            deadline = reaction_policy(contract.spec).deadline(report_time(case), category, impact)
            verdict = f" (deadline {iso(deadline)}: {'in time' if started <= deadline else 'late'})"
    click.echo(f"{namespace}/{name}: analysis started at {iso(started)}{verdict}")


HUMAN_STATES = [
    CaseState.IN_ANALYSIS.value,
    CaseState.WAITING_FOR_CUSTOMER.value,
    CaseState.RESOLVED.value,
    CaseState.CLOSED.value,
]


@click.command()
@connection_options
@click.argument("case_ref", metavar="CASE")
@click.argument("new_state", metavar="STATE", type=click.Choice(HUMAN_STATES))
@click.pass_context
def state(ctx: click.Context, case_ref: str, new_state: str) -> None:
    """Set the state of CASE: InAnalysis, WaitingForCustomer, Resolved or Closed."""
    cluster = cluster_of(ctx)
    raw, case = load_case(cluster, case_ref)
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


@click.command("log", context_settings={"ignore_unknown_options": True})  # "-15m" is a duration
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
    connection = connection_of(ctx)
    member = (
        member
        or context_extension(connection.kubeconfig, connection.context).get("member")
        or default_member()
    )
    if not member or not DNS_LABEL.match(member):
        raise click.BadParameter(
            f"{member!r} is no team member name; pass --member or set ${MEMBER_ENV}", param_hint="--member"
        )
    cluster = cluster_of(ctx)
    raw, case = load_case(cluster, case_ref)
    namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
    contract = optional_contract(cluster, case.spec.contract_ref.name)
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
        return dt.datetime.now(contract_zone(contract) or dt.UTC).date()
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
