"""How long a restarted operator takes until /healthz (liveness) and /readyz (readiness) answer, with N cases
on a local control plane: the figures behind the probes in deploy/ and the chart.

    .venv/bin/python tests/bench/bench_startup.py --cases 2000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from support_resources import Resources

from support_operator.testing.controlplane import LocalControlPlane
from support_operator.testing.install import install_crds, operator_kubeconfig
from support_operator.testing.operator_process import OperatorProcess


def until(process: OperatorProcess, path: str, started: float) -> float:
    while process.probe(path) != 200:
        time.sleep(0.05)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=2000)
    cases = parser.parse_args().cases
    with tempfile.TemporaryDirectory() as folder, LocalControlPlane() as plane:
        workdir = Path(folder)
        install_crds(plane)
        kubeconfig = operator_kubeconfig(plane, plane.kubeconfig, workdir / "operator.kubeconfig")
        resources = Resources(config.new_client_from_config(str(plane.kubeconfig)))
        client.CoreV1Api(resources.objects.api_client).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name="bench"))
        )
        contract = resources.contract()["metadata"]["name"]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: resources.case("bench", contract, name=f"case-{i:05d}"), range(cases)))
        operator = OperatorProcess(kubeconfig=kubeconfig, workdir=workdir)
        started = time.monotonic()
        operator.start(timeout=3600, until="/healthz")
        alive = time.monotonic() - started
        ready = until(operator, "/readyz", started)
        operator.stop()
        started = time.monotonic()
        operator.start(timeout=3600, until="/healthz")
        alive_again, ready_again = time.monotonic() - started, until(operator, "/readyz", started)
        operator.stop()
        print(f"{cases} cases: first start /healthz {alive:.1f} s, /readyz {ready:.1f} s")
        print(f"{cases} cases: restart     /healthz {alive_again:.1f} s, /readyz {ready_again:.1f} s")


if __name__ == "__main__":
    main()
