"""The control plane harness leaves no process behind, even when the process that started it is killed
outright (no finally, no atexit): the kernel kills its children (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support_operator.testing.wait import eventually

SCRIPT = """
import sys, time
from support_operator.testing.controlplane import LocalControlPlane
plane = LocalControlPlane().start()
print(" ".join(str(c.process.pid) for c in plane.components), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killed_harness_leaves_no_component_running() -> None:
    process = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    pids = [int(pid) for pid in process.stdout.readline().split()]
    assert len(pids) == 3 and all(alive(pid) for pid in pids)  # etcd, kube-apiserver, controller manager
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    eventually(lambda: not any(alive(pid) for pid in pids), timeout=15, what="all components gone")
