"""`kubectl support`: the support team's terminal tools, a kubectl plugin (the `kubectl-support` executable).

    kubectl support queue [-A | -n NAMESPACE] [-o wide|json|yaml]                    (queue.py)
    kubectl support ack CASE                                                          (case.py)
    kubectl support state CASE InAnalysis|WaitingForCustomer|Resolved|Closed
    kubectl support log CASE 1h30m "what was done" [--member M] [--date YYYY-MM-DD] [--reason R]
    kubectl support approve CASE [--for 2h] --reason R [--revoke]                     (access.py)
    kubectl support access kubeconfig --member M [--contract C]
    kubectl support access audit --audit-log FILE [--case C] [--member M] [--since 2h]
    kubectl support report --contract C --month 2026-11 [--format md|csv]             (report.py)
    kubectl support open --contract C --title T --impact I --reporter-name N --phone P (open_case.py)
    kubectl support findings|snapshot|gather CASE                                      (diagnostics.py)

CASE is a name in the current namespace or namespace/name. Like kubectl, every command takes --kubeconfig,
--context, -n/--namespace and -A (connection.py). It writes only what a human owns in a case's spec (state,
analysisStartedAt, effort), never status. Errors go to stderr with exit code 1 (2 for bad input).
"""

from __future__ import annotations

from support_operator.cli.plugin.app import main
from support_operator.cli.plugin.case import effort_minutes
from support_operator.cli.plugin.connection import (
    JSON_PATCH,
    MEMBER_ENV,
    MERGE_PATCH,
    Cluster,
    Connection,
    KubeCluster,
    PluginError,
)
from support_operator.cli.plugin.queue import QueueRow, queue_rows, render_queue
from support_operator.cli.plugin.report import render_csv, render_markdown
from support_operator.cli.plugin.statement import hours

__all__ = [
    "JSON_PATCH",
    "MEMBER_ENV",
    "MERGE_PATCH",
    "Cluster",
    "Connection",
    "KubeCluster",
    "PluginError",
    "QueueRow",
    "effort_minutes",
    "hours",
    "main",
    "queue_rows",
    "render_csv",
    "render_markdown",
    "render_queue",
]
