"""Effort ledger: corrections, rounding per case and month, packages in order of expiry, monthly totals,
yearly training obligation, pending knowledge transfers, the monthly statement."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support_operator.api.v1alpha1 import (
    EffortTotals,
    OpenCases,
    SupportCase,
    SupportContract,
    SupportContractStatus,
)
from support_operator.domain.ledger import (
    BillingMode,
    Booking,
    Charge,
    Effort,
    FeeKind,
    FlatFee,
    MonthTotals,
    Package,
    PendingTransfer,
    Training,
    book,
    charges,
    flat_fees,
    month_bounds,
    month_of,
    monthly_statement,
    monthly_totals,
    package_balances,
    pending_transfers,
    round_up,
    settle_corrections,
    training_obligations,
)
from support_operator.domain.sla import Category
from support_operator.status.case import plan_case
from support_operator.status.contract import availability, plan_contract
from support_operator.status.ledger import contract_ledger, effort_totals, ledger_status

INCIDENT, CONSULTATION = Category.INCIDENT, Category.CONSULTATION
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def effort(case: str, when: str, minutes: int, member: str = "anna", category: Category = INCIDENT) -> Effort:
    return Effort(case, category, member, day(when), minutes)


# --- rounding and corrections --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "increment", "expected"),
    [(0, 15, 0), (1, 15, 15), (15, 15, 15), (16, 15, 30), (59, 60, 60), (61, 60, 120), (7, 1, 7)],
)
def test_round_up_to_the_increment(minutes, increment, expected):
    assert round_up(minutes, increment) == expected


def test_round_up_refuses_a_zero_increment():
    with pytest.raises(ValueError, match="at least 1 minute"):
        round_up(10, 0)


def test_a_correction_on_the_same_day_nets_out():
    assert settle_corrections({day("2026-11-03"): 90 + 45 - 15}) == {day("2026-11-03"): 120}


def test_a_later_correction_offsets_the_preceding_days_most_recent_first():
    settled = settle_corrections({day("2026-11-02"): 30, day("2026-11-03"): 20, day("2026-11-05"): -40})
    assert settled == {day("2026-11-02"): 10, day("2026-11-03"): 0, day("2026-11-05"): 0}


def test_a_correction_before_any_earlier_work_offsets_the_following_days():
    settled = settle_corrections({day("2026-11-02"): -30, day("2026-11-03"): 50, day("2026-11-04"): 10})
    assert settled == {day("2026-11-02"): 0, day("2026-11-03"): 20, day("2026-11-04"): 10}


def test_over_correcting_bills_nothing_rather_than_a_credit():
    settled = settle_corrections({day("2026-11-02"): 20, day("2026-11-03"): -50})
    assert settled == {day("2026-11-02"): 0, day("2026-11-03"): 0}


def test_rounding_is_per_case_and_month_and_lands_on_the_last_day():
    entries = [
        effort("a", "2026-10-05", 20),
        effort("a", "2026-10-20", 20, member="luca"),  # October: 40 -> 45
        effort("a", "2026-11-02", 10),  # November: 10 -> 15
        effort("b", "2026-10-05", 5, category=CONSULTATION),  # another case rounds on its own: 5 -> 15
    ]
    assert charges(entries, 15) == [
        Charge("a", INCIDENT, day("2026-10-05"), 20),
        Charge("b", CONSULTATION, day("2026-10-05"), 15),
        Charge("a", INCIDENT, day("2026-10-20"), 25),
        Charge("a", INCIDENT, day("2026-11-02"), 15),
    ]


def test_the_sample_case_bills_two_hours():
    # crds/samples/supportcase-production-incident.yaml: 1h30m + 45 - 15m on one day.
    entries = [effort("c", "2026-11-03", 90), effort("c", "2026-11-03", 45), effort("c", "2026-11-03", -15)]
    assert [c.minutes for c in charges(entries, 15)] == [120]
    assert [c.minutes for c in charges(entries, 60)] == [120]
    assert [c.minutes for c in charges([*entries, effort("c", "2026-11-04", 1)], 60)] == [120, 60]


@pytest.mark.parametrize(
    ("month", "first", "last"),
    [("2026-11", "2026-11-01", "2026-11-30"), ("2028-02", "2028-02-01", "2028-02-29")],
)
def test_month_bounds(month, first, last):
    assert month_bounds(month) == (day(first), day(last))
    assert month_of(day(last)) == month


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "2026/11", "november", "2026-11-01"])
def test_month_bounds_refuse_anything_but_yyyy_mm(month):
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        month_bounds(month)


# --- packages --------------------------------------------------------------------------------------------

EARLY = Package("early", 120, day("2026-01-01"), day("2026-10-15"))
LATE = Package("late", 600, day("2025-12-01"), day("2027-09-01"))  # bought first, expires last


def test_packages_are_consumed_in_order_of_expiry_and_overage_is_invoiced():
    entries = [
        effort("a", "2026-08-10", 60),  # both valid, "early" expires first: 60 of its 120
        effort("a", "2026-09-10", 90),  # 60 more from "early", then 30 from "late"
        effort("a", "2026-10-20", 30),  # "early" has expired: "late"
    ]
    bookings = book(charges(entries, 15), [LATE, EARLY], BillingMode.PACKAGE)
    assert [(b.charge.day.isoformat(), b.package, b.minutes) for b in bookings] == [
        ("2026-08-10", "early", 60),
        ("2026-09-10", "early", 60),
        ("2026-09-10", "late", 30),
        ("2026-10-20", "late", 30),
    ]
    small = Package("small", 30, day("2026-09-01"), day("2027-09-01"))  # used up on 2026-09-10
    over = book(charges(entries, 15), [EARLY, small], BillingMode.PACKAGE)
    assert [(b.package, b.minutes) for b in over if b.charge.day >= day("2026-09-10")] == [
        ("early", 60),
        ("small", 30),
        (None, 30),
    ]


def test_effort_outside_a_package_s_validity_is_invoiced():
    before = effort("a", "2025-12-31", 30)  # before "early" was purchased
    on_expiry = effort("b", "2026-10-15", 30)  # expiresOn is exclusive
    bookings = book(charges([before, on_expiry], 15), [EARLY], BillingMode.PACKAGE)
    assert [(b.package, b.minutes) for b in bookings] == [(None, 30), (None, 30)]


def test_monthly_billing_invoices_everything_and_leaves_packages_untouched():
    bookings = book(charges([effort("a", "2026-08-10", 60)], 15), [EARLY], BillingMode.MONTHLY)
    assert [(b.package, b.minutes) for b in bookings] == [(None, 60)]
    (balance,) = package_balances([EARLY], bookings, day("2026-08-31"))
    assert (balance.used, balance.remaining) == (0, 120)


def test_an_expired_package_loses_its_remainder():
    bookings = book(charges([effort("a", "2026-08-10", 45)], 15), [EARLY, LATE], BillingMode.PACKAGE)
    early, late = package_balances([LATE, EARLY], bookings, day("2026-10-15"))
    assert early == early.__class__("early", 120, 45, 0, day("2026-10-15"), True, 75)
    assert (late.name, late.used, late.remaining, late.expired, late.forfeited) == ("late", 0, 600, False, 0)
    (still_valid, _) = package_balances([LATE, EARLY], bookings, day("2026-10-14"))
    assert (still_valid.remaining, still_valid.expired, still_valid.forfeited) == (75, False, 0)


def test_package_names_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        book([], [EARLY, EARLY], BillingMode.PACKAGE)


def test_monthly_totals_split_by_category_and_by_package_or_invoice():
    entries = [
        effort("a", "2026-09-10", 150),
        effort("q", "2026-09-11", 50, category=CONSULTATION),  # -> 60
        effort("a", "2026-10-01", 10),  # -> 15
    ]
    bookings = book(charges(entries, 15), [EARLY], BillingMode.PACKAGE)
    assert monthly_totals(bookings) == [
        MonthTotals("2026-09", incident=150, consultation=60, package=120, invoiced=90),
        MonthTotals("2026-10", incident=15, consultation=0, package=0, invoiced=15),
    ]


# --- obligations -----------------------------------------------------------------------------------------


def test_one_training_day_per_member_and_year():
    trainings = [
        Training("anna", day("2026-03-12"), 1),
        Training("luca", day("2025-05-02"), 2),
        Training("marc", day("2026-06-01"), 1),  # left the team since; the record stays visible
        Training("anna", day("2019-01-10"), 1),  # older than the history window
    ]
    obligations = training_obligations({"anna": 2025, "luca": 2025, "claire": 2026}, trainings, 2026)
    assert [(o.member, o.year, o.days, o.fulfilled) for o in obligations] == [
        ("anna", 2025, 0, False),
        ("luca", 2025, 2, True),
        ("anna", 2026, 1, True),
        ("claire", 2026, 0, False),
        ("luca", 2026, 0, False),
        ("marc", 2026, 1, True),
    ]


def test_training_history_is_bounded():
    obligations = training_obligations({"anna": 2000}, [], 2026, history=3)
    assert [o.year for o in obligations] == [2024, 2025, 2026]


NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def test_the_initial_team_owes_no_knowledge_transfer():
    assert pending_transfers(["anna", "luca", "claire"], None, set(), [], NOW) == []


def test_a_new_member_is_pending_until_the_transfer_is_recorded():
    team = ["anna", "luca", "dario"]
    pending = pending_transfers(team, ["anna", "luca", "claire"], set(), [], NOW)
    assert pending == [PendingTransfer("dario", NOW)]
    later = NOW + dt.timedelta(days=3)
    assert pending_transfers(team, team, set(), pending, later) == [PendingTransfer("dario", NOW)]
    assert pending_transfers(team, team, {"dario"}, pending, later) == []
    assert pending_transfers(["anna", "luca"], team, set(), pending, later) == []  # left again


def test_flat_fees_of_a_month():
    trainings = [Training("anna", day("2026-11-12"), 1), Training("luca", day("2026-10-30"), 2)]
    transfers = [("dario", day("2026-11-03")), ("claire", day("2026-02-20"))]
    assert flat_fees(trainings, transfers, "2026-11") == [
        FlatFee(FeeKind.KNOWLEDGE_TRANSFER, "dario", day("2026-11-03")),
        FlatFee(FeeKind.TRAINING, "anna", day("2026-11-12"), 1),
    ]


# --- statement -------------------------------------------------------------------------------------------


def test_statement_of_a_month():
    entries = [
        effort("ns/a", "2026-09-10", 90, member="anna"),
        effort("ns/a", "2026-09-10", 40, member="luca"),  # a: 130 -> 135
        effort("ns/q", "2026-09-11", 50, member="anna", category=CONSULTATION),  # q: 50 -> 60
        effort("ns/a", "2026-10-01", 10, member="anna"),  # another month
    ]
    trainings = [Training("anna", day("2026-09-03"), 1)]
    result = monthly_statement("2026-09", entries, 15, [EARLY], BillingMode.PACKAGE, trainings, [])
    assert [(c.case, c.effort, c.billed, c.package, c.invoiced) for c in result.cases] == [
        ("ns/a", 130, 135, 120, 15),
        ("ns/q", 50, 60, 0, 60),
    ]
    assert [(m.member, m.category, m.effort) for m in result.members] == [
        ("anna", CONSULTATION, 50),
        ("anna", INCIDENT, 90),
        ("luca", INCIDENT, 40),
    ]
    (package,) = result.packages
    assert (package.name, package.used_in_month, package.balance.remaining) == ("early", 120, 0)
    assert result.totals == MonthTotals("2026-09", incident=135, consultation=60, package=120, invoiced=75)
    assert result.flat_fees == [FlatFee(FeeKind.TRAINING, "anna", day("2026-09-03"), 1)]
    empty = monthly_statement("2026-12", entries, 15, [EARLY], BillingMode.PACKAGE)
    assert (empty.cases, empty.totals.billed, empty.packages[0].balance.expired) == ([], 0, True)


# --- properties ------------------------------------------------------------------------------------------

DAYS = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2026, 6, 30))
ENTRY = st.builds(
    Effort,
    case=st.sampled_from(["ns/a", "ns/b", "other/c"]),
    category=st.sampled_from([INCIDENT, CONSULTATION]),
    member=st.sampled_from(["anna", "luca"]),
    day=DAYS,
    minutes=st.integers(-240, 480).filter(bool),
)
INCREMENT = st.sampled_from([1, 5, 6, 10, 15, 30, 60])


@st.composite
def packages(draw: st.DrawFn) -> list[Package]:
    result = []
    for index in range(draw(st.integers(0, 4))):
        start = draw(DAYS)
        length = draw(st.integers(1, 200))
        minutes = draw(st.integers(1, 40)) * 60
        result.append(Package(f"p{index}", minutes, start, start + dt.timedelta(days=length)))
    return result


def per_case(entries):
    totals = defaultdict(int)
    for entry in entries:
        totals[(entry.case, entry.category)] += entry.minutes
    return totals


@PROPERTY
@given(st.dictionaries(DAYS, st.integers(-600, 600), max_size=12))
def test_settling_keeps_the_days_and_the_balance(daily):
    settled = settle_corrections(daily)
    assert settled.keys() == daily.keys()
    assert all(minutes >= 0 for minutes in settled.values())
    assert sum(settled.values()) == max(0, sum(daily.values()))
    assert all(settled[d] <= max(daily[d], 0) for d in daily)  # corrections only ever take away


@PROPERTY
@given(st.lists(ENTRY, max_size=40), INCREMENT, st.randoms(use_true_random=False))
def test_billing_rounds_up_once_per_case_and_month_and_ignores_entry_order(entries, increment, rng):
    billed = charges(entries, increment)
    assert all(charge.minutes > 0 for charge in billed)
    months = defaultdict(int)
    for charge in billed:
        months[(charge.case, charge.category, month_of(charge.day))] += charge.minutes
    assert all(minutes % increment == 0 for minutes in months.values())
    for key, total in per_case(entries).items():
        case_billed = sum(m for (case, category, _), m in months.items() if (case, category) == key)
        case_months = sum(1 for (case, category, _) in months if (case, category) == key)
        assert max(0, total) <= case_billed < max(0, total) + increment * max(case_months, 1)
    shuffled = list(entries)
    rng.shuffle(shuffled)
    assert charges(shuffled, increment) == billed
    if increment == 1 and all(e.minutes > 0 for e in entries):
        assert sum(c.minutes for c in billed) == sum(e.minutes for e in entries)


@PROPERTY
@given(st.lists(ENTRY, max_size=40), INCREMENT, packages())
def test_bookings_respect_validity_expiry_order_and_package_size(entries, increment, offered):
    billed = charges(entries, increment)
    bookings = book(billed, offered, BillingMode.PACKAGE)
    by_name = {p.name: p for p in offered}
    assert sum(b.minutes for b in bookings) == sum(c.minutes for c in billed)
    used = defaultdict(int)
    for booking in bookings:
        assert booking.minutes > 0
        if booking.package is not None:
            assert by_name[booking.package].valid_on(booking.charge.day)
            used[booking.package] += booking.minutes
    assert all(used[p.name] <= p.minutes for p in offered)
    for booking in bookings:
        valid = [p for p in offered if p.valid_on(booking.charge.day)]
        if booking.package is None:  # invoiced only once every valid package is used up
            assert all(used[p.name] == p.minutes for p in valid)
        else:  # a package expiring earlier was used up first
            mine = by_name[booking.package]
            assert all(used[p.name] == p.minutes for p in valid if p.expires_on < mine.expires_on)
    months = monthly_totals(bookings)
    assert all(m.incident + m.consultation == m.package + m.invoiced for m in months)
    assert sum(m.package for m in months) == sum(used.values())
    balances = package_balances(offered, bookings, dt.date(2026, 7, 1))
    assert all(b.used + b.remaining + b.forfeited == b.purchased for b in balances)


@PROPERTY
@given(st.lists(ENTRY, max_size=30), INCREMENT, packages())
def test_monthly_billing_invoices_all_billed_time(entries, increment, offered):
    bookings = book(charges(entries, increment), offered, BillingMode.MONTHLY)
    assert all(isinstance(b, Booking) and b.package is None for b in bookings)
    months = monthly_totals(bookings)
    assert sum(m.invoiced for m in months) == sum(c.minutes for c in charges(entries, increment))


@PROPERTY
@given(st.lists(ENTRY, max_size=30), INCREMENT, packages())
def test_statements_add_up_to_the_ledger(entries, increment, offered):
    bookings = book(charges(entries, increment), offered, BillingMode.PACKAGE)
    for totals in monthly_totals(bookings):
        result = monthly_statement(totals.month, entries, increment, offered, BillingMode.PACKAGE)
        assert result.totals == totals
        assert sum(c.billed for c in result.cases) == totals.billed
        assert sum(c.invoiced for c in result.cases) == totals.invoiced
        assert sum(p.used_in_month for p in result.packages) == totals.package


# --- the controller adapter: API models in, status fields out ----------------------------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"


def sample_contract(status: dict | None = None, **spec) -> SupportContract:
    raw = yaml.safe_load((SAMPLES / "supportcontract.yaml").read_text())
    raw["metadata"].update(generation=1, creationTimestamp="2026-01-02T08:00:00Z")
    raw["spec"].update(spec)
    if status is not None:
        raw["status"] = status
    return SupportContract.from_k8s(raw)


def sample_case(name: str = "shop-ingress-503", contract: str = "acme-openshift", **spec) -> SupportCase:
    raw = yaml.safe_load((SAMPLES / "supportcase-production-incident.yaml").read_text())
    raw["metadata"].update(namespace="shop", generation=1, name=name)
    raw["spec"]["contractRef"]["name"] = contract
    raw["spec"].update(spec)
    return SupportCase.from_k8s(raw)


def test_contract_status_from_the_samples():
    # Package mode, 15 min; the sample case bills 120 min on 2026-11-03, when both packages are valid:
    # package-2026-a expires first, so it pays. A consultation of 50 min on 2026-11-04 -> 60 min.
    consultation = sample_case(
        "question",
        category="Consultation",
        effort=[{"id": "e-1", "member": "luca", "date": "2026-11-04", "duration": 50}],
    )
    elsewhere = sample_case("other", contract="someone-else")
    fields = ledger_status(sample_contract(), [sample_case(), consultation, elsewhere], NOW)
    assert [(p.name, p.used_minutes, p.remaining_minutes, p.expired) for p in fields["packages"]] == [
        ("package-2026-a", 180, 40 * 60 - 180, False),
        ("package-2026-b", 0, 20 * 60, False),
    ]
    (month,) = fields["months"]
    assert month.to_json_dict() == {
        "month": "2026-11",
        "incidentMinutes": 120,
        "consultationMinutes": 60,
        "packageMinutes": 180,
        "invoicedMinutes": 0,
    }
    assert [(t.member, t.year, t.days, t.fulfilled) for t in fields["trainings"]] == [
        ("anna", 2026, 1, True),
        ("claire", 2026, 0, False),
        ("luca", 2026, 0, False),
    ]
    assert fields["pending_knowledge_transfers"] is None  # the initial team owes none
    assert fields["observed_team"] == ["anna", "luca", "claire"]
    monthly = ledger_status(sample_contract(billing={"mode": "Monthly"}), [sample_case()], NOW)
    assert [p.used_minutes for p in monthly["packages"]] == [0, 0]
    assert monthly["months"][0].invoiced_minutes == 120


def test_a_new_member_owes_a_knowledge_transfer_with_an_event_until_it_is_recorded():
    team = yaml.safe_load((SAMPLES / "supportcontract.yaml").read_text())["spec"]["team"]
    dario = {"name": "dario", "email": "dario@puzzle.ch", "languages": ["de"]}
    observed = {"observedTeam": ["anna", "luca", "claire"]}
    joined = contract_ledger(sample_contract(observed, team=[*team, dario]), [], NOW)
    (pending,) = joined.status_fields["pending_knowledge_transfers"]
    assert (pending.member, pending.since) == ("dario", NOW)
    assert [(n.type, n.reason) for n in joined.events] == [("Warning", "KnowledgeTransferPending")]
    assert "dario" in joined.events[0].message
    trainings = {(t.member, t.year) for t in joined.status_fields["trainings"]}
    assert ("dario", 2026) in trainings

    written = SupportContractStatus.model_validate(
        {
            "observedTeam": ["anna", "luca", "claire", "dario"],
            "pendingKnowledgeTransfers": [pending.to_json_dict()],
        }
    ).to_json_dict()
    later = NOW + dt.timedelta(days=2)
    still = contract_ledger(sample_contract(written, team=[*team, dario]), [], later)
    assert still.status_fields["pending_knowledge_transfers"][0].since == NOW
    assert still.events == []
    transfers = [{"member": "dario", "completedOn": "2026-11-27"}]
    done = contract_ledger(
        sample_contract(written, team=[*team, dario], knowledgeTransfers=transfers), [], later
    )
    assert done.status_fields["pending_knowledge_transfers"] is None
    assert [(n.type, n.reason) for n in done.events] == [("Normal", "KnowledgeTransferCompleted")]


def test_plan_contract_merges_the_ledger_and_rechecks_at_the_next_package_expiry():
    the_contract = sample_contract()
    plan = plan_contract(the_contract, None, OpenCases(), NOW, [sample_case()])
    assert plan.status.months is not None and plan.status.months[0].package_minutes == 120
    assert plan.status.observed_team == ["anna", "luca", "claire"]
    assert plan.recheck_at == dt.datetime(2026, 12, 30, 23, 0, tzinfo=dt.UTC)  # 2026-12-31 00:00 Zurich
    without = plan_contract(the_contract, None, OpenCases(), NOW)
    assert without.status.months is None and without.status.observed_team is None


def test_case_status_carries_effort_totals_with_the_contract_increment():
    the_case = sample_case()
    assert effort_totals(the_case, 15) == EffortTotals(entries=3, total_minutes=120, billable_minutes=120)
    assert effort_totals(the_case, 60) == EffortTotals(entries=3, total_minutes=120, billable_minutes=120)
    odd = sample_case(effort=[{"id": "e-1", "member": "anna", "date": "2026-11-03", "duration": "1h05m"}])
    the_contract = sample_contract(billing={"mode": "Package", "incrementMinutes": 30})
    plan = plan_case(odd, the_contract, availability(the_contract, NOW), 1, None, NOW)
    assert plan.status.effort == EffortTotals(entries=1, total_minutes=65, billable_minutes=90)
    assert effort_totals(sample_case(effort=None), 15) is None
    orphan = plan_case(odd, None, None, None, None, NOW)
    assert orphan.status.effort is None
