"""deploy/ and the Helm chart, statically: generated copies without drift, every file in the kustomization,
the Deployment's pod security and probes, Service and ServiceMonitor agreeing, one version everywhere, and
a values schema that admits no unknown key. tests/integration/test_deploy.py renders and applies them."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from deploy_tools import BASE, CHART, OVERLAYS, REPO, documents
from dockerfile_lint import final_stage
from support_operator.api import crdgen


def sync_module() -> ModuleType:
    """hack/sync_manifests.py, imported from its path (hack/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "support_operator_sync", REPO / "hack" / "sync_manifests.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def deployment() -> dict[str, Any]:
    return load(BASE / "deployment.yaml")


def container() -> dict[str, Any]:
    (only,) = deployment()["spec"]["template"]["spec"]["containers"]
    return only


def test_generated_copies_match_their_sources() -> None:
    sync = sync_module()
    assert sync.stale_files() == [], "run .venv/bin/python hack/sync_manifests.py"
    assert sync.main(["--check"]) == 0
    for folder in sync.CRD_COPIES:
        for name, crd in crdgen.build_crds().items():
            assert (folder / name).read_text() == crdgen.render(crd)
            assert (folder / name).read_text() == (REPO / "crds" / name).read_text()


def test_drift_check_notices_a_changed_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync = sync_module()
    copies = tmp_path / "crds"
    copies.mkdir()
    for name, crd in crdgen.build_crds().items():
        (copies / name).write_text(crdgen.render(crd))
    monkeypatch.setattr(sync, "CRD_COPIES", (copies,))
    assert copies not in sync.stale_files()
    first = sorted(copies.glob("*.yaml"))[0]
    first.write_text(first.read_text().replace("SupportC", "SupportX", 1))
    assert copies in sync.stale_files()
    first.unlink()
    assert copies in sync.stale_files()


def kustomized_files(folder: Path) -> set[Path]:
    """The files a kustomization includes, following folders that are kustomizations themselves."""
    files: set[Path] = set()
    for resource in load(folder / "kustomization.yaml")["resources"]:
        path = (folder / resource).resolve()
        files |= kustomized_files(path) if path.is_dir() else {path}
    return files


def test_kustomization_includes_every_manifest_of_base() -> None:
    on_disk = {p for p in BASE.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert kustomized_files(BASE) == on_disk, "a manifest is missing from (or stale in) a kustomization"
    for overlay in ("openshift", "rancher"):
        assert load(OVERLAYS / overlay / "kustomization.yaml")["resources"] == ["../../base"]


def test_one_replica_recreate_and_the_image_entrypoint_flags_only() -> None:
    spec = deployment()["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    assert "command" not in container(), "the image's ENTRYPOINT (support-operator run) must stay"
    assert all(arg.startswith("--") for arg in container()["args"])
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container()["env"]}
    assert env == {"POD_NAMESPACE": "metadata.namespace", "POD_ID": "metadata.name"}
    assert "--namespace=$(POD_NAMESPACE)" in container()["args"]


def test_ports_and_probes_match_the_image_and_the_cli() -> None:
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports == {"metrics": 8080, "healthz": 8081, "alerts": 8082}
    exposed = final_stage((REPO / "Dockerfile").read_text()).all("EXPOSE")[0].arguments.split()
    assert sorted(map(int, exposed)) == sorted(ports.values())
    assert f"--metrics-port={ports['metrics']}" in container()["args"]
    assert f"--liveness-port={ports['healthz']}" in container()["args"]
    assert f"--alert-receiver-port={ports['alerts']}" in container()["args"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container()[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}, probe


def test_pod_security_is_restricted_with_a_read_only_root() -> None:
    pod = deployment()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container()["securityContext"]
    assert security == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert set(container()["resources"]) == {"requests", "limits"}
    assert "memory" in container()["resources"]["limits"]


def test_service_and_service_monitor_agree() -> None:
    service = load(BASE / "service.yaml")
    (monitor,) = documents((BASE / "monitoring" / "servicemonitor.yaml").read_text())
    assert service["metadata"]["name"] == "support-operator-metrics"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_one_version_everywhere() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = load(CHART / "Chart.yaml")
    assert chart["appVersion"] == chart["version"] == version
    (image,) = load(BASE / "kustomization.yaml")["images"]
    assert image["newTag"] == version
    assert container()["image"] == f"{image['name']}:{version}"
    assert load(CHART / "values.yaml")["image"]["repository"] == image["name"]
    application = load(REPO / "deploy" / "argocd" / "application.yaml")
    assert application["spec"]["source"]["targetRevision"] == f"v{version}"


def schema_violations(node: dict[str, Any], path: str = "$") -> list[str]:
    """Object schemas must either list their properties and forbid others, or be maps with typed values."""
    found = []
    if node.get("type") == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if "properties" in node and extra is not False:
            found.append(f"{path}: properties without additionalProperties: false")
        if "properties" not in node and not isinstance(extra, dict):
            found.append(f"{path}: a map needs a schema for its values")
    for name, child in node.get("properties", {}).items():
        found += schema_violations(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found += schema_violations(node[key], f"{path}.{key}")
    return found


def test_values_schema_admits_no_unknown_key_anywhere() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema_violations(schema) == []
    assert schema_violations(
        {"type": "object", "properties": {"a": {"type": "object", "properties": {}}}}
    ) == [
        "$: properties without additionalProperties: false",
        "$.a: properties without additionalProperties: false",
    ]


def test_every_value_is_described_by_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def undeclared(values: dict[str, Any], node: dict[str, Any], path: str) -> list[str]:
        missing = []
        for key, value in values.items():
            child = node.get("properties", {}).get(key)
            if child is None:
                missing.append(f"{path}.{key}")
            elif isinstance(value, dict) and "properties" in child:
                missing += undeclared(value, child, f"{path}.{key}")
        return missing

    assert undeclared(load(CHART / "values.yaml"), schema, "values") == []
    assert set(schema["properties"]) == set(load(CHART / "values.yaml")), "a schema key without a default"
