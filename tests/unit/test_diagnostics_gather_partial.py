"""`gather` keeps what it has: with no API server answering, or out of time, it still writes a bundle whose
manifest lists every missing piece and why (partial output, not failure)."""

from __future__ import annotations

import datetime as dt
import json
import tarfile
from pathlib import Path

from kubernetes import client

from support_operator.diagnostics.bundle import Gatherer, GatherOptions
from support_operator.diagnostics.redact import Redactor
from support_operator.testing.controlplane import free_port

CASE = {
    "metadata": {
        "name": "outage",
        "namespace": "shop",
        "uid": "u-1",
        "creationTimestamp": "2026-11-26T10:00:00Z",
    },
    "spec": {"title": "Shop down", "affectedNamespaces": ["shop", "shop-db"]},
}
NOW = dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.UTC)


def unreachable() -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    configuration.retries = 0
    return client.ApiClient(configuration)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as archive:
        return {m.name.split("/", 1)[1]: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]


def test_no_answer_gives_a_partial_bundle_that_says_what_is_missing(tmp_path: Path) -> None:
    target = tmp_path / "bundle.tar.gz"
    progress: list[str] = []
    manifest = Gatherer(unreachable(), Redactor(), GatherOptions(timeout=60), progress.append).gather(
        CASE, None, target, NOW
    )
    files = members(target)
    assert json.loads(files["manifest.json"]) == json.loads(json.dumps(manifest, default=str))
    assert manifest["partial"] is True
    missing = {(m["resource"], m.get("namespace")): m["reason"] for m in manifest["missing"]}
    assert missing[("pods", "shop")].startswith("not answered") and ("pods", "shop-db") in missing
    assert missing[("intake snapshot", None)] == "not taken or not readable"
    assert {"snapshot.json", "findings.txt", "manifest.json"} <= set(files)
    assert any(line.startswith("missing pods in shop") for line in progress)


def test_out_of_time_everything_left_is_recorded_as_missing(tmp_path: Path) -> None:
    target = tmp_path / "bundle.tar.gz"
    gatherer = Gatherer(unreachable(), Redactor(), GatherOptions(timeout=0.000001))
    manifest = gatherer.gather(CASE, None, target, NOW)
    reasons = {m["reason"] for m in manifest["missing"] if m["resource"] in ("pods", "configmaps", "events")}
    assert any(reason.startswith("time limit of") for reason in reasons)
    assert target.exists() and manifest["partial"] is True
