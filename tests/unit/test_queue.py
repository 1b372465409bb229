"""Case queue: production incidents, then non-production incidents, consultations last; then deadline."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from support_operator.domain.queue import (
    PriorityClass,
    QueueItem,
    order_queue,
    priority_class,
    queue_positions,
    queue_sort_key,
)
from support_operator.domain.sla import Category, Impact

INCIDENT, CONSULTATION = Category.INCIDENT, Category.CONSULTATION
PROD, NONPROD = Impact.PRODUCTION, Impact.NON_PRODUCTION


def item(name, category, impact, deadline, reported="2026-11-23T08:00:00+01:00"):
    return QueueItem(
        name, category, impact, datetime.fromisoformat(reported), datetime.fromisoformat(deadline)
    )


@pytest.mark.parametrize(
    ("category", "impact", "expected", "label"),
    [
        (INCIDENT, PROD, PriorityClass.PRODUCTION_INCIDENT, "P1"),
        (INCIDENT, NONPROD, PriorityClass.NON_PRODUCTION_INCIDENT, "P2"),
        (CONSULTATION, NONPROD, PriorityClass.CONSULTATION, "P3"),
        (CONSULTATION, PROD, PriorityClass.CONSULTATION, "P3"),  # consulting is last whatever its impact
    ],
)
def test_priority_classes_and_labels(category, impact, expected, label):
    assert priority_class(category, impact) is expected
    assert expected.label == label


def test_class_beats_deadline():
    consultation_due_first = item("ask", CONSULTATION, PROD, "2026-11-23T09:00:00+01:00")
    nonprod_due_later = item("test-down", INCIDENT, NONPROD, "2026-11-25T09:00:00+01:00")
    prod_due_last = item("prod-down", INCIDENT, PROD, "2026-11-30T09:00:00+01:00")
    ordered = order_queue([consultation_due_first, nonprod_due_later, prod_due_last])
    assert [i.name for i in ordered] == ["prod-down", "test-down", "ask"]


def test_within_a_class_earliest_deadline_then_report_then_name():
    a = item("a", INCIDENT, PROD, "2026-11-24T10:00:00+01:00", reported="2026-11-23T09:00:00+01:00")
    b = item("b", INCIDENT, PROD, "2026-11-24T10:00:00+01:00", reported="2026-11-23T08:30:00+01:00")
    c = item("c", INCIDENT, PROD, "2026-11-24T09:30:00Z")  # 10:30 local: after a and b
    d = item("d", INCIDENT, PROD, "2026-11-24T08:59:00Z")  # 09:59 local: first
    e = item("e", INCIDENT, PROD, "2026-11-24T10:00:00+01:00", reported="2026-11-23T08:30:00+01:00")
    assert [i.name for i in order_queue([a, b, c, d, e])] == ["d", "b", "e", "a", "c"]


def test_order_does_not_depend_on_input_order():
    items = [
        item("p1", INCIDENT, PROD, "2026-11-24T10:00:00+01:00"),
        item("p2", INCIDENT, PROD, "2026-11-24T09:00:00+01:00"),
        item("n1", INCIDENT, NONPROD, "2026-11-23T11:00:00+01:00"),
        item("c1", CONSULTATION, PROD, "2026-11-23T10:00:00+01:00"),
        item("c2", CONSULTATION, NONPROD, "2026-11-23T10:00:00+01:00"),
    ]
    expected = ["p2", "p1", "n1", "c1", "c2"]
    for permutation in itertools.permutations(items):
        assert [i.name for i in order_queue(permutation)] == expected
    assert queue_positions(reversed(items)) == {"p2": 1, "p1": 2, "n1": 3, "c1": 4, "c2": 5}


def test_empty_queue():
    assert order_queue([]) == []
    assert queue_positions([]) == {}


def test_sort_key_refuses_naive_instants():
    naive = QueueItem("x", INCIDENT, PROD, datetime(2026, 11, 23, 8), datetime(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="naive"):
        queue_sort_key(naive)
