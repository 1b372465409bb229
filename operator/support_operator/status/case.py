"""SupportCase: from spec, its contract and the clock to the desired status. Pure: no API calls.

The reaction result, once Met or Breached, is final; the deadline follows the current category and impact
from the original report time; closed cases keep their status when the contract's calendar changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from support_operator.access import approval
from support_operator.access.entitlement import NOT_ENTITLED
from support_operator.api.v1alpha1 import (
    MAX_HISTORY,
    OPEN_STATES,
    Calendar,
    CaseCategory,
    CaseState,
    Condition,
    ConfirmationStatus,
    EffortTotals,
    HistoryEntry,
    Priority,
    ReactionStatus,
    SupportCase,
    SupportCaseStatus,
    SupportContract,
    reasons,
)
from support_operator.api.v1alpha1 import ReactionState as ApiReactionState
from support_operator.domain import sla
from support_operator.domain.queue import QueueItem, priority_class, queue_positions
from support_operator.status import evidence
from support_operator.status.conditions import Desired, EventNote, flipped, merge_conditions
from support_operator.status.contract import Availability
from support_operator.status.ledger import effort_totals
from support_operator.status.policy import reaction_policy


@dataclass(frozen=True)
class MailOutcome:
    """What became of the confirmation e-mail in this reconcile."""

    sent: ConfirmationStatus | None = None
    error: str | None = None  # delivery failed; retried with backoff
    not_configured: str | None = None  # the contract has no notification settings


@dataclass(frozen=True)
class CasePlan:
    status: SupportCaseStatus
    events: list[EventNote] = field(default_factory=list)
    recheck_at: dt.datetime | None = None
    wants_confirmation: bool = False


def report_time(case: SupportCase) -> dt.datetime:
    """spec.reportedAt, or the creation time when the case was opened without one."""
    reported = case.spec.reported_at or case.metadata.creation_timestamp
    if reported is None:
        raise ValueError("the case has neither spec.reportedAt nor metadata.creationTimestamp")
    return reported


def domain_category(case: SupportCase) -> sla.Category:
    return case.spec.category


def domain_impact(case: SupportCase) -> sla.Impact:
    # A consultation without a declared impact is treated as non-production: it never gets Pikett.
    return case.spec.impact or sla.Impact.NON_PRODUCTION


def is_open(case: SupportCase) -> bool:
    return case.spec.state in OPEN_STATES


def queue_item(case: SupportCase, contract: SupportContract) -> QueueItem:
    reported = report_time(case)
    category, impact = domain_category(case), domain_impact(case)
    deadline = reaction_policy(contract.spec).deadline(reported, category, impact)
    return QueueItem(f"{case.metadata.namespace}/{case.metadata.name}", category, impact, reported, deadline)


def positions(cases: Iterable[SupportCase], contract: SupportContract) -> dict[str, int]:
    """Queue positions of a contract's open cases, keyed by namespace/name."""
    return queue_positions(queue_item(c, contract) for c in cases if is_open(c))


def plan_case(
    case: SupportCase,
    contract: SupportContract | None,
    contract_availability: Availability | None,
    queue_position: int | None,
    mail: MailOutcome | None,
    now: dt.datetime,
) -> CasePlan:
    previous = case.status or SupportCaseStatus()
    generation = case.metadata.generation
    priority = Priority(priority_class(domain_category(case), domain_impact(case)).label)
    history = list(previous.history or [])
    notes: list[EventNote] = []

    def record(kind: str, message: str, warning: bool = False, event: bool = True) -> None:
        history.append(HistoryEntry(at=now, type=kind, message=message))
        if event:
            notes.append(EventNote("Warning" if warning else "Normal", kind, message))

    if previous.observed_state != case.spec.state:
        if previous.observed_state is None:
            record("Accepted", f"case opened as {priority.value} {case.spec.category.value}")
        else:
            record("StateChanged", f"{previous.observed_state.value} -> {case.spec.state.value}")

    usable = contract is not None and contract_availability is not None and contract_availability.usable
    reaction = previous.reaction
    recheck_at = None
    ack = None
    if (
        usable
        and contract is not None
        and (is_open(case) or reaction is None or reaction.state == ApiReactionState.PENDING)
    ):
        tolerance = contract.spec.records.acknowledgement_tolerance
        ack = evidence.acknowledgement(case, previous.reaction, tolerance, now)
        reaction, recheck_at = _reaction(case, contract, previous.reaction, ack, now)
        if previous.reaction is None or previous.reaction.state != reaction.state:
            if reaction.state == ApiReactionState.MET:
                record("ReactionMet", f"analysis started at {reaction.analysis_started_at}, in time")
            elif reaction.state == ApiReactionState.BREACHED:
                record("ReactionBreached", f"no analysis by the deadline {reaction.deadline}", warning=True)

    confirmation = previous.confirmation or (mail.sent if mail else None)
    if mail and mail.sent and previous.confirmation is None:
        # The mail itself and Confirmed=True are the record: an Event per mail would double a burst's Events.
        record("ConfirmationSent", f"confirmation e-mail {mail.sent.message_id} sent", event=False)

    desired = [
        _ready(case, contract, contract_availability),
        _confirmed(confirmation, mail, usable),
    ]
    approved, approval_change = approval.condition(case, contract, now) if usable else (None, None)
    desired += [approved] if approved is not None else []
    recheck_at = min((t for t in (recheck_at, approval_change) if t is not None), default=None)
    if ack is not None and contract is not None:
        desired.append(ack.condition(contract.spec.records.acknowledgement_tolerance))
    elif previous.conditions:  # settled earlier: the acknowledgement's verdict stays
        desired += [_kept(c) for c in previous.conditions if c.type == evidence.ACKNOWLEDGED]
    conditions = merge_conditions(previous.conditions, desired, generation, now)
    # An Event per real transition: to False (a problem to act on), and the approval's every step; not
    # the Unknown of waiting (Pending, EmailSending), which every new case passes through.
    notes += [
        EventNote("Warning" if c.status != "True" else "Normal", c.reason, c.message)
        for c in flipped(previous.conditions, conditions)
        if c.status == "False" or c.type == approval.CONDITION
    ]
    status = previous.model_copy(
        update={
            "observed_generation": generation,
            "observed_state": case.spec.state,
            "conditions": conditions,
            "priority": priority,
            "queue_position": queue_position if is_open(case) else None,
            "reaction": reaction,
            "confirmation": confirmation,
            "history": history[-MAX_HISTORY:],
            "resolved_at": previous.resolved_at
            or (now if case.spec.state in (CaseState.RESOLVED, CaseState.CLOSED) else None),
            "closed_at": previous.closed_at or (now if case.spec.state == CaseState.CLOSED else None),
            "effort": _effort(case, contract, previous),
        }
    )
    wants_confirmation = usable and confirmation is None and (mail is None or mail.sent is None)
    return CasePlan(status, notes, recheck_at, wants_confirmation)


def with_confirmation_sending(
    status: SupportCaseStatus, message_id: str, now: dt.datetime
) -> SupportCaseStatus:
    """`status` with the intent to send recorded: Confirmed=Unknown/EmailSending, written before SMTP."""
    sending = Desired(
        reasons.CONFIRMED,
        None,
        reasons.EMAIL_SENDING,
        f"sending confirmation {message_id}; recorded once accepted",
    )
    conditions = [
        merge_conditions([c], [sending], c.observed_generation, now)[0] if c.type == reasons.CONFIRMED else c
        for c in status.conditions or []
    ]
    return status.model_copy(update={"conditions": conditions})


def with_intent_kept(status: SupportCaseStatus, previous: SupportCaseStatus | None) -> SupportCaseStatus:
    """`status` with a previous operator's intent to send (EmailSending) kept: until this operator's
    confirmation controller decides (and, after a crash, says it sends again), it stays the record."""
    kept = [c for c in (previous.conditions if previous else None) or [] if c.type == reasons.CONFIRMED]
    conditions = [kept[0] if kept and c.type == reasons.CONFIRMED else c for c in status.conditions or []]
    return status.model_copy(update={"conditions": conditions})


def confirmation_sending(case: SupportCase) -> bool:
    """Whether an operator recorded the intent to send the confirmation but not that it was sent."""
    status = case.status
    if status is None or status.confirmation is not None:
        return False
    return any(
        c.type == reasons.CONFIRMED and c.reason == reasons.EMAIL_SENDING for c in status.conditions or []
    )


def _effort(
    case: SupportCase, contract: SupportContract | None, previous: SupportCaseStatus
) -> EffortTotals | None:
    # Billable time depends on the contract's increment: without a contract the last totals stay.
    if contract is None:
        return previous.effort
    return effort_totals(case, contract.spec.billing.increment_minutes)


def _reaction(
    case: SupportCase,
    contract: SupportContract,
    previous: ReactionStatus | None,
    ack: evidence.Acknowledgement | None,
    now: dt.datetime,
) -> tuple[ReactionStatus, dt.datetime | None]:
    policy = reaction_policy(contract.spec)
    previous_state = previous.state if previous is not None else None
    # A start claimed ahead of time has not happened yet: until it comes, the reaction is still due.
    started = case.spec.analysis_started_at
    not_yet = started is not None and started > now
    evaluation = sla.evaluate_reaction(
        policy,
        report_time(case),
        domain_category(case),
        domain_impact(case),
        None if not_yet else started,
        now,
        previous_state,
    )
    reaction = ReactionStatus(
        target=sla.format_duration(evaluation.target),
        calendar=Calendar.PIKETT if evaluation.pikett else Calendar.STANDARD,
        reported_at=report_time(case),
        deadline=evaluation.deadline,
        state=evaluation.state,
        analysis_started_at=case.spec.analysis_started_at,
        acknowledged_observed_at=ack.observed if ack else None,
        evidence=ack.evidence if ack else None,
    )
    recheck = sla.next_transition_at(evaluation)
    if not_yet and started is not None and (recheck is None or started < recheck):
        recheck = started
    return reaction, recheck


def _kept(condition: Condition) -> Desired:
    ok = None if condition.status == "Unknown" else condition.status == "True"
    return Desired(condition.type, ok, condition.reason, condition.message)


def _ready(case: SupportCase, contract: SupportContract | None, usable: Availability | None) -> Desired:
    name = case.spec.contract_ref.name
    if contract is None:
        return Desired(
            reasons.READY,
            False,
            reasons.CONTRACT_NOT_FOUND,
            f"SupportContract {name} does not exist; the case waits and is served once it appears",
        )
    if usable is not None and usable.reason == NOT_ENTITLED:
        return Desired(reasons.READY, False, NOT_ENTITLED, usable.message)
    if usable is None or not usable.usable:
        reason = reasons.contract_unusable(usable.reason) if usable else reasons.CONTRACT_UNKNOWN
        detail = usable.message if usable else "not reconciled yet"
        return Desired(reasons.READY, False, reason, f"SupportContract {name}: {detail}; the case waits")
    if case.spec.category == CaseCategory.INCIDENT and case.spec.impact is None:
        return Desired(
            reasons.READY,
            False,
            reasons.IMPACT_MISSING,
            "incidents need spec.impact (Production or NonProduction)",
        )
    return Desired(
        reasons.READY, True, reasons.TRACKING, f"reaction SLA tracked under SupportContract {name}"
    )


def _confirmed(confirmation: ConfirmationStatus | None, mail: MailOutcome | None, usable: bool) -> Desired:
    if confirmation is not None:
        return Desired(
            reasons.CONFIRMED, True, reasons.EMAIL_SENT, f"confirmation {confirmation.message_id} sent"
        )
    if mail is not None and mail.not_configured:
        return Desired(reasons.CONFIRMED, False, reasons.NOTIFICATION_NOT_CONFIGURED, mail.not_configured)
    if mail is not None and mail.error:
        return Desired(reasons.CONFIRMED, False, reasons.EMAIL_FAILED, f"{mail.error}; retrying with backoff")
    reason = reasons.PENDING if usable else reasons.WAITING_FOR_CONTRACT
    return Desired(reasons.CONFIRMED, None, reason, "the confirmation e-mail has not been sent yet")
