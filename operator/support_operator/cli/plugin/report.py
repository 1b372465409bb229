"""`kubectl support report --contract C --month 2026-11 [--format md|csv]`: the monthly statement of a
contract. An issued month shows its SupportStatement as issued (statement.py); only a month without one is
computed from the cases as they are now."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

import click
from pydantic import ValidationError

from support_operator.api.v1alpha1 import SupportContract
from support_operator.cli.plugin import statement as issued_view
from support_operator.cli.plugin.connection import (
    PluginError,
    api_errors,
    cluster_of,
    connection_options,
    parse_case,
    with_kind,
)
from support_operator.cli.plugin.statement import heading, hours
from support_operator.domain import ledger
from support_operator.status.ledger import statement


def _invoiced_by_category(result: ledger.Statement) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in result.cases:
        totals[line.category.value] += line.invoiced
    return totals


def render_markdown(contract: SupportContract, result: ledger.Statement) -> str:
    spec = contract.spec
    terms = (
        f"SupportContract {contract.metadata.name}; billing {spec.billing.mode.value}, rounded up to "
        f"{spec.billing.increment_minutes} min per case and month; times in h:mm."
    )
    out = heading(result.month, contract, terms)
    out += [
        f"| {c.case} | {c.category.value} | {hours(c.effort)} | {hours(c.billed)} | {hours(c.package)} | "
        f"{hours(c.invoiced)} |"
        for c in result.cases
    ]
    effort = sum(c.effort for c in result.cases)
    totals = result.totals
    out += [
        f"| **Total** | | {hours(effort)} | {hours(totals.billed)} | {hours(totals.package)} | "
        f"{hours(totals.invoiced)} |",
        "",
        "## Effort per member",
        "",
        "| Member | Category | Effort |",
        "|---|---|---:|",
    ]
    out += [f"| {m.member} | {m.category.value} | {hours(m.effort)} |" for m in result.members]
    out += [
        "",
        "## Packages",
        "",
        "| Package | Used this month | Remaining at month end | Expires | Forfeited |",
        "|---|---:|---:|---|---:|",
    ]
    out += [
        f"| {p.name} | {hours(p.used_in_month)} | {hours(p.balance.remaining)} | "
        f"{p.balance.expires_on}{' (expired)' if p.balance.expired else ''} | {hours(p.balance.forfeited)} |"
        for p in result.packages
    ]
    invoiced = _invoiced_by_category(result)
    out += ["", "## Invoiced (beyond packages)", "", "| Category | Time |", "|---|---:|"]
    out += [
        f"| {category} | {hours(invoiced.get(category, 0))} |" for category in ("Incident", "Consultation")
    ]
    out += [f"| **Total** | {hours(totals.invoiced)} |", "", "## Flat fees", ""]
    if result.flat_fees:
        out += ["| Item | Member | Date | Quantity |", "|---|---|---|---:|"]
        out += [
            f"| {_fee_name(f.kind)} | {f.member} | {f.day} | "
            f"{f'{f.person_days} person-day(s)' if f.kind == ledger.FeeKind.TRAINING else '1'} |"
            for f in result.flat_fees
        ]
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


def _fee_name(kind: ledger.FeeKind) -> str:
    return "Training" if kind == ledger.FeeKind.TRAINING else "Knowledge transfer"


CSV_COLUMNS = [
    "section",
    "item",
    "category",
    "member",
    "date",
    "effort_minutes",
    "billed_minutes",
    "package_minutes",
    "invoiced_minutes",
    "remaining_minutes",
    "quantity",
]


def render_csv(result: ledger.Statement) -> str:
    """One line item per row; empty cells where a figure does not apply."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in result.cases:
        writer.writerow(
            {
                "section": "case",
                "item": c.case,
                "category": c.category.value,
                "effort_minutes": c.effort,
                "billed_minutes": c.billed,
                "package_minutes": c.package,
                "invoiced_minutes": c.invoiced,
            }
        )
    for m in result.members:
        row = {"section": "member", "item": m.member, "member": m.member, "category": m.category.value}
        writer.writerow(row | {"effort_minutes": m.effort})
    for p in result.packages:
        writer.writerow(
            {
                "section": "package",
                "item": p.name,
                "date": p.balance.expires_on.isoformat(),
                "package_minutes": p.used_in_month,
                "remaining_minutes": p.balance.remaining,
            }
        )
    for f in result.flat_fees:
        writer.writerow(
            {
                "section": "flatfee",
                "item": f.kind.value,
                "member": f.member,
                "date": f.day.isoformat(),
                "quantity": f.person_days if f.kind == ledger.FeeKind.TRAINING else 1,
            }
        )
    totals = result.totals
    writer.writerow(
        {
            "section": "total",
            "item": result.month,
            "effort_minutes": sum(c.effort for c in result.cases),
            "billed_minutes": totals.billed,
            "package_minutes": totals.package,
            "invoiced_minutes": totals.invoiced,
        }
    )
    return buffer.getvalue()


def _month(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        ledger.month_bounds(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


@click.command()
@connection_options
@click.option("--contract", required=True, help="The SupportContract.")
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
@click.option(
    "--format", "output", type=click.Choice(["md", "csv"]), default="md", show_default=True, help="Output."
)
@click.pass_context
def report(ctx: click.Context, contract: str, month: str, output: str) -> None:
    """The monthly statement of a contract: cases, effort per member and category, package consumption,
    time invoiced beyond packages, flat fees, reactions. An issued month shows its SupportStatement as
    issued; only a month without one is computed from the cases."""
    cluster = cluster_of(ctx)
    with api_errors(f"SupportContract {contract}"):
        raw_contract = cluster.get_contract(contract)
    try:
        the_contract = SupportContract.from_k8s(with_kind(raw_contract, "SupportContract"))
    except ValidationError as error:
        raise PluginError(f"SupportContract {contract} cannot be read: {error.errors()[0]['msg']}") from None
    with api_errors("listing SupportCases in all namespaces"):
        raw_cases = cluster.list_cases(None)
    cases = [
        parse_case(raw)
        for raw in raw_cases
        if raw.get("spec", {}).get("contractRef", {}).get("name") == contract
    ]
    with api_errors("listing SupportStatements"):
        issued = issued_view.issued(cluster.list_statements(), contract, month)
    if issued is not None:
        text = issued_view.statement_markdown(the_contract, issued)
        click.echo(text if output == "md" else issued_view.statement_csv(issued, CSV_COLUMNS), nl=False)
        return
    result = statement(the_contract, cases, month)
    if output == "csv":
        click.echo(render_csv(result), nl=False)
        return
    reactions = issued_view.reactions_markdown(issued_view.running_reactions(the_contract, cases, month))
    note = "Not issued yet: computed from the SupportCases as they are now.\n"
    click.echo(render_markdown(the_contract, result) + "\n".join(reactions) + "\n\n" + note, nl=False)
