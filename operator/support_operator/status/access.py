"""Adapter between a SupportContract and the access planner/provisioner: which request, which condition."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from support_operator.access import approval
from support_operator.access.outcome import AccessOutcome, Change
from support_operator.access.plan import (
    AccessPlan,
    AccessRequest,
    OpenIncident,
    PlatformTraits,
    describe,
    plan_access,
)
from support_operator.access.protected import ProtectedNamespaces
from support_operator.api.v1alpha1 import IdentityStatus, SupportCase, SupportContract, reasons
from support_operator.api.v1alpha1.contract import SkippedNamespace, TokenRecord
from support_operator.status.case import is_open, report_time
from support_operator.status.conditions import Desired, EventNote
from support_operator.status.contract import Availability


@dataclass(frozen=True)
class AccessResult:
    """What the contract's status shows of its access."""

    condition: Desired
    identities: list[IdentityStatus] | None
    events: list[EventNote] = field(default_factory=list)
    recheck_at: dt.datetime | None = None
    minted: list[TokenRecord] = field(default_factory=list)
    granted_namespaces: list[str] | None = None
    skipped: list[SkippedNamespace] | None = None


def open_incidents(cases: Iterable[SupportCase]) -> tuple[OpenIncident, ...]:
    """Open production incidents: while one is open its affected namespaces get the elevated role."""
    return tuple(
        OpenIncident(
            namespace=case.metadata.namespace or "",
            name=case.metadata.name,
            affected_namespaces=tuple(case.spec.affected_namespaces or ()),
            since=report_time(case),
            approved_at=window[0] if (window := approval.window(case)) else None,
            approved_until=window[1] if window else None,
        )
        for case in cases
        if is_open(case) and approval.wants_elevation(case)
    )


def access_request(
    contract: SupportContract,
    cases: Iterable[SupportCase],
    namespaces: Mapping[str, Mapping[str, str]],
    allowed_roles: Iterable[str],
    max_token_ttl: dt.timedelta,
    platform: PlatformTraits,
    protected: ProtectedNamespaces | None = None,
) -> AccessRequest | None:
    """None when the contract asks for no access."""
    if contract.spec.access is None:
        return None
    return AccessRequest(
        contract=contract.metadata.name,
        access=contract.spec.access,
        team=tuple(contract.spec.team),
        namespaces=namespaces,
        incidents=open_incidents(cases),
        allowed_roles=frozenset(allowed_roles),
        max_token_ttl=max_token_ttl,
        platform=platform,
        **({"protected": protected} if protected is not None else {}),
    )


def plan_for(request: AccessRequest | None, usable: Availability, now: dt.datetime) -> AccessPlan:
    """The plan to apply: nothing at all for an unusable contract or one without access (revocation)."""
    if request is None or not usable.usable:
        return AccessPlan()
    return plan_access(request, now)


def result(
    request: AccessRequest | None, usable: Availability, plan: AccessPlan, outcome: AccessOutcome | None
) -> AccessResult:
    events = [
        EventNote("Warning" if "Revoked" in c.reason else "Normal", c.reason, c.message)
        for c in _changes(outcome)
    ]
    if request is None:
        return AccessResult(
            Desired(reasons.ACCESS_PROVISIONED, False, reasons.NOT_REQUESTED, "spec.access is not set"),
            None,
            events,
        )
    if not usable.usable:
        message = f"access revoked while the contract is {usable.reason}: {usable.message}"
        return AccessResult(
            Desired(reasons.ACCESS_PROVISIONED, False, reasons.contract_unusable(usable.reason), message),
            [],
            events,
        )
    if plan.refused:
        message = f"nothing was granted: {describe(plan)}"
        return AccessResult(
            Desired(reasons.ACCESS_PROVISIONED, False, reasons.FORBIDDEN, message), [], events
        )
    assert outcome is not None
    recheck = [t for t in (outcome.rotate_at, plan.next_change_at) if t is not None]
    return AccessResult(
        Desired(reasons.ACCESS_PROVISIONED, True, reasons.PROVISIONED, describe(plan)),
        outcome.identities,
        events,
        min(recheck) if recheck else None,
        minted=outcome.minted,
        granted_namespaces=sorted({b.namespace for b in plan.bindings if b.purpose == "base"}),
        skipped=[SkippedNamespace(name=name, reason=why) for name, why in plan.skipped],
    )


def _changes(outcome: AccessOutcome | None) -> list[Change]:
    return outcome.changes if outcome is not None else []
