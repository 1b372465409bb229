"""Monthly statements across a month boundary, with the operator process running on a test clock
(SUPPORT_OPERATOR_TEST_CLOCK_OFFSET_SECONDS) seconds before the month ends in Europe/Zurich: the statement is
issued once, cannot be edited or deleted, a billed case deleted afterwards changes no issued figure, and a
late entry becomes an adjustment of the next month, issued by an operator restarted at the next month end."""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from support_resources import Resources
from test_effort_ledger import kubectl_support
from test_records import refusal

from support_operator.api import v1alpha1 as api
from support_operator.clock import OFFSET_VARIABLE
from support_operator.testing.operator_process import ARBITRARY_UID, ROOT_GROUP, OperatorProcess
from support_operator.testing.wait import eventually

Obj = dict[str, Any]
LEAD = dt.timedelta(seconds=40)  # the operator starts and reconciles the contract before the boundary
OCTOBER_END = dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC)  # midnight in Zurich (CET)
NOVEMBER_END = dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)


class ClockedOperator:
    """The operator as a process on a test clock, in place of the session's operator (one at a time)."""

    def __init__(self, session: OperatorProcess, kubeconfig: Path, workdir: Path) -> None:
        self.session, self.kubeconfig, self.workdir = session, kubeconfig, workdir
        self.process: OperatorProcess | None = None
        self.runs = 0

    def run_until(self, boundary: dt.datetime) -> None:
        """(Re)starts the operator with its clock `LEAD` before `boundary`."""
        self.stop()
        self.session.stop()
        offset = (boundary - LEAD) - dt.datetime.now(dt.UTC)
        as_root = os.geteuid() == 0
        self.runs += 1
        workdir = self.workdir / f"run-{self.runs}"
        workdir.mkdir()
        self.process = OperatorProcess(
            kubeconfig=self.kubeconfig,
            workdir=workdir,
            extra_env={OFFSET_VARIABLE: f"{offset.total_seconds():.0f}"},
            uid=ARBITRARY_UID if as_root else None,
            gid=ROOT_GROUP if as_root else None,
        )
        self.process.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.cleanup()
            self.process = None


@pytest.fixture
def clocked(
    operator: OperatorProcess, operator_kubeconfig: Path, tmp_path: Path
) -> Iterator[ClockedOperator]:
    handle = ClockedOperator(operator, operator_kubeconfig, tmp_path)
    try:
        yield handle
    finally:
        handle.stop()
        operator.start()  # the session's operator, on the real clock, for the tests after this one


def get_statement(objects: client.CustomObjectsApi, name: str) -> Obj | None:
    try:
        found: Obj = objects.get_cluster_custom_object(api.GROUP, api.VERSION, api.STATEMENT_PLURAL, name)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return found


def entry(id_: str, day: str, minutes: int, member: str = "anna") -> Obj:
    return {"id": id_, "member": member, "date": day, "duration": minutes}


def test_a_month_is_issued_once_and_late_effort_becomes_an_adjustment(
    clocked: ClockedOperator,
    control_plane: Any,
    resources: Resources,
    namespace: str,
    api_client: client.ApiClient,
) -> None:
    objects = client.CustomObjectsApi(api_client)
    clocked.run_until(OCTOBER_END)  # first: the contract's first month is the one the operator sees
    contract = resources.contract(
        period={"start": "2026-10-01"}, billing={"mode": "Monthly", "incrementMinutes": 15}
    )["metadata"]["name"]
    resources.wait_contract(contract, lambda c: (c.get("status") or {}).get("billingSince") == "2026-10")
    billed = resources.case(
        namespace,
        contract,
        name="billed",
        state="Closed",
        reportedAt="2026-10-30T09:00:00+01:00",
        analysisStartedAt="2026-10-30T09:20:00+01:00",
        effort=[entry("e-1", "2026-10-30", 80)],  # 80 -> 90
    )["metadata"]["name"]
    running = resources.case(
        namespace,
        contract,
        name="running",
        state="InAnalysis",
        reportedAt="2026-10-31T10:00:00+01:00",
        analysisStartedAt="2026-10-31T10:05:00+01:00",
        effort=[entry("e-1", "2026-10-31", 30, "luca")],
    )["metadata"]["name"]

    october_name = api.statement_name(contract, "2026-10")
    october = eventually(lambda: get_statement(objects, october_name), timeout=90, what="October's statement")
    spec = october["spec"]
    lines = {c["case"]: (c["billedMinutes"], c["entries"]) for c in spec["cases"]}
    assert lines == {f"{namespace}/{billed}": (90, ["e-1"]), f"{namespace}/{running}": (30, ["e-1"])}
    assert spec["totals"]["invoicedMinutes"] == 120 and spec["totals"]["incidentMinutes"] == 120
    assert {(r["case"], r["state"]) for r in spec["reactions"]} == {
        (f"{namespace}/{billed}", "Met"),
        (f"{namespace}/{running}", "Met"),
    }
    assert october["metadata"]["ownerReferences"][0]["name"] == contract

    # Nobody edits or deletes it.
    edited = copy.deepcopy(spec)
    edited["totals"]["invoicedMinutes"] = 0
    message = refusal(
        lambda: objects.patch_cluster_custom_object(
            api.GROUP, api.VERSION, api.STATEMENT_PLURAL, october_name, {"spec": edited}
        )
    )
    assert api.STATEMENT_IMMUTABLE_MESSAGE in message
    message = refusal(
        lambda: objects.delete_cluster_custom_object(
            api.GROUP, api.VERSION, api.STATEMENT_PLURAL, october_name
        )
    )
    assert "is an issued statement and cannot be deleted" in message

    # The billed, closed case may go now; the open one may not, and its late entry is not billed yet.
    resources.wait_case(namespace, billed, lambda c: (c["status"].get("billing") or {}).get("releasable"))
    objects.delete_namespaced_custom_object(api.GROUP, api.VERSION, namespace, api.CASE_PLURAL, billed)
    late = resources.get_case(namespace, running)["spec"]["effort"] + [entry("e-2", "2026-10-15", 40)]
    resources.patch_case(namespace, running, {"effort": late})
    message = refusal(
        lambda: objects.delete_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.CASE_PLURAL, running
        )
    )
    assert f"SupportCase {running} has effort that is not in an issued SupportStatement yet" in message

    # October stays as issued: in the statement, in the contract's history, in the report.
    status = resources.wait_contract(
        contract, lambda c: "2026-10" in ((c.get("status") or {}).get("statements") or [])
    )["status"]
    assert {
        k: v
        for k, v in status["months"][0].items()
        if k in ("month", "incidentMinutes", "consultationMinutes")
    } == {"month": "2026-10", "incidentMinutes": 120, "consultationMinutes": 0}
    assert get_statement(objects, october_name)["spec"] == spec  # type: ignore[index]
    report = kubectl_support(control_plane, "report", "--contract", contract, "--month", "2026-10")
    assert report.returncode == 0, report.stderr
    assert "SupportStatement issued" in report.stdout
    assert f"| {namespace}/{billed} | Incident | 1:20 | 1:30 | 0:00 | 1:30 |" in report.stdout

    # A restart at the end of November: October is not re-derived, November carries the late entry.
    clocked.run_until(NOVEMBER_END)
    november_name = api.statement_name(contract, "2026-11")
    november = eventually(
        lambda: get_statement(objects, november_name), timeout=90, what="November's statement"
    )
    adjustments = november["spec"]["adjustments"]
    assert [(a["case"], a["month"], a["entries"], a["billedMinutes"], a["reason"]) for a in adjustments] == [
        (f"{namespace}/{running}", "2026-10", ["e-2"], 45, "LateEffort")
    ]
    assert november["spec"]["totals"]["adjustmentMinutes"] == 45
    assert "cases" not in november["spec"]  # nothing new dated in November
    assert get_statement(objects, october_name)["spec"] == spec  # type: ignore[index]
    history = resources.wait_contract(
        contract, lambda c: "2026-11" in ((c.get("status") or {}).get("statements") or [])
    )["status"]["months"]
    assert [(m["month"], m["incidentMinutes"]) for m in history] == [("2026-10", 120), ("2026-11", 45)]
