"""The Argo CD health checks on what the running operator really writes (the unit tests use hand-written
samples): the same Lua, run by lupa on the objects read back from the API server."""

from __future__ import annotations

import datetime as dt
import secrets

from support_resources import Obj, Resources, condition, iso

from argocd_health import health, script_for

CONTRACT = script_for("support.puzzle.ch", "SupportContract")
CASE = script_for("support.puzzle.ch", "SupportCase")


def reconciled(obj: Obj) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"]["generation"] and bool(condition(obj, "Ready"))


def test_health_of_a_served_and_a_suspended_contract_and_their_cases(
    operator, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    assert health(CONTRACT, resources.wait_contract(contract, reconciled))["status"] == "Healthy"
    case = resources.case(namespace, contract, reportedAt=iso(dt.datetime.now(dt.UTC)))["metadata"]["name"]
    served = resources.wait_case(namespace, case, lambda o: reconciled(o) and "reaction" in o["status"])
    result = health(CASE, served)
    assert result["status"] == "Healthy" and result["message"].startswith("P1 New, reaction Pending"), result

    resources.objects.patch_cluster_custom_object(
        "support.puzzle.ch", "v1alpha1", "supportcontracts", contract, {"spec": {"suspended": True}}
    )
    suspended = resources.wait_contract(contract, lambda o: reconciled(o) and o["metadata"]["generation"] > 1)
    assert health(CONTRACT, suspended)["status"] == "Suspended"
    waiting = resources.wait_case(
        namespace, case, lambda o: (condition(o, "Ready") or {}).get("reason") == "ContractSuspended"
    )
    assert health(CASE, waiting)["status"] == "Suspended"


def test_health_of_a_case_whose_contract_does_not_exist_yet(
    operator, resources: Resources, namespace: str
) -> None:
    missing = f"c-missing-{secrets.token_hex(3)}"
    case = resources.case(namespace, missing)["metadata"]["name"]
    waiting = resources.wait_case(namespace, case, reconciled)
    assert condition(waiting, "Ready")["reason"] == "ContractNotFound"
    assert health(CASE, waiting)["status"] == "Progressing"


def test_health_of_a_case_breached_before_analysis(operator, resources: Resources, namespace: str) -> None:
    contract = resources.contract()["metadata"]["name"]
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    case = resources.case(namespace, contract, reportedAt=iso(long_ago))["metadata"]["name"]
    breached = resources.wait_case(
        namespace, case, lambda o: ((o.get("status") or {}).get("reaction") or {}).get("state") == "Breached"
    )
    result = health(CASE, breached)
    assert result["status"] == "Degraded" and "missed" in result["message"], result
