"""Helpers for integration tests: SupportContracts and SupportCases as the real API server holds them."""

from __future__ import annotations

import copy
import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.api.v1alpha1 import CASE_PLURAL, CONTRACT_PLURAL, GROUP, VERSION
from support_operator.testing.wait import NotReachedError, eventually

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
Obj = dict[str, Any]


def sample(name: str) -> Obj:
    document: Obj = yaml.safe_load((SAMPLES / f"{name}.yaml").read_text())
    return document


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Resources:
    """Creates, reads and patches SupportContracts and SupportCases; deletes the contracts it made."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.objects = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.created_contracts: list[str] = []

    def contract(self, name: str | None = None, **spec_changes: Any) -> Obj:
        body = copy.deepcopy(sample("supportcontract"))
        body["metadata"] = {"name": name or f"c-{secrets.token_hex(4)}"}
        body["spec"].pop("notification", None)
        body["spec"].update(spec_changes)
        created: Obj = self.objects.create_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, body)
        self.created_contracts.append(created["metadata"]["name"])
        return created

    def case(self, namespace: str, contract: str, **spec: Any) -> Obj:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SupportCase",
            "metadata": {"name": spec.pop("name", f"case-{secrets.token_hex(3)}")},
            "spec": {
                "contractRef": {"name": contract},
                "title": "Something is wrong",
                "category": "Incident",
                "impact": "Production",
                "reporter": {"name": "Petra Keller", "email": "petra.keller@acme.example"},
                **spec,
            },
        }
        body["spec"] = {k: v for k, v in body["spec"].items() if v is not None}
        created: Obj = self.objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, CASE_PLURAL, body
        )
        return created

    def get_case(self, namespace: str, name: str) -> Obj:
        found: Obj = self.objects.get_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL, name)
        return found

    def get_contract(self, name: str) -> Obj:
        found: Obj = self.objects.get_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, name)
        return found

    def patch_case(self, namespace: str, name: str, spec: Obj) -> Obj:
        patched: Obj = self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, CASE_PLURAL, name, {"spec": spec}
        )
        return patched

    def wait_case(self, namespace: str, name: str, check: Callable[[Obj], bool], timeout: float = 30) -> Obj:
        return _wait_for(
            lambda: self.get_case(namespace, name), check, timeout, f"SupportCase {namespace}/{name}"
        )

    def wait_contract(self, name: str, check: Callable[[Obj], bool], timeout: float = 30) -> Obj:
        return _wait_for(lambda: self.get_contract(name), check, timeout, f"SupportContract {name}")

    def events_for(self, namespace: str, name: str) -> list[client.CoreV1Event]:
        events = self.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
        return list(events.items)

    def cleanup(self) -> None:
        for name in self.created_contracts:
            delete_contract(self.objects, name)


def delete_contract(objects: client.CustomObjectsApi, name: str) -> None:
    """Deletes a contract as an admin ends it: suspended first when the admission policy refuses to delete
    one with open cases."""
    for attempt in range(2):
        try:
            objects.delete_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, name)
            return
        except ApiException as error:
            if error.status == 404:
                return
            if error.status not in (403, 422) or attempt:
                raise
            objects.patch_cluster_custom_object(
                GROUP, VERSION, CONTRACT_PLURAL, name, {"spec": {"suspended": True}}
            )


def _wait_for(read: Callable[[], Obj], check: Callable[[Obj], bool], timeout: float, what: str) -> Obj:
    seen: list[Obj] = []

    def probe() -> Obj | None:
        seen[:] = [read()]
        return seen[0] if check(seen[0]) else None

    try:
        return eventually(probe, timeout, what=what)
    except NotReachedError as error:
        status = seen[0].get("status") if seen else None
        raise NotReachedError(
            f"{what}: not as expected within {timeout:.0f} s; last status: {status!r}"
        ) from error


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ready(obj: Obj) -> bool:
    """The operator tracks the case: Ready=True and a reaction in status."""
    found = condition(obj, "Ready")
    return bool(found and found["status"] == "True" and obj["status"].get("reaction"))


def condition(obj: Obj, type_: str) -> Obj | None:
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry["type"] == type_:
            return dict(entry)
    return None


def reaction_state(obj: Obj) -> str | None:
    return ((obj.get("status") or {}).get("reaction") or {}).get("state")
