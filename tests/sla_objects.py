"""SupportContracts and SupportCases as raw API objects (what the Reconciler holds), for the metrics tests
and the metrics benchmark: no API server needed."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SAMPLES = Path(__file__).resolve().parents[1] / "crds" / "samples"
Obj = dict[str, Any]
_versions = itertools.count(1000)


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def contract_object(name: str = "acme", status: Obj | None = None, **spec_changes: Any) -> Obj:
    """The sample contract (2h, CH-BE hours, Pikett 1h around the clock) under another name."""
    body: Obj = yaml.safe_load((SAMPLES / "supportcontract.yaml").read_text())
    body = copy.deepcopy(body)
    body["metadata"] = {"name": name, "resourceVersion": str(next(_versions)), "generation": 1}
    body["spec"].update(spec_changes)
    if status is not None:
        body["status"] = status
    return body


def case_object(
    namespace: str,
    name: str,
    contract: str,
    reported: dt.datetime,
    *,
    category: str = "Incident",
    impact: str | None = "Production",
    state: str = "New",
    analysis_started: dt.datetime | None = None,
    reaction_state: str | None = "Pending",
    title: str = 'Ingress answers 503 "sometimes"\nsince the upgrade',
) -> Obj:
    """A case as the operator sees it after its first reconcile (status.reaction present unless
    reaction_state is None)."""
    spec: Obj = {
        "contractRef": {"name": contract},
        "title": title,
        "category": category,
        "reportedAt": iso(reported),
        "reporter": {"name": "Petra Keller", "email": "petra.keller@acme.example"},
        "state": state,
    }
    if impact is not None:
        spec["impact"] = impact
    if analysis_started is not None:
        spec["analysisStartedAt"] = iso(analysis_started)
    status: Obj = {}
    if reaction_state is not None:
        status["reaction"] = {"state": reaction_state, "reportedAt": iso(reported)}
    return {
        "apiVersion": "support.puzzle.ch/v1alpha1",
        "kind": "SupportCase",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": str(next(_versions)),
            "creationTimestamp": iso(reported),
        },
        "spec": spec,
        "status": status,
    }


def touched(obj: Obj, status: Obj | None = None, **spec_changes: Any) -> Obj:
    """The object after an update, as the API server returns it: a new resourceVersion, and a new
    generation when the spec changed (status writes leave the generation alone)."""
    changed = copy.deepcopy(obj)
    changed["metadata"]["resourceVersion"] = str(next(_versions))
    if spec_changes:
        changed["spec"].update(spec_changes)
        changed["metadata"]["generation"] = changed["metadata"].get("generation", 1) + 1
    if status is not None:
        changed["status"] = status
    return changed


@dataclass
class Store:
    """What the SLA collector reads from the Reconciler."""

    contracts: dict[str, Obj] = field(default_factory=dict)
    cases: dict[tuple[str, str], Obj] = field(default_factory=dict)

    def add(self, obj: Obj) -> Obj:
        if obj["kind"] == "SupportCase":
            self.cases[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        else:
            self.contracts[obj["metadata"]["name"]] = obj
        return obj
