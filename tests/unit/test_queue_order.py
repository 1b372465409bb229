"""Queue order without write amplification (controllers/queue_order.py): the bisect-kept index always equals
the full sort, and the coalesced pass writes only served cases whose written position is wrong."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from controller_harness import NO_API, StatusApi, case_obj, contract_obj, edited, fast_coalescing
from hypothesis import given, settings
from hypothesis import strategies as st

from support_operator.controllers.cache import ObjectCache
from support_operator.controllers.queue_order import QueueIndex, QueueOrderController
from support_operator.controllers.writer import StatusWriter
from support_operator.domain.queue import QueueItem, queue_positions, queue_sort_key
from support_operator.domain.sla import Category, Impact
from support_operator.observability.metrics import OperatorMetrics

BASE = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
NAMES = [f"case-{i}" for i in range(12)]

items = st.builds(
    lambda category, impact, reported, lag: (category, impact, reported, lag),
    st.sampled_from(list(Category)),
    st.sampled_from(list(Impact)),
    st.integers(0, 5),  # few distinct instants: ties must fall back to the name
    st.integers(0, 3),
)
operations = st.lists(
    st.tuples(st.sampled_from(["put", "remove"]), st.sampled_from(NAMES), items), max_size=60
)


def queue_item(name: str, facts: tuple[Category, Impact, int, int]) -> QueueItem:
    category, impact, reported, lag = facts
    reported_at = BASE + dt.timedelta(minutes=10 * reported)
    return QueueItem(f"ns/{name}", category, impact, reported_at, reported_at + dt.timedelta(hours=lag))


@settings(max_examples=200, deadline=None)
@given(operations)
def test_the_index_always_equals_the_full_sort(ops: list[tuple[str, str, tuple]]) -> None:
    index = QueueIndex()
    live: dict[str, QueueItem] = {}
    for op, name, facts in ops:
        if op == "put":  # an insert, or an update of a case already placed
            live[name] = queue_item(name, facts)
            index.put(("ns", name), queue_sort_key(live[name]))
        else:
            live.pop(name, None)
            index.put(("ns", name), None)
        expected = queue_positions(live.values())
        assert {f"{ns}/{n}": p for (ns, n), p in index.positions().items()} == expected
        assert len(index.entries) == len(index.by_case) == len(live)
    for name in NAMES:
        position = index.position(("ns", name))
        assert position == queue_positions(live.values()).get(f"ns/{name}")


def controller(cache: ObjectCache) -> tuple[QueueOrderController, StatusApi]:
    api = StatusApi(cache)
    writer = StatusWriter(NO_API, OperatorMetrics(), cache.put_case)
    writer.patch_status = api.patch_status  # type: ignore[method-assign]
    return QueueOrderController(cache, writer, lambda error: False, lambda key, error: None), api


def at(minutes: int) -> dt.datetime:
    return BASE + dt.timedelta(minutes=minutes)


def test_a_pass_writes_only_served_cases_whose_written_position_differs() -> None:
    cache = ObjectCache()
    cache.put_contract(contract_obj())
    cases = {
        "right": case_obj("right", reported=at(0), status={"queuePosition": 1}),  # 1
        "stale": case_obj("stale", reported=at(10), status={"queuePosition": 5}),  # 2
        "unserved": case_obj("unserved", reported=at(20), status={"queuePosition": 1}),  # 3
        "fresh": case_obj("fresh", reported=at(30)),  # 4, no status yet: its own write carries it
        "closed": case_obj("closed", reported=at(5), state="Closed", status={"queuePosition": 2}),
        "closed-clean": case_obj("closed-clean", reported=at(6), state="Closed", status={}),
    }
    for obj in cases.values():
        cache.put_case(obj)
    queue_order, api = controller(cache)
    queue_order.rebuild("acme")
    queue_order.served |= {("shop", n) for n in ("right", "stale", "fresh", "closed", "closed-clean")}
    assert [queue_order.position(("shop", n), "acme") for n in ("right", "stale", "unserved", "fresh")] == [
        1, 2, 3, 4,
    ]  # fmt: skip
    assert queue_order.position(("shop", "closed"), "acme") is None

    asyncio.run(queue_order.reconcile("acme"))
    assert sorted(api.writes, key=str) == [
        ("shop/closed", {"queuePosition": None}),
        ("shop/stale", {"queuePosition": 2}),
    ]
    assert cache.raw_cases[("shop", "stale")]["status"]["queuePosition"] == 2  # remembered
    assert "queuePosition" not in cache.raw_cases[("shop", "closed")]["status"]

    api.writes.clear()
    asyncio.run(queue_order.reconcile("acme"))  # nothing left to correct
    assert api.writes == []


def test_place_follows_a_case_across_contracts_and_out_of_the_queue() -> None:
    cache = ObjectCache()
    for name in ("acme", "other"):
        cache.put_contract(contract_obj(name))
    queue_order, _ = controller(cache)
    first, second = case_obj("first", reported=at(0)), case_obj("second", reported=at(10))
    for obj in (first, second):
        cache.put_case(obj)
        queue_order.place(("shop", obj["metadata"]["name"]))
    assert queue_order.position(("shop", "second"), "acme") == 2
    cache.put_case(edited(first, spec={"contractRef": {"name": "other"}}))
    queue_order.place(("shop", "first"))
    assert queue_order.position(("shop", "second"), "acme") == 1
    assert queue_order.position(("shop", "first"), "other") == 1
    assert queue_order.position(("shop", "first"), "acme") is None
    cache.put_case(edited(second, spec={"state": "Closed"}))
    queue_order.place(("shop", "second"))
    assert queue_order.position(("shop", "second"), "acme") is None
    cache.drop_case(("shop", "first"))
    queue_order.place(("shop", "first"))
    assert queue_order.indexes["other"].entries == []


def test_moves_within_the_window_cost_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_coalescing(monkeypatch)
    cache = ObjectCache()
    cache.put_contract(contract_obj())
    queue_order, _ = controller(cache)
    passes: list[str] = []

    async def counted(contract: str) -> None:
        passes.append(contract)

    queue_order.queue.reconcile = counted

    async def scenario() -> None:
        queue_order.queue.start()
        for _ in range(5):
            queue_order.moved("acme")
        await asyncio.sleep(0.3)
        await queue_order.queue.stop()

    asyncio.run(scenario())
    assert passes == ["acme"]
