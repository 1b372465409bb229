"""What access a contract grants, as data: identities, role bindings, refusals. Pure: no API calls.

`access.manifests` turns the plan into the objects it asks for, `access.provisioner` applies them;
everything carries the contract label, so revocation is "delete what is labelled and no longer planned".
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from support_operator import constants
from support_operator.access.protected import ProtectedNamespaces
from support_operator.api.v1alpha1 import AccessMode, AccessSpec, LabelSelector, TeamMember
from support_operator.api.v1alpha1.contract import ApprovalMode
from support_operator.domain.sla import parse_duration

LABEL_CONTRACT = constants.LABEL_CONTRACT
LABEL_IDENTITY = constants.LABEL_IDENTITY
LABEL_PURPOSE = constants.LABEL_PURPOSE
ANNOTATION_EXPIRES = constants.ANNOTATION_EXPIRES
ANNOTATION_CASE = constants.ANNOTATION_CASE
MANAGED_BY = {"app.kubernetes.io/managed-by": constants.OPERATOR_NAME}
TEAM_IDENTITY = "team"
MIN_TOKEN_TTL = dt.timedelta(minutes=10)
# Never granted, whatever the operator's allow-list says: they are cluster-wide super powers.
FORBIDDEN_ROLES = frozenset({"cluster-admin", "system:masters"})
# Bound next to the base roles in every scoped namespace: the support side's part of a SupportCase
# (deploy/base/rbac/support-case-worker.yaml). Shipped with the operator, not chosen by the contract.
CASE_WORKER_ROLE = "support-case-worker"
# The custom RBAC verb on a SupportContract that marks its support identities: the admission policies ask
# kube-apiserver's authorizer for it (deploy/base/admission, docs/access.md).
SUPPORT_VERB = "support"


@dataclass(frozen=True)
class Subject:
    kind: str  # ServiceAccount | User | Group
    name: str
    namespace: str | None = None


@dataclass(frozen=True)
class Identity:
    """One identity of the team: a ServiceAccount (token, kubeconfig) or a platform user."""

    name: str  # member name, or "team"
    kind: str  # ServiceAccount | OpenShiftUser | RancherPrincipal
    service_account: str | None
    username: str | None
    members: tuple[str, ...]  # members sharing it (team mode: all)

    @property
    def subject(self) -> Subject:
        if self.kind == "ServiceAccount":
            assert self.service_account is not None
            return Subject("ServiceAccount", self.service_account)
        assert self.username is not None
        return Subject("User", self.username)

    @property
    def fingerprint(self) -> str:
        """Changes when the people behind the identity change: a shared token is then rotated."""
        return hashlib.sha256(",".join(sorted(self.members)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Binding:
    namespace: str
    name: str
    role: str
    purpose: str  # base | elevated
    subjects: tuple[Subject, ...]
    case: str | None = None  # namespace/name of the incident behind an elevation
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class OpenIncident:
    """An open production incident of the contract: its affected namespaces get the elevated role."""

    namespace: str
    name: str
    affected_namespaces: tuple[str, ...]
    since: dt.datetime
    approved_at: dt.datetime | None = None  # the customer's approval (contracts that require one)
    approved_until: dt.datetime | None = None  # its end, or when it was revoked


@dataclass(frozen=True)
class OpenShiftGroup:
    """The Group the operator maintains for members bound by their OpenShift user names."""

    name: str
    users: tuple[str, ...]


@dataclass(frozen=True)
class ContractReader:
    """The ClusterRole (+ ClusterRoleBinding) letting the team read its own contract, by resourceNames; its
    `support` verb is what the admission policies recognise support identities by."""

    name: str
    contract: str
    subjects: tuple[Subject, ...]


@dataclass(frozen=True)
class AccessPlan:
    identities: tuple[Identity, ...] = ()
    group: OpenShiftGroup | None = None
    bindings: tuple[Binding, ...] = ()
    reader: ContractReader | None = None
    skipped: tuple[tuple[str, str], ...] = ()  # protected namespaces left out, with the reason
    refusals: tuple[str, ...] = ()
    missing_namespaces: tuple[str, ...] = ()
    token_ttl: dt.timedelta = dt.timedelta(hours=1)
    next_change_at: dt.datetime | None = None  # an elevation expires

    @property
    def refused(self) -> bool:
        return bool(self.refusals)


@dataclass(frozen=True)
class PlatformTraits:
    """What the platform offers for personal identities instead of tokens."""

    openshift_users: bool = False  # user.openshift.io served: bind platformUsername
    rancher_principals: bool = False  # bind rancherPrincipal


@dataclass(frozen=True)
class AccessRequest:
    contract: str
    access: AccessSpec
    team: tuple[TeamMember, ...]
    namespaces: Mapping[str, Mapping[str, str]]  # existing namespaces and their labels
    incidents: tuple[OpenIncident, ...] = ()
    allowed_roles: frozenset[str] = frozenset()
    max_token_ttl: dt.timedelta = dt.timedelta(hours=24)
    platform: PlatformTraits = field(default_factory=PlatformTraits)
    protected: ProtectedNamespaces = field(default_factory=lambda: ProtectedNamespaces("support-operator"))

    @property
    def approval_required(self) -> bool:
        elevation = self.access.elevation
        return elevation is not None and elevation.approval == ApprovalMode.REQUIRED


def object_name(*parts: str, limit: int = 63) -> str:
    """`support-<parts>`, shortened with a hash when longer than `limit` (names end up in labels)."""
    name = "-".join(("support", *parts))
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def refusals(request: AccessRequest) -> list[str]:
    """Why the contract's access cannot be granted as asked; empty when it can."""
    access = request.access
    problems = []
    for role in (*access.base_roles, access.elevated_role):
        if role in FORBIDDEN_ROLES or role.startswith("system:"):
            problems.append(f"role {role} is never granted to the support team")
        elif role not in request.allowed_roles:
            allowed = ", ".join(sorted(request.allowed_roles))
            problems.append(f"role {role} is not on the operator's allow-list ({allowed})")
    for member in request.team:
        for principal in (member.platform_username, member.rancher_principal):
            if principal and principal.startswith("system:"):
                problems.append(f"member {member.name}: {principal} is a system identity, not a person")
    return sorted(set(problems))


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in (selector.match_labels or {}).items()):
        return False
    for requirement in selector.match_expressions or []:
        present, value = requirement.key in labels, labels.get(requirement.key)
        values = set(requirement.values or [])
        operator = requirement.operator.value
        if operator == "In" and not (present and value in values):
            return False
        if operator == "NotIn" and present and value in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def scoped_namespaces(request: AccessRequest) -> tuple[list[str], list[str]]:
    """(namespaces in scope that exist, listed namespaces that do not exist yet)."""
    scope = request.access.scope
    if scope.namespaces:
        present = [n for n in scope.namespaces if n in request.namespaces]
        return sorted(present), sorted(set(scope.namespaces) - set(present))
    assert scope.namespace_selector is not None
    matching = [
        n for n, labels in request.namespaces.items() if selector_matches(scope.namespace_selector, labels)
    ]
    return sorted(matching), []


def identities(request: AccessRequest) -> list[Identity]:
    if request.access.mode == AccessMode.TEAM:
        members = tuple(sorted(m.name for m in request.team))
        return [
            Identity(TEAM_IDENTITY, "ServiceAccount", object_name(request.contract, "team"), None, members)
        ]
    found = []
    for member in sorted(request.team, key=lambda m: m.name):
        if request.platform.openshift_users and member.platform_username:
            found.append(
                Identity(member.name, "OpenShiftUser", None, member.platform_username, (member.name,))
            )
        elif request.platform.rancher_principals and member.rancher_principal:
            found.append(
                Identity(member.name, "RancherPrincipal", None, member.rancher_principal, (member.name,))
            )
        else:
            account = object_name(request.contract, member.name)
            found.append(Identity(member.name, "ServiceAccount", account, None, (member.name,)))
    return found


def token_ttl(request: AccessRequest) -> dt.timedelta:
    asked = parse_duration(request.access.token_ttl)
    return min(max(asked, MIN_TOKEN_TTL), request.max_token_ttl)


def plan_access(request: AccessRequest, now: dt.datetime) -> AccessPlan:
    problems = refusals(request)
    if problems:
        return AccessPlan(refusals=tuple(problems))
    team = identities(request)
    users = tuple(sorted(i.username for i in team if i.kind == "OpenShiftUser" and i.username))
    group = OpenShiftGroup(object_name(request.contract), users) if users else None
    subjects = tuple(i.subject for i in team if i.kind != "OpenShiftUser")
    if group is not None:
        subjects += (Subject("Group", group.name),)
    matched, missing = scoped_namespaces(request)
    in_scope, skipped = request.protected.split(matched)
    for incident in request.incidents:  # named by a case: say so even when outside the scope's match
        skipped |= request.protected.split(_affected(incident))[1]
    roles = (*request.access.base_roles, CASE_WORKER_ROLE)
    bindings = [
        Binding(namespace, object_name(request.contract, role, limit=253), role, "base", subjects)
        for namespace in in_scope
        for role in dict.fromkeys(roles)
    ]
    elevated, next_change = _elevations(request, set(in_scope), subjects, now)
    reader = ContractReader(object_name("contract", request.contract, limit=253), request.contract, subjects)
    return AccessPlan(
        identities=tuple(team),
        group=group,
        bindings=tuple(bindings + elevated),
        reader=reader,
        skipped=tuple(sorted(skipped.items())),
        missing_namespaces=tuple(missing),
        token_ttl=token_ttl(request),
        next_change_at=next_change,
    )


def _elevations(
    request: AccessRequest, in_scope: set[str], subjects: tuple[Subject, ...], now: dt.datetime
) -> tuple[list[Binding], dt.datetime | None]:
    """The elevated role in each open production incident's affected namespaces, within the contract's
    scope (a case cannot widen it), until the incident is over or the maximum duration has passed."""
    longest = parse_duration(request.access.elevation_max_duration)
    bindings: dict[tuple[str, str], Binding] = {}
    next_change: dt.datetime | None = None
    for incident in request.incidents:
        window = _window(request, incident, longest)
        if window is None:
            continue
        starts, expires = window
        if expires <= now:
            continue
        if starts > now:  # approved for later: look again then
            next_change = starts if next_change is None else min(next_change, starts)
            continue
        next_change = expires if next_change is None else min(next_change, expires)
        for namespace in _affected(incident) & in_scope:
            name = object_name(request.contract, "elevated", request.access.elevated_role, limit=253)
            key = (namespace, name)
            # Several incidents in one namespace share one binding that lasts as long as the longest.
            if key not in bindings or (bindings[key].expires_at or now) < expires:
                bindings[key] = Binding(
                    namespace,
                    name,
                    request.access.elevated_role,
                    "elevated",
                    subjects,
                    case=f"{incident.namespace}/{incident.name}",
                    expires_at=expires,
                )
    return sorted(bindings.values(), key=lambda b: (b.namespace, b.name)), next_change


def _window(
    request: AccessRequest, incident: OpenIncident, longest: dt.timedelta
) -> tuple[dt.datetime, dt.datetime] | None:
    """When the incident's elevation lasts: from the report (or the customer's approval, when the contract
    requires one) until the maximum duration or the approval's end; None while it awaits approval."""
    ends = incident.since + longest
    if not request.approval_required:
        return incident.since, ends
    if incident.approved_at is None or incident.approved_until is None:
        return None
    return incident.approved_at, min(ends, incident.approved_until)


def _affected(incident: OpenIncident) -> set[str]:
    return set(incident.affected_namespaces) or {incident.namespace}


def describe(plan: AccessPlan) -> str:
    if plan.refused:
        return "; ".join(plan.refusals)
    namespaces = sorted({b.namespace for b in plan.bindings if b.purpose == "base"})
    elevated = sorted({b.namespace for b in plan.bindings if b.purpose == "elevated"})
    count = len(plan.identities)
    text = f"{count} identit{'y' if count == 1 else 'ies'} in {len(namespaces)} namespace(s)"
    if elevated:
        text += f", elevated in {_some(elevated)}"
    if plan.missing_namespaces:
        text += f"; not found yet: {_some(plan.missing_namespaces)}"
    if plan.skipped:
        text += f"; protected, never bound: {_some([name for name, _ in plan.skipped])}"
    return text


def _some(names: Sequence[str], shown: int = 20) -> str:
    """A condition message stays short whatever the scope: the first names, then how many more."""
    listed = ", ".join(names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown} more"


def members_of(identities_: Iterable[Identity]) -> set[str]:
    return {m for i in identities_ for m in i.members}
