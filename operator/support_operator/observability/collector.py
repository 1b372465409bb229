"""SLA metrics, computed when Prometheus scrapes, from the objects the operator already holds in memory.

A scrape reads the store's `contracts` and `cases` (raw API objects with their status): no API call and no
status write. What a scrape derives from an object (labels, the case's `sla.ReactionClock`, its queue key) is
cached per resourceVersion, so a scrape costs one clock read per case still awaiting analysis; the queue
positions are sorted again only when some case's facts changed.

Per open case: deadline, business seconds remaining, share of the target used, breached and awaiting flags,
its position in the contract's queue, and an info series. Per contract: open cases by priority, reaction
results, status conditions, team size, access identities and nearest token expiry, package balances, pending
knowledge transfers. docs/metrics.md is the reference. `render()` writes the same text as prometheus_client's
`generate_latest` from pre-rendered label sets, for the fast /metrics endpoint in `observability.exposition`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from pydantic import ValidationError

from support_operator.api.v1alpha1 import OPEN_STATES, SupportContract, SupportContractStatus
from support_operator.domain import sla
from support_operator.domain.calendar import BusinessCalendar, from_epoch_us
from support_operator.domain.queue import QueueItem, priority_class, queue_sort_key
from support_operator.status.policy import reaction_policy

log = logging.getLogger(__name__)

CaseKey = tuple[str, str]
QueueKey = tuple[int, int, int, str]
Labels = tuple[str, ...]
CASE_LABELS: Labels = ("namespace", "case", "contract", "priority", "impact", "category")
CASE_INFO_LABELS: Labels = (*CASE_LABELS, "state", "calendar")
PRIORITIES = ("P1", "P2", "P3")
REACTION_STATES = tuple(state.value for state in sla.ReactionState)
CONDITION_STATUSES = ("True", "False", "Unknown")
_go_float: Callable[[float], str] = floatToGoString  # the client's float format, typed
_OPEN = frozenset(state.value for state in OPEN_STATES)
_US = 1_000_000


class ObjectStore(Protocol):
    """What the collector reads: the Reconciler's latest objects (raw API dicts, status included)."""

    @property
    def contracts(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def cases(self) -> Mapping[CaseKey, Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Family:
    """One metric family; `name` is the exposed name (info families end in `_info`)."""

    name: str
    documentation: str
    labels: Labels
    info: bool = False

    def empty(self) -> Metric:
        if self.info:
            return InfoMetricFamily(self.name.removesuffix("_info"), self.documentation, labels=self.labels)
        return GaugeMetricFamily(self.name, self.documentation, labels=self.labels)

    @property
    def header(self) -> str:
        """HELP and TYPE lines as `generate_latest` writes them (info families become gauges)."""
        text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {self.name} {text}\n# TYPE {self.name} gauge\n"


CASE_INFO = Family(
    "support_case_info",
    "One series per open SupportCase (value 1), with its state and reaction calendar as labels.",
    CASE_INFO_LABELS,
    info=True,
)
DEADLINE = Family(
    "support_case_reaction_deadline_timestamp_seconds",
    "Reaction deadline of an open case (Unix time): analysis must have started by then.",
    CASE_LABELS,
)
REMAINING = Family(
    "support_case_reaction_remaining_business_seconds",
    "Support time left until the reaction deadline, in business seconds; 0 once used up. "
    "Stops when analysis starts.",
    CASE_LABELS,
)
USED_RATIO = Family(
    "support_case_reaction_used_ratio",
    "Share of the reaction target used: business time elapsed since the report (until analysis started) "
    "divided by the target; above 1 once the deadline has passed.",
    CASE_LABELS,
)
BREACHED = Family(
    "support_case_reaction_breached",
    "1 when the reaction is breached (deadline passed without analysis, or analysis started late), else 0.",
    CASE_LABELS,
)
AWAITING = Family(
    "support_case_awaiting_analysis",
    "1 while analysis of an open case has not started (spec.analysisStartedAt unset), else 0.",
    CASE_LABELS,
)
CONTRACT_INFO = Family(
    "support_contract_info",
    "One series per SupportContract (value 1), with its reaction time, distribution and billing mode.",
    ("contract", "reaction_time", "distribution", "billing_mode"),
    info=True,
)
OPEN_CASES = Family(
    "support_contract_open_cases",
    "Open cases of the contract by priority (P1 production incident, P2 non-production incident, "
    "P3 consultation).",
    ("contract", "priority"),
)
REACTIONS = Family(
    "support_contract_case_reactions",
    "Cases of the contract (open and closed, while they exist) by the reaction state in their status: "
    "Pending, Met, Breached.",
    ("contract", "state"),
)
REACTION_EVIDENCE = Family(
    "support_contract_case_reaction_evidence",
    "Acknowledged cases of the contract (while they exist) by reaction state and evidence: Observed (the "
    "operator saw the acknowledgement arrive in time with its claim) or Recorded (claimed later or ahead).",
    ("contract", "state", "evidence"),
)
CONDITION = Family(
    "support_contract_status_condition",
    "Conditions of the contract's status: 1 for the current status (True, False, Unknown) of each "
    "condition type, 0 for the other two.",
    ("contract", "condition", "status"),
)
TEAM_MEMBERS = Family(
    "support_contract_team_members", "Members of the contract's support team.", ("contract",)
)
IDENTITIES = Family(
    "support_contract_access_identities",
    "Access identities provisioned for the support team (status.identities).",
    ("contract",),
)
TOKEN_EXPIRY = Family(
    "support_contract_access_token_expiry_timestamp_seconds",
    "Nearest expiry (Unix time) among the tokens of the contract's access identities.",
    ("contract",),
)
PACKAGE_PURCHASED = Family(
    "support_contract_package_purchased_seconds",
    "Prepaid time of a package, in seconds.",
    ("contract", "package"),
)
PACKAGE_USED = Family(
    "support_contract_package_used_seconds",
    "Billed effort charged to a package, in seconds.",
    ("contract", "package"),
)
PACKAGE_REMAINING = Family(
    "support_contract_package_remaining_seconds",
    "Prepaid time left in a package, in seconds.",
    ("contract", "package"),
)
PACKAGE_EXPIRED = Family(
    "support_contract_package_expired", "1 when the package has expired, else 0.", ("contract", "package")
)
KNOWLEDGE_TRANSFERS = Family(
    "support_contract_knowledge_transfers_pending",
    "New team members whose knowledge transfer is not recorded yet.",
    ("contract",),
)
QUEUE_POSITION = Family(
    "support_case_queue_position",
    "Position of an open case in its contract's queue (1 is worked on first): production incidents, then "
    "non-production incidents, then consultations; within each the earliest reaction deadline first.",
    ("namespace", "case", "contract"),
)
CASE_FAMILIES = (CASE_INFO, DEADLINE, REMAINING, USED_RATIO, BREACHED, AWAITING)
FAMILIES = (
    *CASE_FAMILIES,
    QUEUE_POSITION,
    CONTRACT_INFO,
    OPEN_CASES,
    REACTIONS,
    REACTION_EVIDENCE,
    CONDITION,
    TEAM_MEMBERS,
    IDENTITIES,
    TOKEN_EXPIRY,
    PACKAGE_PURCHASED,
    PACKAGE_USED,
    PACKAGE_REMAINING,
    PACKAGE_EXPIRED,
    KNOWLEDGE_TRANSFERS,
)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def label_block(names: Labels, values: Labels) -> str:
    """A label set as the text format writes it: sorted by name, values escaped."""
    pairs = sorted(zip(names, values, strict=True))
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in pairs) + "}"


# -- what is parsed once per resourceVersion --------------------------------------------------------------

# A series: its label values, its value, and its whole text line when known in advance ("" otherwise).
Row = tuple[Labels, float, str]


class ReactionNow(NamedTuple):
    """A case's reaction at one instant, as `sla.evaluate_reaction` would give it."""

    deadline: float  # Unix seconds
    remaining_seconds: float
    used_ratio: float
    breached: bool
    awaiting: bool


@dataclass(frozen=True)
class _ContractFacts:
    version: str
    spec_version: str  # metadata.generation: status writes do not change the reaction policy
    policy: sla.ReactionPolicy | None
    rows: tuple[tuple[Family, Labels, float], ...]  # the series that depend on the contract alone


@dataclass(frozen=True)
class _CaseFacts:
    version: tuple[str, str]
    contract: str
    is_open: bool
    priority: str
    reaction_state: str | None  # status.reaction.state, for the contract's counts
    evidence: str | None  # status.reaction.evidence
    labels: Labels
    info_labels: Labels
    info_line: str
    prefixes: tuple[str, ...]  # "name{labels} " of DEADLINE, REMAINING, USED_RATIO, BREACHED, AWAITING
    deadline_line: str
    awaiting_line: str
    clock: sla.ReactionClock | None  # None: no reaction SLA running (no status.reaction, no usable contract)
    fixed: tuple[ReactionNow, tuple[str, ...]] | None  # analysis started: the reaction and its lines
    queue_key: QueueKey | None = None  # open and its contract usable: where it stands in the queue


def _instant(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    instant = dt.datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"timestamp without time zone: {text}")
    return instant


def _contract_facts(
    name: str, obj: Mapping[str, Any], calendars: dict[BusinessCalendar, BusinessCalendar]
) -> _ContractFacts:
    metadata = obj.get("metadata", {})
    version = str(metadata.get("resourceVersion", ""))
    spec_version = str(metadata.get("generation") or version)
    try:
        contract = SupportContract.from_k8s(dict(obj))
    except ValidationError:
        log.debug("SupportContract %s does not validate; no contract metrics", name)
        return _ContractFacts(version, spec_version, None, ())
    try:
        policy: sla.ReactionPolicy | None = _sharing(reaction_policy(contract.spec), calendars)
    except ValueError:
        policy = None
    spec, status = contract.spec, contract.status or SupportContractStatus()
    distribution = spec.distribution or (status.platform.distribution if status.platform else None)
    info = (
        name,
        spec.reaction_time.value,
        distribution.value if distribution else "",
        spec.billing.mode.value,
    )
    rows: list[tuple[Family, Labels, float]] = [(CONTRACT_INFO, info, 1.0)]
    for condition in status.conditions or []:
        for candidate in CONDITION_STATUSES:
            rows.append(
                (CONDITION, (name, condition.type, candidate), float(condition.status.value == candidate))
            )
    team_size = status.team_size if status.team_size is not None else len(spec.team)
    rows.append((TEAM_MEMBERS, (name,), float(team_size)))
    identities = status.identities or []
    rows.append((IDENTITIES, (name,), float(len(identities))))
    expiries = [i.token_expires_at.timestamp() for i in identities if i.token_expires_at is not None]
    if expiries:
        rows.append((TOKEN_EXPIRY, (name,), min(expiries)))
    for package in status.packages or []:
        labels = (name, package.name)
        rows += [
            (PACKAGE_PURCHASED, labels, package.purchased_minutes * 60.0),
            (PACKAGE_USED, labels, package.used_minutes * 60.0),
            (PACKAGE_REMAINING, labels, package.remaining_minutes * 60.0),
            (PACKAGE_EXPIRED, labels, float(package.expired)),
        ]
    if status.pending_knowledge_transfers is not None:
        rows.append((KNOWLEDGE_TRANSFERS, (name,), float(len(status.pending_knowledge_transfers))))
    return _ContractFacts(version, spec_version, policy, tuple(rows))


def _sharing(
    policy: sla.ReactionPolicy, calendars: dict[BusinessCalendar, BusinessCalendar]
) -> sla.ReactionPolicy:
    """`policy` with calendars configured alike replaced by one instance, so its table is built once."""
    calendar = calendars.setdefault(policy.calendar, policy.calendar)
    pikett = policy.pikett
    if pikett is not None:
        pikett = replace(pikett, calendar=calendars.setdefault(pikett.calendar, pikett.calendar))
    return replace(policy, calendar=calendar, pikett=pikett)


def _clock(
    policy: sla.ReactionPolicy,
    category: sla.Category,
    impact: sla.Impact,
    obj: Mapping[str, Any],
    reaction: Mapping[str, Any],
) -> sla.ReactionClock | None:
    spec = obj.get("spec") or {}
    reported = _instant(spec.get("reportedAt")) or _instant(obj.get("metadata", {}).get("creationTimestamp"))
    if reported is None:
        return None
    previous = reaction.get("state")
    settled = sla.ReactionState(previous) if previous in REACTION_STATES else None
    analysis = _instant(spec.get("analysisStartedAt"))
    return sla.ReactionClock.start(policy, reported, category, impact, analysis, settled)


def _reaction_now(clock: sla.ReactionClock, now_us: int) -> ReactionNow:
    reading = clock.read(now_us)
    return ReactionNow(
        clock.deadline_us / _US,
        reading.remaining_us / _US,
        reading.elapsed_us / clock.target_us,
        reading.state == sla.ReactionState.BREACHED,
        clock.analysis_us is None,
    )


def _lines(prefixes: Sequence[str], reaction: ReactionNow) -> tuple[str, ...]:
    values = (reaction.deadline, reaction.remaining_seconds, reaction.used_ratio)
    texts = [_number(v) for v in values] + [_FLAG[reaction.breached], _FLAG[reaction.awaiting]]
    return tuple(f"{prefix}{text}\n" for prefix, text in zip(prefixes, texts, strict=True))


def _running_lines(case: _CaseFacts, reaction: ReactionNow) -> tuple[str, ...]:
    """The lines of a case still awaiting analysis: deadline and awaiting flag do not change."""
    _, remaining, used, breached, _ = case.prefixes
    return (
        case.deadline_line,
        f"{remaining}{_number(reaction.remaining_seconds)}\n",
        f"{used}{_number(reaction.used_ratio)}\n",
        f"{breached}{_FLAG[reaction.breached]}\n",
        case.awaiting_line,
    )


def _case_facts(
    key: CaseKey,
    obj: Mapping[str, Any],
    version: tuple[str, str],
    contract: _ContractFacts | None,
    now_us: int,
) -> _CaseFacts | None:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    try:
        category = sla.Category(spec.get("category", ""))
        impact = sla.Impact(spec.get("impact") or sla.Impact.NON_PRODUCTION.value)
    except ValueError:
        return None
    priority = priority_class(category, impact).label
    state = str(spec.get("state") or "New")
    contract_name = str((spec.get("contractRef") or {}).get("name", ""))
    reaction = status.get("reaction") or None
    clock = None
    if contract is not None and contract.policy is not None and (reaction is not None or state in _OPEN):
        try:
            clock = _clock(contract.policy, category, impact, obj, reaction or {})
        except ValueError as error:
            log.debug("SupportCase %s/%s: no reaction clock: %s", key[0], key[1], error)
    # The queue orders every open case of a usable contract; the reaction series wait for the status.
    queue_key = _queue_key(key, category, impact, clock) if clock is not None and state in _OPEN else None
    clock = clock if reaction is not None else None
    labels = (key[0], key[1], contract_name, priority, impact.value, category.value)
    calendar_name = "" if clock is None else "Pikett" if clock.pikett else "Standard"
    info_labels = (*labels, state, calendar_name)
    block = label_block(CASE_LABELS, labels)
    prefixes = tuple(f"{family.name}{block} " for family in CASE_FAMILIES[1:])
    fixed = None
    if clock is not None and clock.analysis_us is not None and clock.analysis_us <= now_us:
        try:  # the clock stopped when analysis started: the reaction never changes again
            reaction_now = _reaction_now(clock, now_us)
            fixed = (reaction_now, _lines(prefixes, reaction_now))
        except ValueError as error:
            log.debug("SupportCase %s/%s: no reaction: %s", key[0], key[1], error)
    return _CaseFacts(
        version=version,
        contract=contract_name,
        is_open=state in _OPEN,
        priority=priority,
        reaction_state=str(reaction.get("state")) if reaction and reaction.get("state") else None,
        evidence=str(reaction.get("evidence")) if reaction and reaction.get("evidence") else None,
        labels=labels,
        info_labels=info_labels,
        info_line=f"{CASE_INFO.name}{label_block(CASE_INFO_LABELS, info_labels)} 1.0\n",
        prefixes=prefixes,
        deadline_line=f"{prefixes[0]}{_number(clock.deadline_us / _US)}\n" if clock is not None else "",
        awaiting_line=f"{prefixes[4]}{_FLAG[clock.analysis_us is None]}\n" if clock is not None else "",
        clock=clock,
        fixed=fixed,
        queue_key=queue_key,
    )


def _queue_key(
    key: CaseKey, category: sla.Category, impact: sla.Impact, clock: sla.ReactionClock
) -> QueueKey:
    item = QueueItem(f"{key[0]}/{key[1]}", category, impact, from_epoch_us(clock.reported_us), clock.deadline)
    return queue_sort_key(item)


# -- the collector ---------------------------------------------------------------------------------------


class SlaCollector(Collector):
    """A prometheus_client collector over the operator's in-memory objects; register it once per registry
    with `install()`. `store` may change (an operator restarted in the same process) or be None (not
    started yet: the families are exported without series)."""

    def __init__(self, store: ObjectStore | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._contracts: dict[str, _ContractFacts] = {}
        self._cases: dict[CaseKey, _CaseFacts] = {}
        self._calendars: dict[BusinessCalendar, BusinessCalendar] = {}
        self._generation = 0  # counts changes of the cases' facts: the queue is re-sorted only then
        self._queue: tuple[int, list[Row]] = (-1, [])
        self._lock = threading.Lock()
        self._local = threading.local()

    def describe(self) -> Iterator[Metric]:
        for family in FAMILIES:
            yield family.empty()

    def collect(self) -> Iterator[Metric]:
        if getattr(self._local, "set_aside", False):
            return
        rows = self.rows()
        for family in FAMILIES:
            metric = family.empty()
            for labels, value, _line in rows[family]:
                if isinstance(metric, InfoMetricFamily):
                    metric.add_metric(labels, {})
                elif isinstance(metric, GaugeMetricFamily):
                    metric.add_metric(labels, value)
            yield metric

    def render(self) -> str:
        """The collector's families in the Prometheus text format (0.0.4), exactly as `generate_latest`
        writes them, from lines and label sets rendered once per object version."""
        rows = self.rows()
        out: list[str] = []
        for family in FAMILIES:
            out.append(family.header)
            name, names = family.name, family.labels
            for labels, value, line in rows[family]:
                out.append(line or f"{name}{label_block(names, labels)} {_number(value)}\n")
        return "".join(out)

    @contextmanager
    def set_aside(self) -> Iterator[None]:
        """While inside, `collect()` on this thread yields nothing: the rest of a registry can be rendered
        with `generate_latest` and this collector's families with `render()`."""
        self._local.set_aside = True
        try:
            yield
        finally:
            self._local.set_aside = False

    def rows(self) -> dict[Family, list[Row]]:
        """Every series of one scrape, by family."""
        store = self.store
        with self._lock:
            now_us = int(self.clock() * _US)
            if store is None:
                return {family: [] for family in FAMILIES}
            # Snapshots: the reconciler's thread replaces entries while we read (list() of a dict is atomic).
            contracts = self._refresh_contracts(list(store.contracts.items()))
            cases = self._refresh_cases(list(store.cases.items()), contracts, now_us)
            rows = _rows(contracts, cases, now_us)
            rows[QUEUE_POSITION] = list(self._cached_queue_rows(cases))
            return rows

    def reaction(self, key: CaseKey) -> ReactionNow | None:
        """The reaction of one case as of the last scrape's cache, now; None when no clock runs."""
        with self._lock:
            facts = self._cases.get(key)
            now_us = int(self.clock() * _US)
        if facts is None or facts.clock is None:
            return None
        return _reaction_now(facts.clock, now_us)

    def _refresh_contracts(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, _ContractFacts]:
        known, fresh = self._contracts, {}
        for name, obj in items:
            version = str(obj.get("metadata", {}).get("resourceVersion", ""))
            facts = known.get(name)
            if facts is None or facts.version != version:
                facts = _contract_facts(name, obj, self._calendars)
            fresh[name] = facts
        self._contracts = fresh
        return fresh

    def _refresh_cases(
        self,
        items: Sequence[tuple[CaseKey, Mapping[str, Any]]],
        contracts: Mapping[str, _ContractFacts],
        now_us: int,
    ) -> list[_CaseFacts]:
        known, fresh = self._cases, {}
        for key, obj in items:
            contract_name = ((obj.get("spec") or {}).get("contractRef") or {}).get("name", "")
            contract = contracts.get(contract_name)
            version = (
                str(obj.get("metadata", {}).get("resourceVersion", "")),
                contract.spec_version if contract is not None else "",
            )
            facts = known.get(key)
            if facts is None or facts.version != version:
                facts = _case_facts(key, obj, version, contract, now_us)
                if facts is None:
                    continue
                self._generation += 1
            fresh[key] = facts
        if len(fresh) != len(known):  # nothing new, so fresh holds only known keys: fewer means some left
            self._generation += 1
        self._cases = fresh
        return list(fresh.values())

    def _cached_queue_rows(self, cases: Sequence[_CaseFacts]) -> list[Row]:
        """Each open case's position in its contract's queue, sorted again only when a case changed."""
        generation, rows = self._queue
        if generation != self._generation:
            rows = _queue_rows(cases)
            self._queue = (self._generation, rows)
        return rows


def _rows(
    contracts: Mapping[str, _ContractFacts], cases: Sequence[_CaseFacts], now_us: int
) -> dict[Family, list[Row]]:
    rows: dict[Family, list[Row]] = {family: [] for family in FAMILIES}
    info = rows[CASE_INFO]
    per_case = [rows[family] for family in CASE_FAMILIES[1:]]
    deadline, remaining, used, breached, awaiting = per_case
    open_cases: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PRIORITIES, 0))
    reactions: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REACTION_STATES, 0))
    evidence: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for case in cases:
        if case.reaction_state in REACTION_STATES:
            reactions[case.contract][case.reaction_state] += 1
            if case.evidence is not None:
                evidence[case.contract][(case.reaction_state, case.evidence)] += 1
        if not case.is_open:
            continue
        open_cases[case.contract][case.priority] += 1
        info.append((case.info_labels, 1.0, case.info_line))
        if case.clock is None:
            continue
        if case.fixed is not None:
            reaction, lines = case.fixed
        else:
            try:
                reaction = _reaction_now(case.clock, now_us)
            except ValueError as error:  # a calendar without support time for years: no series, no failure
                log.debug("no reaction metrics for %s: %s", case.labels, error)
                continue
            lines = _running_lines(case, reaction)
        labels = case.labels
        deadline.append((labels, reaction.deadline, lines[0]))
        remaining.append((labels, reaction.remaining_seconds, lines[1]))
        used.append((labels, reaction.used_ratio, lines[2]))
        breached.append((labels, float(reaction.breached), lines[3]))
        awaiting.append((labels, float(reaction.awaiting), lines[4]))
    for name, facts in contracts.items():
        if not facts.rows:
            continue  # not a valid contract: nothing is known about it
        for family, labels, value in facts.rows:
            rows[family].append((labels, value, ""))
        for priority, count in open_cases[name].items():
            rows[OPEN_CASES].append(((name, priority), float(count), ""))
        for state, count in reactions[name].items():
            rows[REACTIONS].append(((name, state), float(count), ""))
        for (state, grade), count in sorted(evidence[name].items()):
            rows[REACTION_EVIDENCE].append(((name, state, grade), float(count), ""))
    return rows


def _queue_rows(cases: Sequence[_CaseFacts]) -> list[Row]:
    """The queue position series: per contract, its open cases in `domain.queue` order, 1 first."""
    queues: dict[str, list[tuple[QueueKey, _CaseFacts]]] = defaultdict(list)
    for case in cases:
        if case.queue_key is not None:
            queues[case.contract].append((case.queue_key, case))
    rows: list[Row] = []
    for contract in sorted(queues):
        ordered = sorted(queues[contract], key=lambda entry: entry[0])
        for position, (_, case) in enumerate(ordered, start=1):
            labels = (case.labels[0], case.labels[1], contract)
            value = float(position)
            line = f"{QUEUE_POSITION.name}{label_block(QUEUE_POSITION.labels, labels)} {_number(value)}\n"
            rows.append((labels, value, line))
    return rows


def _number(value: float) -> str:
    return _go_float(value)


_FLAG = {True: "1.0", False: "0.0"}


# -- one collector per registry --------------------------------------------------------------------------

_installed: weakref.WeakKeyDictionary[CollectorRegistry, SlaCollector] = weakref.WeakKeyDictionary()
_install_lock = threading.Lock()


def install(registry: CollectorRegistry, store: ObjectStore | None) -> SlaCollector:
    """Registers the SLA collector on `registry` once and points it at `store`. A second call (the operator
    started again within the same process) only swaps the store: registering twice would fail on the
    duplicate metric names."""
    with _install_lock:
        collector = _installed.get(registry)
        if collector is None:
            collector = SlaCollector(store)
            registry.register(collector)
            _installed[registry] = collector
        else:
            collector.store = store
        return collector


def installed(registry: CollectorRegistry) -> SlaCollector | None:
    """The SLA collector `install()` put on this registry, if any."""
    return _installed.get(registry)
