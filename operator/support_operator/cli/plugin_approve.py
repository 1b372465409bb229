"""`kubectl support approve CASE [--for 2h] --reason "…" [--revoke]`: the customer approves (or revokes) the
elevated role for a production incident, under contracts with `access.elevation.approval: Required`.

It writes spec.elevationApproval on the case - the customer's part of the spec; the operator reads it and
never writes spec. kube-apiserver refuses the record unless the approver (or who revokes) is the requesting
user and no support identity (deploy/base/admission/case-elevation-approval.yaml).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import click
from kubernetes import client

from support_operator.access import approval
from support_operator.domain.sla import parse_duration

MERGE_PATCH = "application/merge-patch+json"


def whoami(api: client.ApiClient) -> str:
    """The requesting user's name as the API server sees it (SelfSubjectReview)."""
    review = client.AuthenticationV1Api(api).create_self_subject_review(
        client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview")
    )
    return str(review.status.user_info.username)


def approval_patch(user: str, reason: str, lasting: dt.timedelta, now: dt.datetime) -> dict[str, Any]:
    record = {
        "approver": user,
        "reason": reason,
        "approvedAt": _iso(now),
        "expiresAt": _iso(now + lasting),
        "revokedAt": None,  # a new approval replaces a revoked one
        "revokedBy": None,
    }
    return {"spec": {"elevationApproval": record}}


def revocation_patch(user: str, now: dt.datetime) -> dict[str, Any]:
    return {"spec": {"elevationApproval": {"revokedAt": _iso(now), "revokedBy": user}}}


def register(main: click.Group, helpers: Any) -> None:
    """Adds `approve` to the plugin; `helpers` is plugin.py (connection, errors, case loading)."""
    connection_options: Callable[[Callable[..., None]], Callable[..., None]] = helpers.connection_options

    @main.command()
    @connection_options
    @click.argument("case_ref", metavar="CASE")
    @click.option("--for", "lasting", default="2h", show_default=True, help="How long the approval lasts.")
    @click.option("--reason", help="Why the elevation is approved (required unless --revoke).")
    @click.option("--revoke", is_flag=True, help="End the approval now: the elevated role is removed.")
    @click.pass_context
    def approve(ctx: click.Context, case_ref: str, lasting: str, reason: str | None, revoke: bool) -> None:
        """Approve the support team's elevated role for the production incident CASE (contracts with
        access.elevation.approval: Required), or --revoke it."""
        try:
            duration = parse_duration(lasting)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--for") from None
        if not revoke and not reason:
            raise click.BadParameter("say why the elevation is approved", param_hint="--reason")
        cluster = helpers._cluster(ctx)
        raw, case = helpers._load_case(cluster, case_ref)
        namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
        contract = helpers._optional_contract(cluster, case.spec.contract_ref.name)
        if contract is not None and not approval.required(contract):
            click.echo(
                f"Note: SupportContract {contract.metadata.name} does not require approval "
                "(access.elevation.approval); the record is kept but changes nothing",
                err=True,
            )
        if not approval.wants_elevation(case):
            raise helpers.PluginError(f"{namespace}/{name} is no production incident: nothing to elevate")
        now = helpers._now()
        with helpers.api_errors(f"SupportCase {namespace}/{name}"):
            user = whoami(cluster.api)
            if revoke:
                if case.spec.elevation_approval is None:
                    raise helpers.PluginError(f"{namespace}/{name} has no approval to revoke")
                cluster.patch_case(namespace, name, revocation_patch(user, now), MERGE_PATCH)
            else:
                assert reason is not None
                cluster.patch_case(namespace, name, approval_patch(user, reason, duration, now), MERGE_PATCH)
        if revoke:
            click.echo(f"{namespace}/{name}: elevation approval revoked by {user}")
        else:
            until = _iso(now + duration)
            click.echo(f"{namespace}/{name}: elevation approved by {user} until {until}")


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
