"""The control plane harness leaves no process behind, even when the process that started it is killed
outright (no finally, no atexit): the kernel kills its children (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from support_operator.testing.wait import eventually, process_alive

SCRIPT = """
import sys, time
from support_operator.testing.controlplane import LocalControlPlane
plane = LocalControlPlane().start()
print(" ".join(str(c.process.pid) for c in plane.components), flush=True)
time.sleep(600)
"""


def test_killed_harness_leaves_no_component_running() -> None:
    process = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    pids = [int(pid) for pid in process.stdout.readline().split()]
    assert len(pids) == 3  # etcd, kube-apiserver, kube-controller-manager
    assert all(process_alive(pid) for pid in pids)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    eventually(lambda: not any(process_alive(pid) for pid in pids), timeout=15, what="all components gone")
