"""The support team's remote access, and the customer's approval of the elevated role.

    kubectl support access kubeconfig --member M [--contract C]
    kubectl support access audit --audit-log FILE [--case C] [--member M] [--since 2h]
    kubectl support approve CASE [--for 2h] --reason R [--revoke]

`approve` is the customer's command, under contracts with `access.elevation.approval: Required`. It writes
spec.elevationApproval on the case - the customer's part of the spec; the operator reads it and never
writes spec. kube-apiserver refuses the record unless the approver (or who revokes) is the requesting user
and no support identity (deploy/base/admission/case-elevation-approval.yaml).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from kubernetes import client

from support_operator import constants
from support_operator.access import approval
from support_operator.api.v1alpha1 import AccessMode, SupportContract
from support_operator.cli import access_audit
from support_operator.cli.plugin.connection import (
    MEMBER_ENV,
    MERGE_PATCH,
    Cluster,
    PluginError,
    api_errors,
    cluster_of,
    connection_options,
    iso,
    load_case,
    optional_contract,
    utc_now,
)
from support_operator.cli.plugin.scope import default_member
from support_operator.domain.sla import parse_duration


@click.group()
def access() -> None:
    """Remote access of the support team."""


@access.command("kubeconfig")
@connection_options
@click.option("--member", envvar=MEMBER_ENV, help=f"Team member (default: ${MEMBER_ENV}, else $USER).")
@click.option("--contract", help="SupportContract (default: the only one there is).")
@click.option(
    "--operator-namespace",
    envvar="SUPPORT_OPERATOR_NAMESPACE",
    default=constants.DEFAULT_NAMESPACE,
    show_default=True,
    help="Namespace the operator keeps kubeconfig Secrets in.",
)
@click.pass_context
def access_kubeconfig(
    ctx: click.Context, member: str | None, contract: str | None, operator_namespace: str
) -> None:
    """Print a member's kubeconfig for the customer platform."""
    member = member or default_member()
    if not member:
        raise click.BadParameter(f"pass --member or set ${MEMBER_ENV}", param_hint="--member")
    cluster = cluster_of(ctx)
    name = contract or _only_contract(cluster)
    the_contract = optional_contract(cluster, name)
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
    cluster = cluster_of(ctx)
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


# --- approve -------------------------------------------------------------------------------------------


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
        "approvedAt": iso(now),
        "expiresAt": iso(now + lasting),
        "revokedAt": None,  # a new approval replaces a revoked one
        "revokedBy": None,
    }
    return {"spec": {"elevationApproval": record}}


def revocation_patch(user: str, now: dt.datetime) -> dict[str, Any]:
    return {"spec": {"elevationApproval": {"revokedAt": iso(now), "revokedBy": user}}}


@click.command()
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
    cluster = cluster_of(ctx)
    raw, case = load_case(cluster, case_ref)
    namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
    contract = optional_contract(cluster, case.spec.contract_ref.name)
    if contract is not None and not approval.required(contract):
        click.echo(
            f"Note: SupportContract {contract.metadata.name} does not require approval "
            "(access.elevation.approval); the record is kept but changes nothing",
            err=True,
        )
    if not approval.wants_elevation(case):
        raise PluginError(f"{namespace}/{name} is no production incident: nothing to elevate")
    now = utc_now()
    with api_errors(f"SupportCase {namespace}/{name}"):
        user = whoami(cluster.api)  # type: ignore[attr-defined]  # a KubeCluster: approve needs a real one
        if revoke:
            if case.spec.elevation_approval is None:
                raise PluginError(f"{namespace}/{name} has no approval to revoke")
            cluster.patch_case(namespace, name, revocation_patch(user, now), MERGE_PATCH)
        else:
            assert reason is not None
            cluster.patch_case(namespace, name, approval_patch(user, reason, duration, now), MERGE_PATCH)
    if revoke:
        click.echo(f"{namespace}/{name}: elevation approval revoked by {user}")
    else:
        click.echo(f"{namespace}/{name}: elevation approved by {user} until {iso(now + duration)}")
