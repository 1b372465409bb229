"""The confirmation e-mail lists the top findings in the contract's language; gather redacts like intake."""

from __future__ import annotations

import asyncio
import datetime as dt

import diagnostics_objects as rec
from support_operator.api.v1alpha1.diagnostics import DiagnosticsSpec
from support_operator.diagnostics import analyze
from support_operator.diagnostics.redact import RedactionPolicy, Redactor
from support_operator.diagnostics.worker import DiagnosticsWorker, _diagnosis
from support_operator.notify.confirmation import CaseConfirmation, render

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


def _confirmation(language: str, findings: tuple[str, ...]) -> CaseConfirmation:
    return CaseConfirmation(
        case_uid="1234",
        namespace="shop",
        case="outage",
        title="Shop down",
        priority="P1",
        reported_at=NOW,
        deadline=NOW + dt.timedelta(hours=1),
        time_zone="Europe/Zurich",
        language=language,
        sender="support@puzzle.ch",
        reporter_name="Petra",
        recipients=("petra@acme.example",),
        findings=findings,
    )


def test_mail_lists_findings_after_the_confirmation() -> None:
    lines = tuple(
        analyze.headline(f) for f in analyze.analyze(rec.snapshot(pods=[rec.CRASH_LOOPING, rec.OOM]))
    )
    body = render(_confirmation("de", lines)).get_content()
    assert "Erste Befunde der automatischen Diagnose (kubectl support findings outage):" in body
    assert "- Critical Pod shop/web-crash: CrashLoopBackOff - container app restarting" in body
    assert body.index("Reaktion bis") < body.index("Erste Befunde")
    for language, heading in (
        ("en", "First findings"),
        ("fr", "Premiers constats"),
        ("it", "Primi risultati"),
    ):
        assert heading in render(_confirmation(language, lines)).get_content()


def test_mail_without_findings_is_unchanged() -> None:
    assert "Befunde" not in render(_confirmation("de", ())).get_content()


def test_gather_rebuilds_the_intake_policy_from_the_manifest() -> None:
    spec = DiagnosticsSpec.model_validate(
        {
            "keepConfigMapValues": ["LOG_LEVEL"],
            "redaction": [{"name": "ids", "pattern": "ID-[0-9]+"}, {"name": "lic", "key": "licen[cs]e"}],
        }
    )
    intake = RedactionPolicy.from_spec(spec)
    manifest = {"rules": intake.describe(), "keepConfigMapValues": sorted(intake.keep_config_map_values)}
    rebuilt = RedactionPolicy.from_manifest(manifest)
    assert rebuilt.describe() == intake.describe()
    assert rebuilt.keep_config_map_values == {"LOG_LEVEL"}
    assert Redactor(rebuilt).text("ticket ID-42") == "ticket [redacted]"


def test_status_diagnosis_keeps_the_top_findings_and_notes_trimming() -> None:
    findings = [analyze.finding("Warning", "Pod", "shop", f"p{i}", "ProbeFailing", "x") for i in range(25)]
    document = {
        "takenAt": "2026-11-26T10:00:00Z",
        "findings": findings,
        "manifest": {
            "trimmed": [{"resource": "events", "dropped": 10}],
            "skipped": [
                {"resource": "secrets", "reason": "never read"},
                {"resource": "nodes", "reason": "forbidden"},
            ],
        },
    }
    diagnosis = _diagnosis(document, "support-snapshot-x-1")
    assert (diagnosis["findingCount"], len(diagnosis["findings"]), diagnosis["trimmed"]) == (25, 20, True)
    assert diagnosis["message"] == "trimmed to the size limit: events; skipped: nodes (forbidden)"


def test_mail_wait_counts_from_the_request_so_a_backlog_waits_once() -> None:
    finding = analyze.finding("Critical", "Pod", "shop", "p", "OOMKilled", "x")

    async def scenario() -> tuple[tuple[str, ...], tuple[str, ...]]:
        loop = asyncio.get_running_loop()
        worker = DiagnosticsWorker(api=None, lookup=lambda _key: None)  # type: ignore[arg-type]
        stale, fresh = ("shop", "old"), ("shop", "new")
        for key, requested in ((stale, loop.time() - 100), (fresh, loop.time())):
            worker._done[key] = asyncio.Event()
            worker._requested[key] = requested
        # Requested 100 s ago with a 30 s bound: no wait left (waiting 30 s per case would hit the guard).
        none = await asyncio.wait_for(worker.mail_findings(stale, wait=30), 5)
        loop.call_soon(worker._finish, fresh, [finding])
        ready = await worker.mail_findings(fresh, wait=60)
        return none, ready

    none, ready = asyncio.run(scenario())
    assert none == ()
    assert ready == ("Critical Pod shop/p: OOMKilled - x",)
