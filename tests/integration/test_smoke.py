"""Smoke test: CRDs applied, a resource created, the running operator (a real process) writes its status."""

from __future__ import annotations

from support_resources import Resources, condition


def test_operator_writes_contract_status(operator, resources: Resources) -> None:
    contract = resources.contract()
    name = contract["metadata"]["name"]

    def reconciled(obj: dict) -> bool:
        status = obj.get("status") or {}
        return status.get("observedGeneration") == obj["metadata"]["generation"] and condition(obj, "Ready")

    current = resources.wait_contract(name, reconciled)
    ready = condition(current, "Ready")
    assert ready is not None and ready["status"] == "True", ready
    assert current["status"]["conditions"][0]["type"] == "Ready"  # Ready first, by convention
    assert current["status"]["teamSize"] == 3
    assert current["status"]["platform"]["distribution"] == "OpenShift"  # declared in the sample
    assert current["status"]["platform"]["kubernetesVersion"].startswith("v1.")
