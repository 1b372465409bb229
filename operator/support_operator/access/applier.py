"""Applies access manifests by server-side apply and prunes by label, sending only what changed.

It remembers, per contract, each object it manages (`Record`: the digest of the manifest last applied,
the roleRef, a Secret's UID). The record is listed once (one list per kind, every contract, label
selector), then kept from the applies' responses and the deletes; it is listed again after
`resync_after` (so that what someone else changed or deleted is repaired within that time) or after this
replica was refused a write for not leading (the other replica's writes are unknown here). Blocking calls:
run them in a thread; one lock serialises them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.rest import ApiException
from prometheus_client import CollectorRegistry, Counter

from support_operator.access.manifests import (
    KINDS,
    ObjectKey,
    Record,
    Step,
    diff,
    key_of,
    owned_selector,
    record_of,
    stale,
    stamped,
)
from support_operator.access.plan import LABEL_CONTRACT, MANAGED_BY
from support_operator.kube.apply import (
    Resource,
    create_object,
    delete_object,
    get_object,
    list_pages,
    server_side_apply,
)
from support_operator.kube.fencing import NotLeaderError

log = logging.getLogger(__name__)
T = TypeVar("T")
RESOURCES = {
    "ServiceAccount": Resource("v1", "serviceaccounts", True),
    "Secret": Resource("v1", "secrets", True),
    "RoleBinding": Resource("rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ClusterRole": Resource("rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": Resource("rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Group": Resource("user.openshift.io/v1", "groups", False),
}
IN_OPERATOR_NAMESPACE = frozenset({"ServiceAccount", "Secret"})  # listed there only (its Role allows no more)
REQUESTS_METRIC = "support_operator_access_api_requests"  # exposed as ..._total


def requests_counter(registry: CollectorRegistry | None) -> Counter:
    """The Prometheus counter of the access provisioning's API requests (by verb and resource), for the
    operator's registry."""
    return Counter(
        REQUESTS_METRIC,
        "API requests made to provision access (server-side applies, deletes, lists, token requests).",
        ["verb", "resource"],
        registry=registry,
    )


@dataclass(frozen=True)
class Applied:
    """What one apply did."""

    created: list[ObjectKey] = field(default_factory=list)
    updated: list[ObjectKey] = field(default_factory=list)
    recreated: list[ObjectKey] = field(default_factory=list)
    skipped: list[ObjectKey] = field(default_factory=list)  # namespace gone or going: nothing to bind in


@dataclass
class Applier:
    api: client.ApiClient
    namespace: str  # the operator's: ServiceAccounts and Secrets are listed there
    requests_total: Counter | None = None
    resync_after: float = 600.0  # seconds
    requests: Tally[tuple[str, str]] = field(default_factory=Tally)  # (verb, resource) -> sent
    lock: threading.RLock = field(default_factory=threading.RLock)
    _records: dict[str, dict[ObjectKey, Record]] = field(default_factory=dict)  # contract -> objects
    _listed_at: float | None = None
    _groups_served: bool = True

    # -- what exists ---------------------------------------------------------------------------------------

    def records(self, contract: str) -> Mapping[ObjectKey, Record]:
        """What is known to exist for the contract (listed first if due)."""
        self._ensure_listed()
        return self._records.setdefault(contract, {})

    def forget(self) -> None:
        """Lists everything again before the next apply (e.g. when this replica starts leading)."""
        self._listed_at = None

    def forget_namespace(self, namespace: str) -> None:
        """A namespace was deleted: whatever it held is gone (if it comes back, its bindings are sent)."""
        for objects in self._records.values():
            for key in [k for k in objects if k.namespace == namespace]:
                del objects[key]

    def refresh(self, contract: str, kinds: Iterable[str] = KINDS) -> Mapping[ObjectKey, Record]:
        """Lists the contract's objects of `kinds` again (one request per kind) instead of trusting the
        record: for what others may change between two reconciles, such as a kubeconfig's token record."""
        if self._ensure_listed():
            return self._records.setdefault(contract, {})  # listed just now
        kinds = list(kinds)
        listed = {
            key_of(obj): record_of(obj, kind)
            for kind in kinds
            for obj in self._list(kind, owned_selector(contract))
        }
        objects = self._records.setdefault(contract, {})
        for key in [k for k in objects if k.kind in kinds]:
            del objects[key]
        objects.update(listed)
        return objects

    def _ensure_listed(self) -> bool:
        """Lists every kind (all contracts) when due; True when it did."""
        if self._listed_at is not None and time.monotonic() - self._listed_at < self.resync_after:
            return False
        records: dict[str, dict[ObjectKey, Record]] = {}
        self._groups_served = True  # until its list says 404 (looked at again at every resync)
        for kind in KINDS:
            for obj in self._list(kind, owned_selector()):
                contract = obj["metadata"]["labels"][LABEL_CONTRACT]
                records.setdefault(contract, {})[key_of(obj)] = record_of(obj, kind)
        self._records = records
        self._listed_at = time.monotonic()
        return True

    def _list(self, kind: str, selector: str) -> Iterator[dict[str, Any]]:
        if kind == "Group" and not self._groups_served:
            return
        namespace = self.namespace if kind in IN_OPERATOR_NAMESPACE else None
        try:
            for page in list_pages(self.api, RESOURCES[kind], selector, namespace):
                self._count("list", kind)
                for obj in page:
                    yield {**obj, "kind": kind}
        except ApiException as error:
            self._count("list", kind)
            if kind == "Group" and error.status == 404:  # not OpenShift: no Group API
                self._groups_served = False
                return
            raise

    # -- changes -------------------------------------------------------------------------------------------

    def apply(self, contract: str, manifests: Iterable[dict[str, Any]]) -> Applied:
        """Sends the manifests that differ from what exists, in order."""
        done = Applied()
        for step in diff(manifests, self.records(contract)):
            if step.action == "recreate":  # an immutable field changed: delete first
                self.delete(contract, step.key)
            if self.apply_one(contract, step) is None:
                done.skipped.append(step.key)
            elif step.action == "create":
                done.created.append(step.key)
            elif step.action == "update":
                done.updated.append(step.key)
            else:
                done.recreated.append(step.key)
        return done

    def apply_one(self, contract: str, step: Step) -> Record | None:
        """None when the object's namespace is gone (or going): its deletion re-plans anyway."""
        key = step.key
        objects = self._records.setdefault(contract, {})
        try:
            stored = self._apply(contract, key, stamped(step.manifest), force=key in objects)
        except ApiException as refused:
            if key.kind == "RoleBinding" and _namespace_gone(refused):
                log.info("namespace %s is going away: no binding %s", key.namespace, key.name)
                objects.pop(key, None)
                return None
            raise
        record = record_of(stored, key.kind)
        objects[key] = record
        return record

    def _apply(self, contract: str, key: ObjectKey, manifest: dict[str, Any], force: bool) -> dict[str, Any]:
        """Forces where the object is known to be ours. Anything else holding the name keeps the fields it
        set (a conflict is an error) unless it turns out to carry the contract's labels after all (made
        by the other replica since our list)."""
        resource = RESOURCES[key.kind]
        try:
            return self._write(
                "apply", key.kind, lambda: server_side_apply(self.api, resource, manifest, force=force)
            )
        except ApiException as refused:
            if force or refused.status != 409:
                raise
            found = self._write(
                "get", key.kind, lambda: get_object(self.api, resource, key.namespace, key.name)
            )
            labels = (found or {}).get("metadata", {}).get("labels") or {}
            if labels.get(LABEL_CONTRACT) != contract or not MANAGED_BY.items() <= labels.items():
                raise
            return self._write(
                "apply", key.kind, lambda: server_side_apply(self.api, resource, manifest, force=True)
            )

    def delete(self, contract: str, key: ObjectKey) -> bool:
        """False when it was already gone."""
        deleted = self._write(
            "delete", key.kind, lambda: delete_object(self.api, RESOURCES[key.kind], key.namespace, key.name)
        )
        self._records.get(contract, {}).pop(key, None)
        return deleted

    def prune(
        self, contract: str, wanted: Iterable[ObjectKey], kinds: Iterable[str] = KINDS
    ) -> list[tuple[ObjectKey, Record]]:
        """Deletes the contract's objects of `kinds` that are not wanted; returns those it deleted."""
        objects = self.records(contract)
        gone = []
        only = set(kinds)
        for key in [k for k in stale(objects, wanted) if k.kind in only]:
            record = objects[key]
            if self.delete(contract, key):
                gone.append((key, record))
        if not self._records.get(contract):
            self._records.pop(contract, None)
        return gone

    def create(self, path: str, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        """A POST the applier only counts (a TokenRequest)."""
        return self._write("create", resource, lambda: create_object(self.api, path, body))

    def _write(self, verb: str, resource: str, call: Callable[[], T]) -> T:
        self._count(verb, resource)
        try:
            return call()
        except NotLeaderError:
            self.forget()  # the leader's writes from now on are unknown here
            raise

    def _count(self, verb: str, resource: str) -> None:
        self.requests[(verb, resource)] += 1
        if self.requests_total is not None:
            self.requests_total.labels(verb=verb, resource=resource).inc()

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def _namespace_gone(error: ApiException) -> bool:
    """A namespace deleted (404) or being deleted (403 `... because it is being terminated`) - broad scope
    selectors meet such namespaces all the time; they must not fail the whole contract."""
    return error.status == 404 or (error.status == 403 and "being terminated" in str(error.body or ""))
