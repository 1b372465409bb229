"""The typed cache (controllers/cache.py): resourceVersion order, the cases-by-contract index and open-case
counts through moves and deletes, and models parsed only when read."""

from __future__ import annotations

from controller_harness import case_obj, contract_obj, edited
from pydantic import ValidationError

from support_operator.api.v1alpha1 import OpenCases, SupportCase
from support_operator.controllers.cache import Cached, ObjectCache, newer

KEY = ("shop", "outage")


def with_version(obj: dict, version: str) -> dict:
    obj["metadata"]["resourceVersion"] = version
    return obj


def test_newer_compares_resource_versions_as_numbers() -> None:
    assert newer(with_version(case_obj("a"), "10"), with_version(case_obj("a"), "9"))  # not "10" < "9"
    assert newer(with_version(case_obj("a"), "9"), with_version(case_obj("a"), "9"))
    assert not newer(with_version(case_obj("a"), "8"), with_version(case_obj("a"), "9"))
    assert newer(case_obj("a"), None)
    assert newer(with_version(case_obj("a"), "opaque"), with_version(case_obj("a"), "9"))  # no order known


def test_an_older_version_is_ignored_and_a_newer_one_replaces() -> None:
    cache = ObjectCache()
    first = with_version(case_obj("outage"), "20")
    assert cache.put_case(first) is not None
    stale = with_version(case_obj("outage", title="stale"), "19")  # a watch event behind our own write
    assert cache.put_case(stale) is None
    assert cache.raw_cases[KEY] is first
    newer_obj = with_version(case_obj("outage", title="new"), "21")
    change = cache.put_case(newer_obj)
    assert change is not None and change.old == change.new  # same facts: a title is nobody else's concern
    assert cache.raw_cases[KEY] is newer_obj
    model = cache.case(KEY).model  # type: ignore[union-attr]
    assert model is not None and model.spec.title == "new"


def test_contract_versions_and_changes() -> None:
    cache = ObjectCache()
    contract = with_version(contract_obj(), "5")
    change = cache.put_contract(contract)
    assert change is not None and change.old is None and change.new is not None
    assert cache.put_contract(with_version(contract_obj(), "4")) is None
    again = cache.put_contract(with_version(contract_obj(), "6"))
    assert again is not None and again.old == again.new
    gone = cache.drop_contract("acme")
    assert gone is not None and gone.new is None and gone.old is not None
    assert cache.drop_contract("acme") is None
    assert cache.contract("acme") is None and cache.contract_model("acme") is None


def test_cases_by_contract_follow_moves_and_deletes() -> None:
    cache = ObjectCache()
    one, two = case_obj("one"), case_obj("two")
    cache.put_case(one)
    cache.put_case(two)
    assert sorted(cache.case_keys_of("acme")) == [("shop", "one"), ("shop", "two")]
    change = cache.put_case(edited(one, spec={"contractRef": {"name": "other"}}))
    assert change is not None and (change.old.contract, change.new.contract) == ("acme", "other")  # type: ignore[union-attr]
    assert cache.case_keys_of("acme") == [("shop", "two")]
    assert cache.case_keys_of("other") == [("shop", "one")]
    dropped = cache.drop_case(("shop", "two"))
    assert dropped is not None and dropped.new is None and dropped.old.contract == "acme"  # type: ignore[union-attr]
    assert cache.case_keys_of("acme") == []
    assert cache.drop_case(("shop", "two")) is None
    assert cache.case(("shop", "two")) is None and cache.facts(("shop", "two")) is None
    assert cache.case_keys_of("nobody") == []


def test_open_case_counts_by_priority() -> None:
    cache = ObjectCache()
    p1 = case_obj("p1")
    p2 = case_obj("p2", impact="NonProduction")
    p3 = case_obj("p3", category="Consultation")
    closed = case_obj("old", state="Closed")
    for obj in (p1, p2, p3, closed):
        cache.put_case(obj)
    assert cache.open_cases("acme") == OpenCases(p1=1, p2=1, p3=1, total=3)
    cache.put_case(edited(p1, spec={"impact": "NonProduction"}))  # P1 -> P2
    assert cache.open_cases("acme") == OpenCases(p1=0, p2=2, p3=1, total=3)
    cache.put_case(edited(p3, spec={"state": "Resolved"}))
    cache.put_case(edited(p2, spec={"contractRef": {"name": "other"}}))
    assert cache.open_cases("acme") == OpenCases(p1=0, p2=1, p3=0, total=1)
    assert cache.open_cases("other") == OpenCases(p1=0, p2=1, p3=0, total=1)
    cache.put_case(edited(closed, spec={"state": "New"}))  # reopened
    cache.drop_case(("shop", "p2"))
    assert cache.open_cases("acme") == OpenCases(p1=1, p2=1, p3=0, total=2)
    assert cache.open_cases("other") == OpenCases()
    assert cache.open_cases("nobody") == OpenCases()


def test_an_unreadable_priority_counts_nowhere() -> None:
    cache = ObjectCache()
    cache.put_case(case_obj("odd", category="Gossip"))
    assert cache.open_cases("acme") == OpenCases()
    cache.drop_case(("shop", "odd"))
    assert cache.open_cases("acme") == OpenCases()


def test_models_are_parsed_on_first_read_only() -> None:
    cache = ObjectCache()
    cache.put_case(case_obj("outage"))
    cached = cache.case(KEY)
    assert cached is not None and cached._model is None  # listed, not yet read
    model = cached.model
    assert isinstance(model, SupportCase) and cached.model is model and cached.error is None


def test_open_cases_of_parses_only_the_open_ones() -> None:
    cache = ObjectCache()
    for name in ("c1", "c2", "c3"):
        cache.put_case(case_obj(name, state="Closed"))
    cache.put_case(case_obj("live"))
    cache.put_case(case_obj("broken", title=None))  # refused by the models, still indexed
    models = cache.open_cases_of("acme")
    assert [m.metadata.name for m in models] == ["live"]
    for name in ("c1", "c2", "c3"):
        closed = cache.case(("shop", name))
        assert closed is not None and closed._model is None and closed._error is None
    assert sorted(m.metadata.name for m in cache.cases_of("acme")) == ["c1", "c2", "c3", "live"]


def test_a_refused_object_has_no_model_and_says_why() -> None:
    obj = case_obj("broken", title=None)
    cached = Cached(obj, SupportCase)
    assert cached.error is not None and isinstance(cached.error, ValidationError)  # parses on first use
    assert cached.model is None
    assert "title" in str(cached.error)
    cache = ObjectCache()
    cache.put_case(obj)
    assert cache.case(("shop", "broken")).model is None  # type: ignore[union-attr]
    assert cache.cases_of("acme") == []


def test_namespaces_and_contracts_with_access() -> None:
    cache = ObjectCache()
    assert cache.put_namespace("shop", {"a": "1"})
    assert not cache.put_namespace("shop", {"a": "1"})
    assert cache.put_namespace("shop", {"a": "2"})
    assert cache.put_namespace("shop", None)
    assert not cache.put_namespace("shop", None)
    cache.put_contract(contract_obj("with", access=True))
    cache.put_contract(contract_obj("without"))
    assert cache.contracts_with_access() == ["with"]
