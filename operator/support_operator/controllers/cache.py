"""The typed cache: the latest SupportContracts, SupportCases and namespace labels, as the API server last
returned them (watch events, lists and our own writes' responses), with parsed models and the indexes the
controllers read (cases by contract, open-case counts). One writer: the event loop. Readers in other
threads (the metrics scrape) take `raw_cases` / `raw_contracts` snapshots with `list()`, which is atomic."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from support_operator.api.v1alpha1 import OpenCases, ResourceModel, SupportCase, SupportContract
from support_operator.controllers.dependents import CaseFacts, ContractFacts, case_facts, contract_facts
from support_operator.status.evidence import evidence_fields

CaseKey = tuple[str, str]  # namespace, name
Model = TypeVar("Model", bound=ResourceModel)


@dataclass
class Cached(Generic[Model]):
    """One object at one resourceVersion; its model is parsed on first use (a cold start lists 50,000
    cases, most of which no reconcile reads until they change)."""

    obj: dict[str, Any]
    kind: type[Model]
    _model: Model | None = None
    _error: ValidationError | None = None

    @property
    def model(self) -> Model | None:
        """None when our models refuse the object (`error` says why)."""
        if self._model is None and self._error is None:
            try:
                self._model = self.kind.from_k8s(self.obj)
            except ValidationError as error:
                self._error = error
        return self._model

    @property
    def error(self) -> ValidationError | None:
        self.model  # noqa: B018 (parses on first use)
        return self._error


def newer(incoming: dict[str, Any], known: dict[str, Any] | None) -> bool:
    """Whether `incoming` is at least as new as `known` (a watch event may trail our own write)."""
    if known is None:
        return True
    new, old = incoming["metadata"].get("resourceVersion", ""), known["metadata"].get("resourceVersion", "")
    if new.isdigit() and old.isdigit():
        return int(new) >= int(old)
    return True


@dataclass
class CaseChange:
    key: CaseKey
    old: CaseFacts | None
    new: CaseFacts | None


@dataclass
class ContractChange:
    name: str
    old: ContractFacts | None
    new: ContractFacts | None


@dataclass
class ObjectCache:
    raw_contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw_cases: dict[CaseKey, dict[str, Any]] = field(default_factory=dict)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels
    _contracts: dict[str, Cached[SupportContract]] = field(default_factory=dict)
    _cases: dict[CaseKey, Cached[SupportCase]] = field(default_factory=dict)
    _facts: dict[CaseKey, CaseFacts] = field(default_factory=dict)
    _by_contract: dict[str, set[CaseKey]] = field(default_factory=lambda: defaultdict(set))
    _open: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    # -- writes: each returns what changed (None: nothing, e.g. an older version than we hold) ----------

    def put_case(self, obj: dict[str, Any]) -> CaseChange | None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if not newer(obj, self.raw_cases.get(key)):
            return None
        obj = _trimmed(obj)
        self.raw_cases[key] = obj
        self._cases[key] = Cached(obj, SupportCase)
        return self._index(key, case_facts(obj))

    def drop_case(self, key: CaseKey) -> CaseChange | None:
        if self.raw_cases.pop(key, None) is None:
            return None
        self._cases.pop(key, None)
        return self._index(key, None)

    def put_contract(self, obj: dict[str, Any]) -> ContractChange | None:
        name = obj["metadata"]["name"]
        previous = self.raw_contracts.get(name)
        if not newer(obj, previous):
            return None
        self.raw_contracts[name] = obj
        self._contracts[name] = Cached(obj, SupportContract)
        return ContractChange(name, contract_facts(previous), contract_facts(obj))

    def drop_contract(self, name: str) -> ContractChange | None:
        previous = self.raw_contracts.pop(name, None)
        self._contracts.pop(name, None)
        return ContractChange(name, contract_facts(previous), None) if previous is not None else None

    def put_namespace(self, name: str, labels: dict[str, str] | None) -> bool:
        """Stores (None: removes) a namespace's labels; whether anything changed."""
        if labels is None:
            return self.namespaces.pop(name, None) is not None
        changed = self.namespaces.get(name) != labels
        self.namespaces[name] = labels
        return changed

    def _index(self, key: CaseKey, facts: CaseFacts | None) -> CaseChange:
        old = self._facts.pop(key, None)
        if old is not None:
            self._by_contract[old.contract].discard(key)
            if old.open and old.priority:
                self._open[old.contract][old.priority] -= 1
        if facts is not None:
            self._facts[key] = facts
            self._by_contract[facts.contract].add(key)
            if facts.open and facts.priority:
                self._open[facts.contract][facts.priority] += 1
        return CaseChange(key, old, facts)

    # -- reads -----------------------------------------------------------------------------------------

    def case(self, key: CaseKey) -> Cached[SupportCase] | None:
        return self._cases.get(key)

    def contract(self, name: str) -> Cached[SupportContract] | None:
        return self._contracts.get(name)

    def contract_model(self, name: str) -> SupportContract | None:
        cached = self._contracts.get(name)
        return cached.model if cached is not None else None

    def facts(self, key: CaseKey) -> CaseFacts | None:
        return self._facts.get(key)

    def case_keys_of(self, contract: str) -> list[CaseKey]:
        return list(self._by_contract.get(contract, ()))

    def cases_of(self, contract: str) -> list[SupportCase]:
        """The contract's cases as models; unreadable ones are reported by their own reconcile."""
        models = (self._cases[key].model for key in self._by_contract.get(contract, ()))
        return [model for model in models if model is not None]

    def open_cases_of(self, contract: str) -> list[SupportCase]:
        """Only the open ones: what access and the queue read, without parsing years of closed cases."""
        keys = (k for k in self._by_contract.get(contract, ()) if (f := self._facts.get(k)) and f.open)
        models = (self._cases[key].model for key in keys)
        return [model for model in models if model is not None]

    def open_cases(self, contract: str) -> OpenCases:
        counts = self._open.get(contract, {})
        p1, p2, p3 = (max(counts.get(p, 0), 0) for p in ("P1", "P2", "P3"))
        return OpenCases(p1=p1, p2=p2, p3=p3, total=p1 + p2 + p3)

    def case_keys_in(self, namespace: str) -> list[CaseKey]:
        return [key for key in self.raw_cases if key[0] == namespace]

    def entitlement_by_namespace(self) -> bool:
        """Whether some contract serves cases only from selected namespaces (spec.caseNamespaces)."""
        return any((obj.get("spec") or {}).get("caseNamespaces") for obj in self.raw_contracts.values())

    def contracts_with_access(self) -> list[str]:
        return [n for n, obj in self.raw_contracts.items() if (obj.get("spec") or {}).get("access")]


def _trimmed(obj: dict[str, Any]) -> dict[str, Any]:
    """The case without the managedFields nobody reads (often half its size): 50,000 cases in memory."""
    metadata = obj["metadata"]
    if "managedFields" not in metadata:
        return obj
    kept = evidence_fields(metadata["managedFields"] or [])
    trimmed = {k: v for k, v in metadata.items() if k != "managedFields"}
    return {**obj, "metadata": {**trimmed, **({"managedFields": kept} if kept else {})}}
