"""`support-operator access audit` (and `kubectl support access audit`): what the support team did, from
kube-apiserver's audit log.

Support identities come from the contracts' status: each identity's user name (ServiceAccount, OpenShift
user, Rancher principal) and the credential id (JTI) of every token the operator minted. `--case` limits
the listing to the case's elevation window: from the report (or the customer's approval) until the
incident was resolved, the approval ended or the maximum duration passed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from support_operator import clock
from support_operator.access import approval
from support_operator.api.v1alpha1 import IdentityKind, SupportCase, SupportContract
from support_operator.domain.sla import parse_duration
from support_operator.status.case import report_time

CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
RANCHER_PRINCIPAL = "principalid"  # Rancher's impersonation extra: the user's principal IDs


@dataclass(frozen=True)
class Who:
    contract: str
    member: str


@dataclass(frozen=True)
class AuditRow:
    time: str
    contract: str
    member: str
    user: str
    verb: str
    resource: str
    namespace: str
    name: str
    code: int
    credential_id: str


@dataclass
class SupportIdentities:
    """User names and credential ids of the support team, each with its contract and member."""

    users: dict[str, Who]
    credentials: dict[str, Who]

    @classmethod
    def of(cls, contracts: Iterable[SupportContract], member: str | None = None) -> SupportIdentities:
        users: dict[str, Who] = {}
        credentials: dict[str, Who] = {}
        for contract in contracts:
            status = contract.status
            name = contract.metadata.name
            for identity in (status.identities or []) if status else []:
                if member is not None and identity.member not in (member, "team"):
                    continue
                who = Who(name, identity.member)
                if identity.kind == IdentityKind.SERVICE_ACCOUNT and identity.service_account:
                    account = identity.service_account
                    users[f"system:serviceaccount:{account.namespace}:{account.name}"] = who
                elif identity.username:
                    users[identity.username] = who
            for token in (status.tokens or []) if status else []:
                if member is None or token.member in (member, "team"):
                    credentials[token.credential_id] = Who(name, token.member)
        return cls(users, credentials)

    def match(self, event: dict[str, Any]) -> tuple[Who, str] | None:
        """(who, user name) when a support identity made the request, directly or impersonated."""
        user = event.get("user") or {}
        acting = event.get("impersonatedUser") or user
        extra = acting.get("extra") or {}
        for credential in (user.get("extra") or {}).get(CREDENTIAL_ID, []):
            if credential in self.credentials:
                return self.credentials[credential], str(user.get("username", ""))
        for name in (acting.get("username"), *extra.get(RANCHER_PRINCIPAL, [])):
            if name in self.users:
                return self.users[name], str(acting.get("username", name))
        return None


def elevation_window(
    case: SupportCase, contract: SupportContract, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """When the case's elevation could have been in force: the planner's window, cut at resolution."""
    access = contract.spec.access
    longest = parse_duration(access.elevation_max_duration) if access else dt.timedelta(0)
    start = report_time(case)
    end = start + longest
    if approval.required(contract):
        granted = approval.window(case)
        if granted is None:
            return start, start
        start, end = max(start, granted[0]), min(end, granted[1])
    settled = [t for t in (case.status.resolved_at, case.status.closed_at) if t] if case.status else []
    return start, min([end, now, *settled])


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The audit log's completed requests (JSON lines; other lines are skipped)."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("stage") in ("ResponseComplete", "Panic"):
                yield event


def audit_rows(
    events: Iterable[dict[str, Any]],
    identities: SupportIdentities,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[AuditRow]:
    rows = []
    for event in events:
        found = identities.match(event)
        if found is None:
            continue
        at = clock.parse_instant(event.get("requestReceivedTimestamp"))
        if at is None or (since is not None and at < since) or (until is not None and at > until):
            continue
        who, user = found
        ref = event.get("objectRef") or {}
        resource = "/".join(p for p in (ref.get("resource"), ref.get("subresource")) if p)
        group = ref.get("apiGroup")
        credentials = ((event.get("user") or {}).get("extra") or {}).get(CREDENTIAL_ID, [""])
        rows.append(
            AuditRow(
                time=at.isoformat().replace("+00:00", "Z"),
                contract=who.contract,
                member=who.member,
                user=user,
                verb=str(event.get("verb", "")),
                resource=f"{resource}.{group}"
                if group and resource
                else resource or event.get("requestURI", ""),
                namespace=str(ref.get("namespace", "")),
                name=str(ref.get("name", "")),
                code=int((event.get("responseStatus") or {}).get("code", 0)),
                credential_id=credentials[0],
            )
        )
    return rows


def render(rows: list[AuditRow], output: str) -> str:
    if output == "json":
        return json.dumps([asdict(r) for r in rows], indent=2)
    if not rows:
        return "No requests by support identities."
    header = ("TIME", "CONTRACT", "MEMBER", "VERB", "RESOURCE", "NAMESPACE", "NAME", "CODE")
    table = [header] + [
        (r.time, r.contract, r.member, r.verb, r.resource, r.namespace, r.name, str(r.code)) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table
    )


def parse_since(text: str | None, now: dt.datetime) -> dt.datetime | None:
    """`--since`: a duration back from now (2h, 30m) or an RFC 3339 time."""
    if not text:
        return None
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: a duration (2h) or an RFC 3339 time", param_hint="--since"
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)


def run(
    api: Any,
    audit_log: Path,
    case_ref: str | None,
    contract_name: str | None,
    member: str | None,
    since_text: str | None,
    default_namespace: str,
) -> list[AuditRow]:
    """Reads contracts (and the case) from the cluster, then the audit log; ClickException on problems."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    from support_operator.api.v1alpha1 import CASE_PLURAL, CONTRACT_PLURAL, GROUP, VERSION

    objects = client.CustomObjectsApi(api)
    now = dt.datetime.now(dt.UTC)
    since = parse_since(since_text, now)
    until = None
    try:
        case = None
        if case_ref:
            namespace, _, name = case_ref.rpartition("/")
            raw = objects.get_namespaced_custom_object(
                GROUP, VERSION, namespace or default_namespace, CASE_PLURAL, name
            )
            case = SupportCase.from_k8s({"apiVersion": f"{GROUP}/{VERSION}", "kind": "SupportCase", **raw})
            contract_name = case.spec.contract_ref.name
        if contract_name:
            raw = objects.get_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, contract_name)
            listed = [raw]
        else:
            listed = objects.list_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL).get("items", [])
    except ApiException as error:
        raise click.ClickException(
            f"reading SupportContracts/SupportCases: {error.status} {error.reason}"
        ) from None
    contracts = [
        SupportContract.from_k8s({"apiVersion": f"{GROUP}/{VERSION}", "kind": "SupportContract", **item})
        for item in listed
    ]
    if case is not None:
        start, until = elevation_window(case, contracts[0], now)
        since = max(since, start) if since else start
    if not audit_log.is_file():
        raise click.ClickException(f"no audit log at {audit_log} (see docs/access.md for where it lives)")
    return audit_rows(read_events(audit_log), SupportIdentities.of(contracts, member), since, until)


def options(command: Any) -> Any:
    """The options `support-operator access audit` and `kubectl support access audit` share."""
    for option in reversed(
        [
            click.option(
                "--audit-log",
                required=True,
                type=click.Path(dir_okay=False, path_type=Path),
                help="kube-apiserver's audit log (JSON lines); docs/access.md says where it lives.",
            ),
            click.option(
                "--case", "case_ref", help="Only the elevation window of this case (NAMESPACE/NAME)."
            ),
            click.option("--contract", help="Only this contract's team (default: every contract's)."),
            click.option("--member", help="Only this team member."),
            click.option("--since", help="Only requests since then: a duration (2h) or an RFC 3339 time."),
            click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table"),
        ]
    ):
        command = option(command)
    return command
