"""`kubectl support open`: the supporter who takes a customer's call opens the case (reportedVia: Phone).

    kubectl support open --contract C --title T --impact Production|NonProduction
        [--category Incident|Consultation] --reporter-name N (--phone P | --email E)
        [--reported-at WHEN] [--description D] [-n NS] [--affected NS ...]

The reaction clock starts at the call: --reported-at takes RFC 3339, or a local time (HH:MM or
YYYY-MM-DD HH:MM) in the contract's time zone; default now. It prints the case's name, priority and
reaction deadline (in the contract's time zone) once the operator has computed them.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import click
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from support_operator.api.v1alpha1 import (
    CaseCategory,
    Impact,
    ReportChannel,
    Reporter,
    SupportContract,
)
from support_operator.cli.plugin.connection import (
    DNS_LABEL,
    Cluster,
    Obj,
    PluginError,
    api_errors,
    cluster_of,
    connection_options,
    contract_zone,
    iso,
    server_message,
    utc_now,
    with_kind,
)

STATUS_WAIT_SECONDS = 10.0
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


@click.command("open")
@connection_options
@click.option("--contract", required=True, help="The SupportContract the case is filed under.")
@click.option("--title", required=True, help="One-line summary of the problem (at most 200 characters).")
@click.option(
    "--impact", required=True, type=click.Choice([i.value for i in Impact]), help="Is production affected?"
)
@click.option(
    "--category",
    type=click.Choice([c.value for c in CaseCategory]),
    default=CaseCategory.INCIDENT.value,
    show_default=True,
    help="Incident or Consultation.",
)
@click.option("--reporter-name", required=True, help="Who called.")
@click.option("--phone", help="The caller's phone number, e.g. +41 31 370 22 00.")
@click.option("--email", help="The caller's e-mail address; receives the confirmation.")
@click.option(
    "--reported-at",
    help="When the customer called: RFC 3339, or HH:MM / YYYY-MM-DD HH:MM in the contract's time zone "
    "(default: now).",
)
@click.option("--description", help="What the caller described.")
@click.option("--affected", multiple=True, metavar="NAMESPACE", help="Affected namespace (repeatable).")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=STATUS_WAIT_SECONDS,
    show_default=True,
    help="Seconds to wait for the operator's priority and deadline.",
)
@click.pass_context
def open_case(
    ctx: click.Context,
    contract: str,
    title: str,
    impact: str,
    category: str,
    reporter_name: str,
    phone: str | None,
    email: str | None,
    reported_at: str | None,
    description: str | None,
    affected: tuple[str, ...],
    wait: float,
) -> None:
    """Open a case reported by phone: prints its name, priority and reaction deadline."""
    reporter = _reporter(reporter_name, phone, email)
    bad = [ns for ns in affected if not DNS_LABEL.match(ns)]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not a namespace name", param_hint="--affected")
    if len(title) > 200:
        raise click.BadParameter("at most 200 characters", param_hint="--title")
    cluster = cluster_of(ctx)
    the_contract = _contract(cluster, contract)
    zone = contract_zone(the_contract)
    reported = _reported_at(reported_at, zone)
    spec: Obj = {
        "contractRef": {"name": contract},
        "title": title,
        "category": category,
        "impact": impact,
        "reportedAt": iso(reported),
        "reportedVia": ReportChannel.PHONE.value,
        "reporter": reporter.to_json_dict(),
    }
    if description:
        spec["description"] = description
    if affected:
        spec["affectedNamespaces"] = list(dict.fromkeys(affected))
    body = {
        "apiVersion": "support.puzzle.ch/v1alpha1",
        "kind": "SupportCase",
        "metadata": {"generateName": f"{_slug(title)}-"},
        "spec": spec,
    }
    with api_errors(f"opening a SupportCase in namespace {cluster.namespace}"):
        created = cluster.create_case(cluster.namespace, body)
    namespace, name = created["metadata"]["namespace"], created["metadata"]["name"]
    click.echo(f"{namespace}/{name} opened: reported by phone at {_local(reported, zone)}")
    status = _wait_for_status(cluster, namespace, name, wait)
    if not (status.get("priority") and status.get("reaction")):
        not_ready = _not_ready(status)
        if not_ready:  # e.g. a contract this identity could not check: the operator says what is wrong
            raise PluginError(f"{namespace}/{name} is not tracked: {not_ready}")
        click.echo(
            f"priority and reaction deadline: not computed by the operator yet (within {wait:g} s); "
            f"see `kubectl support queue -n {namespace}`"
        )
        return
    reaction = status["reaction"]
    deadline = dt.datetime.fromisoformat(reaction["deadline"].replace("Z", "+00:00"))
    click.echo(f"priority {status['priority']}, reaction by {_local(deadline, zone)} ({reaction['target']})")


def _reporter(name: str, phone: str | None, email: str | None) -> Reporter:
    if not phone and not email:
        raise click.UsageError("give the caller's --phone or --email (or both), so the team can call back")
    try:
        return Reporter(name=name, phone=phone, email=email)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "reporter"
        option = {"name": "--reporter-name"}.get(field, f"--{field}")
        raise click.BadParameter(first["msg"], param_hint=option) from None


def _contract(cluster: Cluster, name: str) -> SupportContract | None:
    """The contract; None when the caller may not read contracts (the case still opens: the operator
    checks it). A contract that does not exist is an error before anything is written."""
    try:
        raw = cluster.get_contract(name)
    except ApiException as error:
        if error.status == 404:
            raise PluginError(f"SupportContract {name}: not found") from None
        if error.status in (401, 403):
            return None
        raise PluginError(f"SupportContract {name}: {server_message(error)}") from None
    try:
        return SupportContract.from_k8s(with_kind(raw, "SupportContract"))
    except ValidationError:
        return None


def _reported_at(text: str | None, zone: dt.tzinfo | None) -> dt.datetime:
    now = utc_now()
    if text is None:
        return now
    instant = _parse_time(text.strip(), zone, now)
    if instant > now + dt.timedelta(minutes=1):
        raise click.BadParameter(f"{text!r} is in the future", param_hint="--reported-at")
    return instant.replace(microsecond=0)


def _parse_time(text: str, zone: dt.tzinfo | None, now: dt.datetime) -> dt.datetime:
    try:
        instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if instant.tzinfo is not None:
            return instant
    except ValueError:
        instant = None
    if instant is None:
        instant = next((parsed for f in _LOCAL_FORMATS if (parsed := _strptime(text, f))), None)
    if instant is None and (clock := _strptime(text, "%H:%M")) is not None:
        today = now.astimezone(zone or dt.UTC).date()
        instant = dt.datetime.combine(today, clock.time())
    if instant is None:
        raise click.BadParameter(
            f"{text!r}: expected RFC 3339 (2026-11-23T14:05:00+01:00), YYYY-MM-DD HH:MM or HH:MM",
            param_hint="--reported-at",
        )
    if zone is None:
        raise click.BadParameter(
            f"{text!r} has no UTC offset and the contract's time zone cannot be read: add one (+01:00, Z)",
            param_hint="--reported-at",
        )
    return instant.replace(tzinfo=zone)


def _strptime(text: str, pattern: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, pattern)
    except ValueError:
        return None


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].rstrip("-")
    return slug or "phone"


def _local(instant: dt.datetime, zone: dt.tzinfo | None) -> str:
    if zone is None:
        return f"{iso(instant)} (UTC; the contract's time zone cannot be read)"
    name = zone.key if isinstance(zone, ZoneInfo) else str(zone)
    return f"{instant.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')} ({name})"


def _wait_for_status(cluster: Cluster, namespace: str, name: str, seconds: float) -> dict[str, Any]:
    """The case's status once the operator has set priority and reaction, or as it is after `seconds`
    (a Ready=False can be transient: the operator may not have seen a new contract yet)."""
    deadline = time.monotonic() + seconds
    while True:
        with api_errors(f"SupportCase {namespace}/{name}"):
            status: dict[str, Any] = cluster.get_case(namespace, name).get("status") or {}
        if (status.get("priority") and status.get("reaction")) or time.monotonic() >= deadline:
            return status
        time.sleep(0.5)


def _not_ready(status: dict[str, Any]) -> str | None:
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") != "False":
        return None
    return f"{ready.get('reason')}: {ready.get('message')}"
