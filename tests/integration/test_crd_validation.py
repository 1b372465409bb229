"""The generated CRDs on the real API server: samples are accepted, invalid resources and transitions are
refused with the messages the models define, defaults apply, printer columns and `kubectl explain` work."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from support_resources import delete_contract

from support_operator.api import v1alpha1 as api
from support_operator.testing.wait import eventually

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
CONTRACT_SAMPLE = "supportcontract.yaml"
CASE_SAMPLES = (
    "supportcase-production-incident.yaml",
    "supportcase-nonproduction-incident.yaml",
    "supportcase-consultation.yaml",
)

Obj = dict[str, Any]
Change = Callable[[Obj], None]


def sample(file_name: str) -> Obj:
    loaded = yaml.safe_load((SAMPLES / file_name).read_text())
    assert isinstance(loaded, dict)
    return loaded


class Cluster:
    """Creates and updates our resources through the typed-agnostic CustomObjectsApi; cleans up contracts."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.objects = client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.contracts: list[str] = []

    def create(self, obj: Obj) -> Obj:
        if obj["kind"] == api.CONTRACT_KIND:
            created = self.objects.create_cluster_custom_object(
                api.GROUP, api.VERSION, api.CONTRACT_PLURAL, obj
            )
            self.contracts.append(obj["metadata"]["name"])
        else:
            created = self.objects.create_namespaced_custom_object(
                api.GROUP, api.VERSION, self.namespace, api.CASE_PLURAL, obj
            )
        assert isinstance(created, dict)
        return created

    def replace(self, obj: Obj) -> Obj:
        """PUT `obj`; the running operator may have written status meanwhile (a new resourceVersion), so a
        conflict is retried with the fresh version: the spec sent is the same, status is ignored by PUT."""
        for _ in range(5):
            try:
                return self._replace(obj)
            except ApiException as error:
                if error.status != 409:
                    raise
                obj["metadata"]["resourceVersion"] = self._get(obj)["metadata"]["resourceVersion"]
        return self._replace(obj)

    def _get(self, obj: Obj) -> Obj:
        name = obj["metadata"]["name"]
        if obj["kind"] == api.CONTRACT_KIND:
            found = self.objects.get_cluster_custom_object(api.GROUP, api.VERSION, api.CONTRACT_PLURAL, name)
        else:
            found = self.objects.get_namespaced_custom_object(
                api.GROUP, api.VERSION, self.namespace, api.CASE_PLURAL, name
            )
        assert isinstance(found, dict)
        return found

    def _replace(self, obj: Obj) -> Obj:
        name = obj["metadata"]["name"]
        if obj["kind"] == api.CONTRACT_KIND:
            replaced = self.objects.replace_cluster_custom_object(
                api.GROUP, api.VERSION, api.CONTRACT_PLURAL, name, obj
            )
        else:
            replaced = self.objects.replace_namespaced_custom_object(
                api.GROUP, api.VERSION, self.namespace, api.CASE_PLURAL, name, obj
            )
        assert isinstance(replaced, dict)
        return replaced

    def cleanup(self) -> None:
        for name in self.contracts:
            delete_contract(self.objects, name)


@pytest.fixture
def cluster(api_client: client.ApiClient, crds: list[str], namespace: str) -> Iterator[Cluster]:
    handle = Cluster(api_client, namespace)
    yield handle
    handle.cleanup()


def contract(name: str) -> Obj:
    obj = sample(CONTRACT_SAMPLE)
    obj["metadata"] = {"name": name}
    return obj


def case(name: str = "case") -> Obj:
    obj = sample("supportcase-production-incident.yaml")
    obj["metadata"] = {"name": name}
    return obj


def refusal_message(call: Callable[[], object]) -> str:
    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status == 422, raised.value.body
    message = json.loads(raised.value.body)["message"]
    assert isinstance(message, str)
    return message


# --- the invalid resources ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Invalid:
    """A resource the API server must refuse: `base` made invalid by `change` at creation, or - when
    `before` is given - created valid (after `before`) and then updated by `change`."""

    id: str
    kind: str
    change: Change
    message: str
    before: Change | None = None


def spec_path(*keys: str | int) -> Callable[[Obj], Any]:
    def resolve(obj: Obj) -> Any:
        node: Any = obj["spec"]
        for key in keys:
            node = node[key]
        return node

    return resolve


def setting(value: Any, *keys: str | int) -> Change:
    def change(obj: Obj) -> None:
        spec_path(*keys[:-1])(obj)[keys[-1]] = copy.deepcopy(value)

    return change


def removing(*keys: str | int) -> Change:
    def change(obj: Obj) -> None:
        del spec_path(*keys[:-1])(obj)[keys[-1]]

    return change


def both(*changes: Change) -> Change:
    def change(obj: Obj) -> None:
        for each in changes:
            each(obj)

    return change


NEGATIVE_EFFORT_WITHOUT_REASON = {"id": "e-fix", "member": "anna", "date": "2026-11-04", "duration": "-30m"}
NEW_CASE = both(setting("New", "state"), removing("analysisStartedAt"))

INVALID = [
    # SupportContract, at creation
    Invalid("reaction-time-4h", "contract", setting("4h", "reactionTime"), 'supported values: "2h", "8h"'),
    Invalid(
        "time-zone-without-region",
        "contract",
        setting("Zurich", "supportHours", "timeZone"),
        "timeZone must be an IANA time zone name",
    ),
    Invalid(
        "interval-ends-before-it-starts",
        "contract",
        setting([{"start": "17:00", "end": "08:00"}], "supportHours", "intervals"),
        "start must be before end",
    ),
    Invalid(
        "overlapping-intervals",
        "contract",
        setting(
            [{"start": "08:00", "end": "12:30"}, {"start": "12:00", "end": "17:00"}],
            "supportHours",
            "intervals",
        ),
        "intervals must not overlap",
    ),
    Invalid(
        "scope-with-namespaces-and-selector",
        "contract",
        setting(["shop-prod"], "access", "scope", "namespaces"),
        "scope needs exactly one of namespaces or namespaceSelector",
    ),
    Invalid(
        "scope-with-neither",
        "contract",
        setting({}, "access", "scope"),
        "scope needs exactly one of namespaces or namespaceSelector",
    ),
    Invalid(
        "empty-namespace-selector",
        "contract",
        setting({"matchLabels": {}}, "access", "scope", "namespaceSelector"),
        "namespaceSelector must not be empty",
    ),
    Invalid(
        "selector-in-without-values",
        "contract",
        setting(
            {"matchExpressions": [{"key": "team", "operator": "In"}]}, "access", "scope", "namespaceSelector"
        ),
        "In and NotIn need values",
    ),
    Invalid("token-ttl-5m", "contract", setting("5m", "access", "tokenTTL"), "tokenTTL must be at least 10m"),
    Invalid(
        "package-expires-before-purchase",
        "contract",
        setting("2025-12-31", "addOns", "packages", 0, "expiresOn"),
        "expiresOn must be after purchasedOn",
    ),
    Invalid(
        "period-ends-before-start",
        "contract",
        setting({"start": "2026-01-01", "end": "2025-06-30"}, "period"),
        "period end must be after start",
    ),
    Invalid(
        "package-billing-without-packages",
        "contract",
        removing("addOns", "packages"),
        "billing mode Package needs at least one package in addOns.packages",
    ),
    Invalid(
        "increment-of-7-minutes",
        "contract",
        setting(7, "billing", "incrementMinutes"),
        "incrementMinutes must divide an hour",
    ),
    Invalid(
        "pikett-reaction-time-zero",
        "contract",
        setting("0m", "addOns", "pikett", "reactionTime"),
        "pikett reactionTime must be longer than 0s",
    ),
    Invalid(
        "name-longer-than-a-label-value",
        "contract",
        lambda obj: obj["metadata"].update(name="c" * 64),
        "metadata.name is limited to 63 characters",
    ),
    # SupportCase, at creation
    Invalid("incident-without-impact", "case", removing("impact"), "an Incident needs impact"),
    Invalid(
        "in-analysis-without-analysis-start",
        "case",
        removing("analysisStartedAt"),
        "`kubectl support ack` sets both",
    ),
    Invalid(
        "analysis-started-before-report",
        "case",
        setting("2026-11-03T08:00:00+01:00", "analysisStartedAt"),
        "analysisStartedAt cannot be before reportedAt",
    ),
    Invalid(
        "reporter-without-contact",
        "case",
        setting({"name": "Anonymous"}, "reporter"),
        "reporter needs an email or a phone number",
    ),
    Invalid(
        "negative-effort-without-reason",
        "case",
        setting([NEGATIVE_EFFORT_WITHOUT_REASON], "effort"),
        "a negative (correcting) effort entry needs a reason",
    ),
    Invalid(
        "zero-effort",
        "case",
        setting("0h0m", "effort", 0, "duration"),
        "effort duration must not be zero",
    ),
    Invalid(
        "fractional-effort",
        "case",
        setting("1.5h", "effort", 0, "duration"),
        "effort duration must be whole minutes (90) or hours and minutes",
    ),
    # SupportCase, invalid updates and transitions
    Invalid(
        "contract-ref-changed",
        "case",
        setting({"name": "other-contract"}, "contractRef"),
        "contractRef is immutable",
        before=lambda obj: None,
    ),
    Invalid(
        "reported-at-changed",
        "case",
        setting("2026-11-03T08:00:00+01:00", "reportedAt"),
        "reportedAt is immutable",
        before=lambda obj: None,
    ),
    Invalid(
        "reported-at-added-later",
        "case",
        setting("2026-11-03T09:12:00+01:00", "reportedAt"),
        "reportedAt cannot be added or removed after creation",
        before=removing("reportedAt"),
    ),
    Invalid(
        "reported-at-removed",
        "case",
        removing("reportedAt"),
        "reportedAt cannot be added or removed after creation",
        before=lambda obj: None,
    ),
    Invalid(
        "analysis-start-changed",
        "case",
        setting("2026-11-03T10:00:00+01:00", "analysisStartedAt"),
        "analysisStartedAt is immutable once set",
        before=lambda obj: None,
    ),
    Invalid(
        "analysis-start-removed",
        "case",
        removing("analysisStartedAt"),
        "analysisStartedAt is immutable once set",
        before=lambda obj: None,
    ),
    Invalid(
        "closed-case-reopened",
        "case",
        setting("InAnalysis", "state"),
        "a Closed case is final",
        before=setting("Closed", "state"),
    ),
    Invalid(
        "case-back-to-new",
        "case",
        setting("New", "state"),
        "a case cannot return to New",
        before=lambda obj: None,
    ),
    Invalid(
        "effort-entry-edited",
        "case",
        setting("2h", "effort", 0, "duration"),
        "effort entries are append-only: record a correction as a new entry",
        before=lambda obj: None,
    ),
    Invalid(
        "effort-entry-removed",
        "case",
        lambda obj: obj["spec"]["effort"].pop(0),
        "effort entries are append-only: they cannot be removed",
        before=lambda obj: None,
    ),
    Invalid(
        "effort-ledger-cleared",
        "case",
        removing("effort"),
        "effort entries are append-only",
        before=lambda obj: None,
    ),
    Invalid(
        "acknowledged-without-analysis-start",
        "case",
        setting("InAnalysis", "state"),
        "`kubectl support ack` sets both",
        before=NEW_CASE,
    ),
]


def test_at_least_twenty_invalid_resources_are_listed() -> None:
    assert len(INVALID) >= 20
    assert len({invalid.id for invalid in INVALID}) == len(INVALID)


@pytest.mark.parametrize("invalid", INVALID, ids=lambda invalid: invalid.id)
def test_api_server_refuses_invalid_resource(cluster: Cluster, invalid: Invalid) -> None:
    obj = contract(f"{cluster.namespace}-c") if invalid.kind == "contract" else case()
    if invalid.before is None:
        invalid.change(obj)
        message = refusal_message(lambda: cluster.create(obj))
    else:
        invalid.before(obj)
        stored = cluster.create(obj)
        invalid.change(stored)
        message = refusal_message(lambda: cluster.replace(stored))
    assert invalid.message in message


# --- what must be accepted ----------------------------------------------------------------------------


def test_samples_are_accepted_and_stored_unchanged(cluster: Cluster) -> None:
    contract_sample = sample(CONTRACT_SAMPLE)
    contract_sample["metadata"]["name"] = f"{cluster.namespace}-acme"  # cluster-scoped: unique per test
    stored = cluster.create(contract_sample)
    assert (
        api.SupportContract.model_validate(stored).spec
        == api.SupportContract.model_validate(contract_sample).spec
    )
    for file_name in CASE_SAMPLES:
        case_sample = sample(file_name)
        stored = cluster.create(case_sample)
        assert stored["spec"]["contractRef"] == {"name": "acme-openshift"}
        assert api.SupportCase.model_validate(stored).spec == api.SupportCase.model_validate(case_sample).spec


def test_minimal_contract_gets_the_offers_defaults(cluster: Cluster) -> None:
    minimal = {
        "apiVersion": api.API_VERSION,
        "kind": api.CONTRACT_KIND,
        "metadata": {"name": f"{cluster.namespace}-min"},
        "spec": {
            "customer": {"name": "Minimal AG"},
            "reactionTime": "8h",
            "team": [{"name": "anna", "email": "anna@puzzle.ch", "languages": ["de"]}],
            "access": {"scope": {"namespaces": ["app"]}},
        },
    }
    spec = cluster.create(minimal)["spec"]
    assert spec["supportHours"] == {
        "timeZone": "Europe/Zurich",
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
        "intervals": [{"start": "08:00", "end": "17:00"}],
        "holidays": {"country": "CH", "subdivision": "BE"},
    }
    assert spec["language"] == "de"
    assert spec["billing"] == {"mode": "Monthly", "incrementMinutes": 15}
    assert spec["addOns"] == {"trainings": False, "consulting": False}
    assert spec["suspended"] is False
    access = spec["access"]
    assert (access["mode"], access["baseRoles"], access["elevatedRole"]) == (
        "Personal",
        ["support-readonly"],
        "edit",
    )
    assert (access["tokenTTL"], access["elevationMaxDuration"]) == ("1h", "8h")
    # What the API server defaulted is what the models default to.
    parsed = api.SupportContract.model_validate(minimal).spec.to_json_dict()
    assert {key: spec[key] for key in parsed} == parsed


def test_lifecycle_transitions_and_appended_effort_are_accepted(cluster: Cluster) -> None:
    obj = case("lifecycle")
    NEW_CASE(obj)
    obj["spec"]["effort"] = obj["spec"]["effort"][:1]
    stored = cluster.create(obj)
    assert stored["spec"]["state"] == "New"
    stored["spec"].update(state="InAnalysis", analysisStartedAt="2026-11-03T09:40:00+01:00")
    stored = cluster.replace(stored)
    for state in ("WaitingForCustomer", "InAnalysis", "Resolved", "InAnalysis", "Resolved", "Closed"):
        stored["spec"]["state"] = state
        stored["spec"]["effort"].append(
            {
                "id": f"e-{len(stored['spec']['effort'])}",
                "member": "luca",
                "date": "2026-11-04",
                "duration": 15,
            }
        )
        stored = cluster.replace(stored)
        assert stored["spec"]["state"] == state
    stored["spec"]["effort"].append(
        {
            "id": "e-correction",
            "member": "anna",
            "date": "2026-11-05",
            "duration": -15,
            "reason": "booked twice",
        }
    )
    stored = cluster.replace(stored)
    entries = api.SupportCase.model_validate(stored).spec.effort or []
    assert sum(entry.minutes() for entry in entries) == 90 + 6 * 15 - 15


NOW = datetime(2026, 11, 3, 8, 45, tzinfo=UTC)
STATUS = api.SupportCaseStatus(
    observed_generation=1,
    priority=api.Priority.P1,
    queue_position=1,
    reaction=api.ReactionStatus(
        target="2h",
        calendar=api.Calendar.STANDARD,
        reported_at=datetime(2026, 11, 3, 8, 12, tzinfo=UTC),
        deadline=datetime(2026, 11, 3, 10, 12, tzinfo=UTC),
        state=api.ReactionState.MET,
        analysis_started_at=NOW,
    ),
    conditions=[
        api.Condition(
            type="Ready", status=api.ConditionStatus.TRUE, reason="Accepted", last_transition_time=NOW
        )
    ],
    history=[api.HistoryEntry(at=NOW, type="Acknowledged", message="analysis started")],
    effort=api.EffortTotals(entries=3, total_minutes=120, billable_minutes=120),
)


def write_status(
    api_client: client.ApiClient, namespace: str, name: str, status: api.SupportCaseStatus
) -> Obj:
    """Replaces the whole status (PUT /status), so what comes back is exactly `status` even though the
    running operator writes its own status to the same case; a conflict with it is retried."""
    objects = client.CustomObjectsApi(api_client)
    for attempt in range(5):
        current = objects.get_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.CASE_PLURAL, name
        )
        current["status"] = status.to_json_dict()
        try:
            replaced = objects.replace_namespaced_custom_object_status(
                api.GROUP, api.VERSION, namespace, api.CASE_PLURAL, name, current
            )
        except ApiException as error:
            if error.status != 409 or attempt == 4:
                raise
            continue
        assert isinstance(replaced, dict)
        return replaced
    raise AssertionError("unreachable")


def test_status_written_from_the_models_is_accepted(api_client: client.ApiClient, cluster: Cluster) -> None:
    cluster.create(case("with-status"))
    patched = write_status(api_client, cluster.namespace, "with-status", STATUS)
    assert api.SupportCase.model_validate(patched).status == STATUS


def test_status_is_validated_too(api_client: client.ApiClient, cluster: Cluster) -> None:
    cluster.create(case("bad-status"))
    invalid = STATUS.to_json_dict() | {"priority": "P0"}
    with pytest.raises(ApiException) as raised:
        client.CustomObjectsApi(api_client).patch_namespaced_custom_object_status(
            api.GROUP, api.VERSION, cluster.namespace, api.CASE_PLURAL, "bad-status", {"status": invalid}
        )
    assert raised.value.status == 422
    assert "status.priority" in json.loads(raised.value.body)["message"]


# --- kubectl --------------------------------------------------------------------------------------------


def test_kubectl_get_shows_the_printer_columns(
    control_plane: Any, api_client: client.ApiClient, cluster: Cluster
) -> None:
    cluster.create(contract(f"{cluster.namespace}-c"))
    cluster.create(case("columns"))
    write_status(api_client, cluster.namespace, "columns", STATUS)

    def get(*args: str) -> str | None:
        result = control_plane.kubectl("get", *args, check=False)
        return result.stdout if result.returncode == 0 and result.stdout else None

    cases = eventually(lambda: get("supportcases", "-n", cluster.namespace))
    assert cases.splitlines()[0].split() == [
        "NAME",
        "PRIORITY",
        "STATE",
        "DEADLINE",
        "SLA",
        "FINDINGS",
        "AGE",
    ]
    assert cases.splitlines()[1].split()[:5] == ["columns", "P1", "InAnalysis", "2026-11-03T10:12:00Z", "Met"]
    wide = eventually(lambda: get("scase", "-n", cluster.namespace, "-o", "wide"))
    assert {"CONTRACT", "QUEUE", "TITLE"} <= set(wide.splitlines()[0].split())
    contracts = eventually(lambda: get("sctr", f"{cluster.namespace}-c"))
    assert contracts.splitlines()[0].split() == ["NAME", "CUSTOMER", "REACTION", "TEAM", "READY", "AGE"]
    assert "ACME Logistik AG" in contracts
    everything = eventually(lambda: get("support", "-n", cluster.namespace))
    assert "supportcase.support.puzzle.ch/columns" in everything


def test_kubectl_explain_teaches_the_api(control_plane: Any, crds: list[str]) -> None:
    def explain(path: str) -> str | None:
        result = control_plane.kubectl("explain", path, check=False)
        return result.stdout if result.returncode == 0 else None

    spec = eventually(lambda: explain("supportcase.spec"))
    description = api.SupportCaseSpec.model_fields["analysis_started_at"].description
    assert description is not None
    assert "analysisStartedAt" in spec
    assert " ".join(description.split()[:6]) in " ".join(spec.split())
    assert "The case as reported" in spec
    hours = eventually(lambda: explain("supportcontract.spec.supportHours"))
    assert "IANA time zone" in hours
    assert "Europe/Zurich" in hours
