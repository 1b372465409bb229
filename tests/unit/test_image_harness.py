"""The kubelet-like parts of the image test's harness (support_operator.testing.image and .container): how a
Deployment's container becomes the launcher's spec, Kubernetes' $(VAR) expansion, paths inside the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from support_operator.testing.container import within
from support_operator.testing.image import (
    SERVICE_ACCOUNT_MOUNT,
    ImageConfig,
    ImageError,
    Obj,
    Pod,
    container_spec,
    expand,
    probe_url,
)

IMAGE = ImageConfig(
    ["support-operator", "run"], [], {"PATH": "/opt/bin:/usr/bin", "HOME": "/home/x"}, "/home/x", "1001:0"
)


def deployment(security: Obj | None = None, **container: object) -> Obj:
    return {
        "spec": {
            "template": {
                "spec": {
                    "securityContext": {"runAsNonRoot": True},
                    "containers": [
                        {
                            "name": "operator",
                            "args": ["--namespace=$(POD_NAMESPACE)", "--literal=$$(POD_NAMESPACE)"],
                            "env": [
                                {
                                    "name": "POD_NAMESPACE",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                                },
                                {"name": "POD_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "WHERE", "value": "in $(POD_NAMESPACE)"},
                            ],
                            "ports": [{"name": "healthz", "containerPort": 8081}],
                            "startupProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}},
                            "securityContext": security or {"readOnlyRootFilesystem": True},
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                            **container,
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                }
            }
        }
    }


POD = Pod("op-1", "support-operator", "127.0.0.1", 6443, Path("/sa"), Path("/hosts"), 1000680000)


def test_expand_follows_kubernetes_rules() -> None:
    env = {"A": "x"}
    assert expand("$(A)-$(B)-$$(A)-$$", env) == "x-$(B)-$(A)-$"


def test_the_container_runs_the_image_entrypoint_with_the_chart_args_and_env() -> None:
    spec = container_spec(deployment(), IMAGE, Path("/rootfs"), POD)
    assert spec["argv"] == [
        "support-operator",
        "run",
        "--namespace=support-operator",
        "--literal=$(POD_NAMESPACE)",
    ]
    assert spec["env"]["POD_ID"] == "op-1" and spec["env"]["WHERE"] == "in support-operator"
    assert spec["env"]["PATH"] == IMAGE.env["PATH"] and spec["env"]["KUBERNETES_SERVICE_PORT"] == "6443"
    assert (spec["uid"], spec["gid"], spec["read_only_root"], spec["workdir"]) == (
        1000680000,
        0,
        True,
        "/home/x",
    )
    targets = {m["target"]: m for m in spec["mounts"]}
    assert targets["/tmp"] == {"target": "/tmp", "type": "tmpfs", "options": "size=64m,mode=1777"}
    assert targets[SERVICE_ACCOUNT_MOUNT]["read_only"] and targets["/etc/hosts"]["source"] == "/hosts"


def test_command_replaces_entrypoint_and_cmd() -> None:
    spec = container_spec(deployment(command=["sh"], args=None), IMAGE, Path("/r"), POD)
    assert spec["argv"] == ["sh"]


def test_run_as_non_root_refuses_uid_zero() -> None:
    with pytest.raises(ImageError, match="runAsNonRoot"):
        container_spec(deployment({"runAsUser": 0}), IMAGE, Path("/r"), POD)


def test_probe_url_resolves_a_named_port() -> None:
    assert probe_url(deployment(), "startupProbe") == "http://127.0.0.1:8081/healthz"


def test_paths_resolve_symlinks_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "run").symlink_to("/run")  # absolute, as in Debian: must not reach the host's /run
    (tmp_path / "etc").symlink_to("../../../..")  # escaping upwards stays in the root
    assert within(tmp_path, "/var/run/secrets/x") == tmp_path / "run" / "secrets" / "x"
    assert within(tmp_path, "/etc/hosts") == tmp_path / "hosts"


def test_an_unsupported_downward_api_field_is_named() -> None:
    field = {"name": "LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}}
    with pytest.raises(ImageError, match=r"env LIMIT: .*resourceFieldRef.* is not supported here"):
        container_spec(deployment(env=[field]), IMAGE, Path("/r"), POD)
