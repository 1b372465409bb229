"""`kubectl support report` of an issued month: the SupportStatement as the operator issued it, never
recomputed from the cases that exist now; and the reactions of a month still running, with their evidence."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from support_operator.api.v1alpha1 import (
    SupportCase,
    SupportContract,
    SupportStatement,
    SupportStatementSpec,
)
from support_operator.cli.plugin.connection import iso
from support_operator.domain import ledger
from support_operator.status.ledger import zone_of

Obj = dict[str, Any]


def issued(statements: Sequence[Obj], contract: str, month: str) -> SupportStatementSpec | None:
    for raw in statements:
        try:
            found = SupportStatement.from_k8s({"kind": "SupportStatement", **raw})
        except ValidationError:
            continue
        if found.spec.contract_ref.name == contract and found.spec.month == month:
            return found.spec
    return None


def hours(minutes: int) -> str:
    """h:mm, the way time sheets show it."""
    sign = "-" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


def heading(month: str, contract: SupportContract, terms: str) -> list[str]:
    """Title, terms and the head of the cases table: alike for an issued and a computed month."""
    customer = contract.spec.customer
    name = customer.name + (f" ({customer.reference})" if customer.reference else "")
    return [
        f"# Support statement {month}: {name}",
        "",
        terms,
        "",
        "## Cases",
        "",
        "| Case | Category | Effort | Billed | Packages | Invoiced |",
        "|---|---|---:|---:|---:|---:|",
    ]


def statement_markdown(contract: SupportContract, spec: SupportStatementSpec) -> str:
    totals = spec.totals
    terms = (
        f"SupportStatement issued {iso(spec.issued_at)} (SupportContract {spec.contract_ref.name}, "
        f"{spec.time_zone}); billing {spec.billing_mode.value}, rounded up to {spec.increment_minutes} min "
        "per case and month; times in h:mm."
    )
    out = heading(spec.month, contract, terms)
    out += [
        f"| {c.case} | {c.category.value} | {hours(c.effort_minutes)} | {hours(c.billed_minutes)} | "
        f"{hours(c.package_minutes)} | {hours(c.invoiced_minutes)} |"
        for c in spec.cases or []
    ]
    out += ["", "## Adjustments (late effort for months already issued)", ""]
    if spec.adjustments:
        out += [
            "| Case | Month | Category | Effort | Billed | Packages | Invoiced |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        out += [
            f"| {a.case} | {a.month} | {a.category.value} | {hours(a.effort_minutes)} | "
            f"{hours(a.billed_minutes)} | {hours(a.package_minutes)} | {hours(a.invoiced_minutes)} |"
            for a in spec.adjustments
        ]
    else:
        out.append("None.")
    out += ["", "## Effort per member", "", "| Member | Category | Effort |", "|---|---|---:|"]
    out += [f"| {m.member} | {m.category.value} | {hours(m.effort_minutes)} |" for m in spec.members or []]
    out += ["", "## Packages", "", "| Package | Used | Remaining at month end | Expires | Forfeited |"]
    out.append("|---|---:|---:|---|---:|")
    out += [
        f"| {p.name} | {hours(p.used_minutes)} | {hours(p.remaining_minutes)} | {p.expires_on}"
        f"{' (expired)' if p.expired else ''} | {hours(p.forfeited_minutes)} |"
        for p in spec.packages or []
    ]
    billed = totals.incident_minutes + totals.consultation_minutes
    out += [
        "",
        "## Totals",
        "",
        f"Billed {hours(billed)} (incidents {hours(totals.incident_minutes)}, consultations "
        f"{hours(totals.consultation_minutes)}), of which adjustments {hours(totals.adjustment_minutes)}; "
        f"packages {hours(totals.package_minutes)}; invoiced {hours(totals.invoiced_minutes)}.",
        "",
        "## Flat fees",
        "",
    ]
    if spec.flat_fees:
        out += ["| Item | Member | Date | Person-days |", "|---|---|---|---:|"]
        out += [f"| {f.kind.value} | {f.member} | {f.date} | {f.person_days} |" for f in spec.flat_fees]
    else:
        out.append("None.")
    rows = [
        (r.case, r.priority.value, r.state.value, r.evidence.value if r.evidence else "", r.deadline)
        for r in spec.reactions or []
    ]
    out += reactions_markdown(rows)
    out.append(
        f"Met observed: {totals.reactions_met_observed}, met recorded: {totals.reactions_met_recorded}, "
        f"breached: {totals.reactions_breached}."
    )
    return "\n".join(out) + "\n"


def statement_csv(spec: SupportStatementSpec, columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*columns, "month", "evidence"], lineterminator="\n")
    writer.writeheader()
    for c in spec.cases or []:
        writer.writerow({"section": "case", "item": c.case, "category": c.category.value, **_figures(c)})
    for a in spec.adjustments or []:
        row = {"section": "adjustment", "item": a.case, "category": a.category.value, "month": a.month}
        writer.writerow(row | _figures(a))
    for m in spec.members or []:
        row = {"section": "member", "item": m.member, "member": m.member, "category": m.category.value}
        writer.writerow(row | {"effort_minutes": m.effort_minutes})
    for p in spec.packages or []:
        writer.writerow(
            {
                "section": "package",
                "item": p.name,
                "date": p.expires_on.isoformat(),
                "package_minutes": p.used_minutes,
                "remaining_minutes": p.remaining_minutes,
            }
        )
    for f in spec.flat_fees or []:
        row = {"section": "flatfee", "item": f.kind.value, "member": f.member, "date": f.date.isoformat()}
        writer.writerow(row | {"quantity": f.person_days or 1})
    for r in spec.reactions or []:
        row = {"section": "reaction", "item": r.case, "category": r.state.value}
        writer.writerow(row | {"evidence": r.evidence.value if r.evidence else ""})
    totals = spec.totals
    writer.writerow(
        {
            "section": "total",
            "item": spec.month,
            "billed_minutes": totals.incident_minutes + totals.consultation_minutes,
            "package_minutes": totals.package_minutes,
            "invoiced_minutes": totals.invoiced_minutes,
        }
    )
    return buffer.getvalue()


def _figures(line: Any) -> Obj:
    return {
        "effort_minutes": line.effort_minutes,
        "billed_minutes": line.billed_minutes,
        "package_minutes": line.package_minutes,
        "invoiced_minutes": line.invoiced_minutes,
    }


def running_reactions(
    contract: SupportContract, cases: Sequence[SupportCase], month: str
) -> list[tuple[str, str, str, str, dt.datetime]]:
    """Reactions of the cases reported in `month` (contract time zone): case, priority, state, evidence."""
    first, last = ledger.month_bounds(month)
    zone = zone_of(contract)
    rows = []
    for case in cases:
        reaction = case.status.reaction if case.status else None
        if reaction is None or not first <= reaction.reported_at.astimezone(zone).date() <= last:
            continue
        priority = case.status.priority.value if case.status and case.status.priority else ""
        evidence = reaction.evidence.value if reaction.evidence else ""
        key = f"{case.metadata.namespace}/{case.metadata.name}"
        rows.append((key, priority, reaction.state.value, evidence, reaction.deadline))
    return sorted(rows)


def reactions_markdown(rows: Sequence[tuple[str, str, str, str, dt.datetime]]) -> list[str]:
    out = ["", "## Reactions", ""]
    if not rows:
        return [*out, "None."]
    out += ["| Case | Priority | Reaction | Evidence | Deadline |", "|---|---|---|---|---|"]
    return out + [f"| {c} | {p} | {s} | {e or '-'} | {iso(d)} |" for c, p, s, e, d in rows]
