"""A control plane of a test module's own, which it may stop and restart (kube-apiserver, etcd) without
disturbing the session's: CRDs, admission policies, deploy/'s RBAC and the operator's kubeconfig installed.
Import the fixture into a test module: `from own_plane import own_plane`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from support_operator.testing.controlplane import LocalControlPlane
from support_operator.testing.install import install_crds, operator_kubeconfig
from support_operator.testing.operator_process import OperatorProcess


@dataclass
class OwnPlane:
    plane: LocalControlPlane
    operator_kubeconfig: Path
    admin: client.ApiClient
    workdir: Path

    def namespace(self, labels: dict[str, str] | None = None) -> str:
        name = f"r-{secrets.token_hex(4)}"
        client.CoreV1Api(self.admin).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
        )
        return name

    def operator(self, name: str = "a", **env: str) -> OperatorProcess:
        """An operator process (not started) as deploy/'s ServiceAccount, identified as replica `name`."""
        folder = self.workdir / f"operator-{name}-{secrets.token_hex(2)}"
        folder.mkdir()
        return OperatorProcess(
            kubeconfig=self.operator_kubeconfig,
            workdir=folder,
            extra_env={"POD_ID": f"support-operator-{name}", **env},
        )


@pytest.fixture(scope="module")
def own_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPlane]:
    workdir = tmp_path_factory.mktemp("own-plane")
    with LocalControlPlane() as plane:
        install_crds(plane)
        kubeconfig = operator_kubeconfig(plane, plane.kubeconfig, workdir / "operator.kubeconfig")
        yield OwnPlane(plane, kubeconfig, config.new_client_from_config(str(plane.kubeconfig)), workdir)
