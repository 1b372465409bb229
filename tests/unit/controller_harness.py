"""Raw SupportContracts and SupportCases as the API server returns them, and a status API in memory: the one
seam the controller unit tests fake (no network). Everything else is the real cache, writer and queues."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.api.v1alpha1 import API_VERSION, CASE_PLURAL
from support_operator.config import OperatorConfig
from support_operator.controllers import access, contract_status, queue_order
from support_operator.controllers.cache import ObjectCache
from support_operator.controllers.manager import Manager
from support_operator.observability.metrics import OperatorMetrics
from support_operator.status.conditions import EventNote

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
CONTRACT = "acme"
NAMESPACE = "shop"
Obj = dict[str, Any]
NO_API = cast(client.ApiClient, object())  # any real request through it fails loudly
_versions = itertools.count(100)  # one resourceVersion sequence, as etcd has


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def contract_obj(
    name: str = CONTRACT, *, notification: bool = False, access: bool = False, **spec: Any
) -> Obj:
    raw: Obj = yaml.safe_load((SAMPLES / "supportcontract.yaml").read_text())
    raw["metadata"] = {
        "name": name,
        "uid": f"uid-{name}",
        "generation": 1,
        "resourceVersion": str(next(_versions)),
        "creationTimestamp": "2026-01-01T00:00:00Z",
    }
    if not notification:
        raw["spec"].pop("notification")
    if not access:
        raw["spec"].pop("access")
    raw["spec"].update(spec)
    return raw


def case_obj(
    name: str,
    *,
    namespace: str = NAMESPACE,
    contract: str = CONTRACT,
    reported: dt.datetime | None = None,
    status: Obj | None = None,
    **spec: Any,
) -> Obj:
    raw: Obj = {
        "apiVersion": API_VERSION,
        "kind": "SupportCase",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "generation": 1,
            "resourceVersion": str(next(_versions)),
            "creationTimestamp": iso(reported or dt.datetime.now(dt.UTC)),
        },
        "spec": {
            "contractRef": {"name": contract},
            "title": "Shop down",
            "category": "Incident",
            "impact": "Production",
            "reporter": {"name": "Petra Keller", "email": "petra.keller@acme.example"},
            **({"reportedAt": iso(reported)} if reported is not None else {}),
            **spec,
        },
    }
    if status is not None:
        raw["status"] = status
    return raw


def edited(obj: Obj, *, spec: Obj | None = None, metadata: Obj | None = None, bump: bool = True) -> Obj:
    """`obj` after a user's edit: spec changes bump the generation, every change the resourceVersion."""
    new = copy.deepcopy(obj)
    new["spec"].update(spec or {})
    new["metadata"].update(metadata or {})
    if spec and bump:
        new["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
    new["metadata"]["resourceVersion"] = str(next(_versions))
    return new


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies a status merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


class StatusApi:
    """`StatusWriter.patch_status` in memory: applies the patch to a copy of the cached object, bumps its
    resourceVersion and returns it. `fail` decides (per patch) to answer with an error instead."""

    def __init__(self, cache: ObjectCache) -> None:
        self.cache = cache
        self.writes: list[tuple[str, Obj]] = []  # (namespace/name or name, patch)
        self.fail: Callable[[str, Obj], ApiException | None] = lambda name, patch: None

    def patch_status(self, metadata: Obj, plural: str, patch: Obj) -> Obj:
        """`patch`: the status merge patch (the real one sends it as the body's `status`)."""
        namespace, name = metadata.get("namespace"), metadata["name"]
        label = f"{namespace}/{name}" if namespace else name
        if (error := self.fail(label, patch)) is not None:
            raise error
        if plural == CASE_PLURAL:
            current = self.cache.raw_cases[(namespace or "", name)]
        else:
            current = self.cache.raw_contracts[name]
        updated = copy.deepcopy(current)
        updated["status"] = apply_merge_patch(updated.get("status") or {}, patch)
        updated["metadata"]["resourceVersion"] = str(next(_versions))
        self.writes.append((label, copy.deepcopy(patch)))
        return updated

    def of(self, label: str) -> list[Obj]:
        return [patch for name, patch in self.writes if name == label]


class Harness:
    """A Manager over the fake status API, its Events collected instead of posted."""

    def __init__(self, config: OperatorConfig | None = None, **manager: Any) -> None:
        config = config or OperatorConfig(email_intake=False)
        self.manager = Manager(NO_API, config, OperatorMetrics(), **manager)
        self.api = StatusApi(self.manager.cache)
        self.manager.writer.patch_status = self.api.patch_status  # type: ignore[method-assign]
        self.events: list[tuple[str, EventNote]] = []
        self.manager.events.post = self._post  # type: ignore[method-assign]

    def _post(self, obj: Obj, notes: list[EventNote]) -> None:
        self.events += [(obj["metadata"]["name"], note) for note in notes]

    def start(self) -> None:
        for queue in self.manager.queues:
            queue.start()

    async def stop(self) -> None:
        for queue in self.manager.queues:
            await queue.stop()

    def case(self, name: str, namespace: str = NAMESPACE) -> Obj:
        return self.manager.cache.raw_cases[(namespace, name)]

    def contract(self, name: str = CONTRACT) -> Obj:
        return self.manager.cache.raw_contracts[name]


def fast_coalescing(monkeypatch: Any, seconds: float = 0.05) -> None:
    """The controllers' coalescing windows, shortened: the same passes, sooner."""
    for module in (queue_order, contract_status, access):
        monkeypatch.setattr(module, "COALESCE_SECONDS", seconds)


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


def condition(obj: Obj, kind: str) -> Obj | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)
