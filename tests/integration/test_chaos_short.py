"""The short chaos run of `make test`: about ten SIGKILLs, an API server and an etcd restart and a leader
kill in two minutes, with zero invariant violations (tests/chaos/chaos.py; `make chaos` runs the long
one and prints the figures for the README)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chaos"))

import chaos


def test_short_chaos_run_violates_no_invariant() -> None:
    figures = chaos.run(
        chaos.Parameters(duration=120, cases=24, operator_kills=10, apiserver_restarts=1, etcd_restarts=1)
    )
    print(figures.summary())
    assert figures.operator_kills >= 10 and figures.leader_takeovers
    assert figures.violations == []
