"""Records that hold up in an audit, on the real API server: the bad inputs refused in our words, invalid
input only the operator can detect ending in a condition and an Event, observed vs. recorded
acknowledgements in status, metrics and `kubectl support report`, and the admission policies that keep
records from deletion."""

from __future__ import annotations

import copy
import datetime as dt
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from support_resources import Resources, condition, iso, now
from test_effort_ledger import kubectl_support

from support_operator.api import v1alpha1 as api
from support_operator.testing.wait import eventually

Obj = dict[str, Any]
# The API server appends "<nil>: ... some validation rules were not checked" itself when a schema keyword
# failed; that is its wording, not a rule of ours speaking CEL.
CEL_INTERNALS = ("type conversion", "protobuf", "modulus by zero", "no such key", "no such overload")


def refusal(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status in (403, 422), raised.value.body
    body = json.loads(raised.value.body)
    return str(body.get("message", ""))


def assert_our_words(message: str) -> None:
    assert not [leak for leak in CEL_INTERNALS if leak in message], message


# --- the bad inputs the issue lists --------------------------------------------------------------------


CONTRACT_REFUSALS = [
    ({"access": {"scope": {"namespaces": ["x"]}, "tokenTTL": "forever"}}, "tokenTTL must be a duration"),
    ({"access": {"scope": {"namespaces": ["x"]}, "tokenTTL": "5m"}}, "tokenTTL must be at least 10m"),
    (
        {"access": {"scope": {"namespaces": ["x"]}, "elevationMaxDuration": "long"}},
        "elevationMaxDuration must be a duration",
    ),
    ({"billing": {"incrementMinutes": 0}}, "should be greater than or equal to 1"),
    ({"billing": {"incrementMinutes": 7}}, "incrementMinutes must divide an hour"),
    ({"records": {"acknowledgementTolerance": "a while"}}, "acknowledgementTolerance must be a duration"),
    ({"records": {"retentionDays": -1}}, "should be greater than or equal to 0"),
    (
        {"access": {"scope": {"namespaces": ["x"]}, "elevationMaxDuration": "0s"}},
        "elevationMaxDuration must be longer than 0s",
    ),
]
CONTRACT_REFUSAL_IDS = [
    "ttl-forever",
    "ttl-short",
    "elevation-word",
    "increment-zero",
    "increment-7",
    "tolerance",
    "retention",
    "elevation-zero",
]


@pytest.mark.parametrize(("change", "expected"), CONTRACT_REFUSALS, ids=CONTRACT_REFUSAL_IDS)
def test_contract_refusals_read_like_the_others(resources: Resources, change: Obj, expected: str) -> None:
    message = refusal(lambda: resources.contract(**change))
    assert expected in message
    assert_our_words(message)


@pytest.mark.parametrize("state", ["New", None])
def test_analysis_start_on_a_case_nobody_acknowledged_is_refused(
    resources: Resources, namespace: str, state: str | None
) -> None:
    contract = resources.contract()["metadata"]["name"]
    message = refusal(
        lambda: resources.case(
            namespace, contract, state=state, reportedAt=iso(now()), analysisStartedAt=iso(now())
        )
    )
    assert "analysisStartedAt needs a state past New" in message


def test_an_analysis_start_ahead_of_its_write_is_refused(resources: Resources, namespace: str) -> None:
    contract = resources.contract()["metadata"]["name"]
    ahead = iso(now() + dt.timedelta(hours=1))
    message = refusal(
        lambda: resources.case(
            namespace, contract, state="InAnalysis", reportedAt=iso(now()), analysisStartedAt=ahead
        )
    )
    assert f"analysisStartedAt {ahead} lies in the future" in message
    created = resources.case(namespace, contract, reportedAt=iso(now()))
    name = created["metadata"]["name"]
    message = refusal(
        lambda: resources.patch_case(namespace, name, {"state": "InAnalysis", "analysisStartedAt": ahead})
    )
    assert "lies in the future" in message
    # Within the leeway (client clocks) and in the past: accepted.
    resources.patch_case(namespace, name, {"state": "InAnalysis", "analysisStartedAt": iso(now())})


# --- what only the operator can detect ends in a condition and an Event --------------------------------


@pytest.mark.parametrize(
    ("hours", "reason", "says"),
    [
        ({"timeZone": "Mars/Olympus"}, "InvalidCalendar", "unknown time zone 'Mars/Olympus'"),
        ({"holidays": {"country": "XX"}}, "InvalidCalendar", "unknown holiday country 'XX'"),
        ({"holidays": {"country": "CH", "subdivision": "ZZ"}}, "InvalidCalendar", "unknown subdivision"),
    ],
    ids=["time-zone", "holiday-country", "holiday-subdivision"],
)
def test_invalid_calendar_ends_in_a_condition_and_an_event(
    operator: Any, resources: Resources, hours: Obj, reason: str, says: str
) -> None:
    name = resources.contract(supportHours=hours)["metadata"]["name"]
    stored = resources.wait_contract(
        name, lambda c: (condition(c, "Ready") or {}).get("reason") == reason, timeout=15
    )
    ready = condition(stored, "Ready")
    assert ready is not None and ready["status"] == "False" and says in ready["message"]
    events = eventually(
        lambda: [e for e in resources.events_for("default", name) if e.reason == reason] or None,
        timeout=15,
        what=f"a {reason} Event",
    )
    assert events[0].type == "Warning" and says in events[0].message


def test_a_case_under_a_missing_contract_ends_in_a_condition_and_an_event(
    operator: Any, resources: Resources, namespace: str
) -> None:
    name = resources.case(namespace, "no-such-contract", reportedAt=iso(now()))["metadata"]["name"]
    stored = resources.wait_case(
        namespace, name, lambda c: (condition(c, "Ready") or {}).get("reason") == "ContractNotFound"
    )
    assert "no-such-contract does not exist" in (condition(stored, "Ready") or {})["message"]
    eventually(
        lambda: [e for e in resources.events_for(namespace, name) if e.reason == "ContractNotFound"] or None,
        timeout=15,
        what="a ContractNotFound Event",
    )


# --- observed and recorded acknowledgements ------------------------------------------------------------


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_a_late_claim_is_recorded_and_a_live_ack_observed(
    operator: Any, control_plane: Any, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    reported = now() - dt.timedelta(hours=3)
    # Created three hours after the fact, claiming an acknowledgement two minutes after the report.
    late = resources.case(
        namespace,
        contract,
        name="phoned-in",
        state="InAnalysis",
        reportedAt=iso(reported),
        analysisStartedAt=iso(reported + dt.timedelta(minutes=2)),
    )["metadata"]["name"]
    live = resources.case(namespace, contract, name="live", reportedAt=iso(now()))["metadata"]["name"]
    resources.wait_case(namespace, live, lambda c: bool((c.get("status") or {}).get("reaction")))
    acked = kubectl_support(control_plane, "ack", f"{namespace}/{live}")
    assert acked.returncode == 0, acked.stderr

    def reaction(name: str) -> Obj:
        stored = resources.wait_case(
            namespace, name, lambda c: bool(((c.get("status") or {}).get("reaction") or {}).get("evidence"))
        )
        return dict(stored["status"]["reaction"])

    recorded, observed = reaction(late), reaction(live)
    assert (recorded["state"], recorded["evidence"]) == ("Met", "Recorded")
    assert (observed["state"], observed["evidence"]) == ("Met", "Observed")
    seen = dt.datetime.fromisoformat(recorded["acknowledgedObservedAt"].replace("Z", "+00:00"))
    assert abs(seen - now()) < dt.timedelta(minutes=2)  # when it was written, not what it claims
    stored_late = resources.get_case(namespace, late)
    assert (condition(stored_late, "Acknowledged") or {}).get("reason") == "Recorded"

    month = now().astimezone(dt.timezone(dt.timedelta(hours=1))).strftime("%Y-%m")
    report = kubectl_support(control_plane, "report", "--contract", contract, "--month", month)
    assert report.returncode == 0, report.stderr
    assert f"| {namespace}/{late} | P1 | Met | Recorded |" in report.stdout
    assert f"| {namespace}/{live} | P1 | Met | Observed |" in report.stdout

    def series() -> str | None:
        text = scrape(operator.metrics_url)
        family = "support_contract_case_reaction_evidence"
        wanted = [
            f'{family}{{contract="{contract}",evidence="{grade}",state="Met"}} 1.0'
            for grade in ("Observed", "Recorded")
        ]
        return text if all(w in text for w in wanted) else None

    eventually(series, timeout=15, what="evidence series for both cases")


# --- nothing lost on delete ----------------------------------------------------------------------------


def test_deleting_a_case_with_unbilled_effort_is_refused(resources: Resources, namespace: str) -> None:
    contract = resources.contract()["metadata"]["name"]
    entry = {"id": "e-1", "member": "anna", "date": now().date().isoformat(), "duration": "30m"}
    name = resources.case(namespace, contract, reportedAt=iso(now()), effort=[entry])["metadata"]["name"]
    message = refusal(
        lambda: resources.objects.delete_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.CASE_PLURAL, name
        )
    )
    assert f"SupportCase {name} has effort that is not in an issued SupportStatement yet" in message
    assert "close the case and delete it after the statement of its last effort month is issued" in message
    # Without effort there is nothing to bill: deleting is fine.
    empty = resources.case(namespace, contract, reportedAt=iso(now()))["metadata"]["name"]
    resources.objects.delete_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.CASE_PLURAL, empty
    )


def test_a_contract_with_open_cases_is_deleted_only_suspended(
    operator: Any, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    resources.case(namespace, contract, reportedAt=iso(now()))
    resources.wait_contract(
        contract, lambda c: ((c.get("status") or {}).get("openCases") or {}).get("total") == 1
    )
    message = refusal(
        lambda: resources.objects.delete_cluster_custom_object(
            api.GROUP, api.VERSION, api.CONTRACT_PLURAL, contract
        )
    )
    assert f"SupportContract {contract} has 1 open case(s)" in message
    assert "suspend the contract first (spec.suspended: true)" in message
    resources.objects.patch_cluster_custom_object(
        api.GROUP, api.VERSION, api.CONTRACT_PLURAL, contract, {"spec": {"suspended": True}}
    )
    resources.objects.delete_cluster_custom_object(api.GROUP, api.VERSION, api.CONTRACT_PLURAL, contract)


def statement_body(contract: Obj, month: str = "2026-10") -> Obj:
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.STATEMENT_KIND,
        "metadata": {
            "name": api.statement_name(contract["metadata"]["name"], month),
            "ownerReferences": [  # the garbage collector removes it with the contract
                {
                    "apiVersion": api.API_VERSION,
                    "kind": api.CONTRACT_KIND,
                    "name": contract["metadata"]["name"],
                    "uid": contract["metadata"]["uid"],
                }
            ],
        },
        "spec": {
            "contractRef": {"name": contract["metadata"]["name"], "uid": contract["metadata"]["uid"]},
            "month": month,
            "timeZone": "Europe/Zurich",
            "periodStart": "2026-09-30T22:00:00Z",
            "periodEnd": "2026-10-31T23:00:00Z",
            "issuedAt": "2026-11-01T00:00:05Z",
            "billingMode": "Monthly",
            "incrementMinutes": 15,
            "totals": {"invoicedMinutes": 60, "incidentMinutes": 60},
        },
    }


def test_an_issued_statement_cannot_be_edited_or_deleted(
    api_client: client.ApiClient, resources: Resources
) -> None:
    objects = client.CustomObjectsApi(api_client)
    body = statement_body(resources.contract())
    name = body["metadata"]["name"]
    objects.create_cluster_custom_object(api.GROUP, api.VERSION, api.STATEMENT_PLURAL, body)
    edited = copy.deepcopy(body)
    edited["spec"]["totals"]["invoicedMinutes"] = 0
    message = refusal(
        lambda: objects.patch_cluster_custom_object(
            api.GROUP, api.VERSION, api.STATEMENT_PLURAL, name, {"spec": edited["spec"]}
        )
    )
    assert api.STATEMENT_IMMUTABLE_MESSAGE in message
    message = refusal(
        lambda: objects.delete_cluster_custom_object(api.GROUP, api.VERSION, api.STATEMENT_PLURAL, name)
    )
    assert f"SupportStatement {name} is an issued statement and cannot be deleted" in message


def test_deleting_a_namespace_still_takes_its_cases(
    control_plane: Any, resources: Resources, api_client: client.ApiClient
) -> None:
    """The case policy guards single deletes; a namespace being torn down is not kept alive by it."""
    name = f"t-teardown-{now().strftime('%H%M%S')}"
    control_plane.kubectl("create", "namespace", name)
    contract = resources.contract()["metadata"]["name"]
    entry = {"id": "e-1", "member": "anna", "date": now().date().isoformat(), "duration": "30m"}
    resources.case(name, contract, reportedAt=iso(now()), effort=[entry])
    control_plane.kubectl("delete", "namespace", name, "--wait=false")
    core = client.CoreV1Api(api_client)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as error:
            return error.status == 404
        return False

    eventually(gone, timeout=60, what=f"namespace {name} deleted")
