"""The effort ledger on the real API server with the operator running: append-only entries, package
balances, monthly usage and the `kubectl support report` statement, against figures computed by hand."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from support_resources import Resources

from support_operator.testing.wait import eventually

VENV_BIN = Path(sys.executable).parent


def kubectl_support(control_plane, *args: str) -> subprocess.CompletedProcess[str]:
    """`kubectl support ...` through the real kubectl, which finds kubectl-support on PATH. kubectl refuses
    flags before a plugin's name, so the kubeconfig comes from the environment here."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["KUBECONFIG"] = str(control_plane.kubeconfig)
    return subprocess.run(
        [str(control_plane.kubectl_path), "support", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def entry(id_: str, member: str, day: str, duration: str | int, **extra: str) -> dict:
    return {"id": id_, "member": member, "date": day, "duration": duration, **extra}


def test_effort_entries_cannot_be_edited_or_removed(
    control_plane, resources: Resources, namespace: str
) -> None:
    contract = resources.contract()["metadata"]["name"]
    effort = [entry("e-1", "anna", "2026-11-03", "1h30m"), entry("e-2", "luca", "2026-11-03", 45)]
    resources.case(namespace, contract, name="ledger", effort=effort)

    def json_patch(*operations: dict) -> subprocess.CompletedProcess[str]:
        patch = json.dumps(list(operations))
        return control_plane.kubectl(
            "patch", "supportcase", "ledger", "-n", namespace, "--type=json", f"-p={patch}", check=False
        )

    edited = json_patch({"op": "replace", "path": "/spec/effort/0/duration", "value": "2h"})
    assert edited.returncode != 0
    assert "effort entries are append-only: record a correction as a new entry" in edited.stderr
    removed = json_patch({"op": "remove", "path": "/spec/effort/0"})
    assert removed.returncode != 0
    assert "effort entries are append-only: they cannot be removed" in removed.stderr
    cleared = json_patch({"op": "remove", "path": "/spec/effort"})
    assert cleared.returncode != 0 and "append-only" in cleared.stderr

    appended = json_patch(
        {"op": "add", "path": "/spec/effort/-", "value": entry("e-3", "anna", "2026-11-04", "-15m")}
    )
    assert (
        appended.returncode != 0 and "a negative (correcting) effort entry needs a reason" in appended.stderr
    )
    correction = entry("e-3", "anna", "2026-11-04", "-15m", reason="booked twice")
    json_patch({"op": "add", "path": "/spec/effort/-", "value": correction}).check_returncode()
    stored = resources.get_case(namespace, "ledger")["spec"]["effort"]
    assert [e["id"] for e in stored] == ["e-1", "e-2", "e-3"] and stored[0]["duration"] == "1h30m"


# Two packages with different expiry, billed per case and month in 15-minute increments. Worked by hand:
#
#   db-outage (Incident)          how-to-backup (Consultation)
#   09-14 anna 1h10m, luca 30     09-30 claire 20
#   10-20 anna 45m                10-17 claire 50
#   10-21 luca -15m (correction)  10-19 anna 1h
#
# db-outage:  September 100 -> 105 on 09-14. October: the correction offsets 10-20 (45 - 15 = 30) -> 30.
# how-to-backup: September 20 -> 30 on 09-30. October 110 -> 120: 50 on 10-17, 60 + 10 rounding on 10-19.
# Booking in date order; pkg-short (3h, expires 2026-10-16) expires first, pkg-long (1h) after:
#   09-14 db 105 -> pkg-short (75 left)   09-30 how-to 30 -> pkg-short (45 left, forfeited on 10-16)
#   10-17 how-to 50 -> pkg-long (10 left) 10-19 how-to 70 -> pkg-long 10, invoiced 60
#   10-20 db 30 -> invoiced 30
PACKAGES = [
    {"name": "pkg-short", "hours": 3, "purchasedOn": "2026-09-01", "expiresOn": "2026-10-16"},
    {"name": "pkg-long", "hours": 1, "purchasedOn": "2026-09-01", "expiresOn": "2027-09-01"},
]
EXPECTED_PACKAGES = [
    {
        "name": "pkg-short",
        "purchasedMinutes": 180,
        "usedMinutes": 135,
        "remainingMinutes": 0,
        "expiresOn": "2026-10-16",
        "expired": True,
    },
    {
        "name": "pkg-long",
        "purchasedMinutes": 60,
        "usedMinutes": 60,
        "remainingMinutes": 0,
        "expiresOn": "2027-09-01",
        "expired": False,
    },
]
EXPECTED_MONTHS = [
    {
        "month": "2026-09",
        "incidentMinutes": 105,
        "consultationMinutes": 30,
        "packageMinutes": 135,
        "invoicedMinutes": 0,
    },
    {
        "month": "2026-10",
        "incidentMinutes": 30,
        "consultationMinutes": 120,
        "packageMinutes": 60,
        "invoicedMinutes": 90,
    },
]


def test_packages_months_and_the_statement_match_the_hand_computed_ledger(
    operator, control_plane, resources: Resources, namespace: str
) -> None:
    contract = resources.contract(
        addOns={"packages": PACKAGES},
        billing={"mode": "Package", "incrementMinutes": 15},
        trainings=[{"member": "luca", "date": "2026-10-08", "days": 1, "topic": "etcd recovery"}],
    )["metadata"]["name"]
    resources.case(
        namespace,
        contract,
        name="db-outage",
        state="Resolved",
        reportedAt="2026-09-14T08:00:00+02:00",
        analysisStartedAt="2026-09-14T08:30:00+02:00",
        effort=[
            entry("e-1", "anna", "2026-09-14", "1h10m"),
            entry("e-2", "luca", "2026-09-14", 30),
            entry("e-3", "anna", "2026-10-20", "45m"),
        ],
    )
    resources.case(
        namespace,
        contract,
        name="how-to-backup",
        category="Consultation",
        impact=None,
        state="WaitingForCustomer",
        reportedAt="2026-09-30T09:00:00+02:00",
        analysisStartedAt="2026-09-30T09:05:00+02:00",
        effort=[entry("e-1", "claire", "2026-09-30", "20m"), entry("e-2", "claire", "2026-10-17", 50)],
    )
    # Two more entries the way supporters book them: anna's hour and luca's correction, via kubectl.
    logged = kubectl_support(
        control_plane,
        "log",
        "how-to-backup",
        "1h",
        "restore drill",
        "-n",
        namespace,
        "--member",
        "anna",
        "--date=2026-10-19",
    )
    assert logged.returncode == 0, logged.stderr
    corrected = kubectl_support(
        control_plane,
        "log",
        f"{namespace}/db-outage",
        "-15m",
        "--member=luca",
        "--date=2026-10-21",
        "--reason",
        "call booked twice",
    )
    assert corrected.returncode == 0, corrected.stderr

    status = resources.wait_contract(
        contract, lambda c: (c.get("status") or {}).get("months") == EXPECTED_MONTHS, timeout=60
    )["status"]
    assert status["packages"] == EXPECTED_PACKAGES
    db = resources.wait_case(
        namespace, "db-outage", lambda c: c["status"].get("effort", {}).get("entries") == 4
    )
    assert db["status"]["effort"] == {"entries": 4, "totalMinutes": 130, "billableMinutes": 135}
    howto = resources.wait_case(
        namespace, "how-to-backup", lambda c: c["status"].get("effort", {}).get("entries") == 3
    )
    assert howto["status"]["effort"] == {"entries": 3, "totalMinutes": 130, "billableMinutes": 150}

    october = kubectl_support(
        control_plane, "report", "--contract", contract, "--month", "2026-10", "--format", "csv"
    )
    assert october.returncode == 0, october.stderr
    header, *rows = list(csv.reader(io.StringIO(october.stdout)))
    assert header[:5] == ["section", "item", "category", "member", "date"]
    db_case, howto_case = f"{namespace}/db-outage", f"{namespace}/how-to-backup"
    # section, item, category, member, date, effort, billed, package, invoiced, remaining, quantity
    assert rows == [
        ["case", db_case, "Incident", "", "", "30", "30", "0", "30", "", ""],
        ["case", howto_case, "Consultation", "", "", "110", "120", "60", "60", "", ""],
        ["member", "anna", "Consultation", "anna", "", "60", "", "", "", "", ""],
        ["member", "anna", "Incident", "anna", "", "45", "", "", "", "", ""],
        ["member", "claire", "Consultation", "claire", "", "50", "", "", "", "", ""],
        ["member", "luca", "Incident", "luca", "", "-15", "", "", "", "", ""],
        ["package", "pkg-short", "", "", "2026-10-16", "", "", "0", "", "0", ""],
        ["package", "pkg-long", "", "", "2027-09-01", "", "", "60", "", "0", ""],
        ["flatfee", "Training", "", "luca", "2026-10-08", "", "", "", "", "", "1"],
        ["total", "2026-10", "", "", "", "140", "150", "60", "90", "", ""],
    ]

    september = kubectl_support(control_plane, "report", "--contract", contract, "--month", "2026-09")
    assert september.returncode == 0, september.stderr
    lines = september.stdout.splitlines()
    assert f"| {db_case} | Incident | 1:40 | 1:45 | 1:45 | 0:00 |" in lines
    assert f"| {howto_case} | Consultation | 0:20 | 0:30 | 0:30 | 0:00 |" in lines
    assert "| **Total** | | 2:00 | 2:15 | 2:15 | 0:00 |" in lines
    assert "| pkg-short | 2:15 | 0:45 | 2026-10-16 | 0:00 |" in lines  # not expired at the end of September
    assert "| **Total** | 0:00 |" in lines  # nothing invoiced


def test_a_new_team_member_is_pending_a_knowledge_transfer(operator, resources: Resources) -> None:
    created = resources.contract()
    name = created["metadata"]["name"]
    resources.wait_contract(name, lambda c: (c.get("status") or {}).get("observedTeam") is not None)
    team = [*created["spec"]["team"], {"name": "dario", "email": "dario@puzzle.ch", "languages": ["de"]}]
    resources.objects.patch_cluster_custom_object(
        "support.puzzle.ch", "v1alpha1", "supportcontracts", name, {"spec": {"team": team}}
    )
    pending = resources.wait_contract(
        name, lambda c: [p["member"] for p in c["status"].get("pendingKnowledgeTransfers", [])] == ["dario"]
    )
    assert "dario" in pending["status"]["observedTeam"]
    # The operator posts its Events after the status write: wait for the Event, do not race it.
    reasons = eventually(
        lambda: {e.reason: e.type for e in resources.events_for("default", name)}.get(
            "KnowledgeTransferPending"
        ),
        what="a KnowledgeTransferPending Event",
    )
    assert reasons == "Warning"

    transfers = [
        *created["spec"].get("knowledgeTransfers", []),
        {"member": "dario", "completedOn": "2026-11-20", "note": "walkthrough"},
    ]
    resources.objects.patch_cluster_custom_object(
        "support.puzzle.ch", "v1alpha1", "supportcontracts", name, {"spec": {"knowledgeTransfers": transfers}}
    )
    done = resources.wait_contract(name, lambda c: "pendingKnowledgeTransfers" not in c["status"])
    assert {t["member"] for t in done["status"]["trainings"]} >= {"anna", "luca", "claire", "dario"}
    eventually(
        lambda: "KnowledgeTransferCompleted" in {e.reason for e in resources.events_for("default", name)}
    )
