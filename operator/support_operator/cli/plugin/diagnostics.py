"""`kubectl support snapshot|findings|gather`: the evidence taken at intake, and the full bundle on demand.

    kubectl support findings CASE [-o json]
    kubectl support snapshot CASE [-o DIR]
    kubectl support gather CASE [-o FILE] [--since 2h] [--max-log-bytes N] [--max-total-log-bytes N]
                           [--timeout 300]

They run with the supporter's own credentials (support-readonly in the case's namespaces).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.cli.plugin.connection import (
    KubeCluster,
    PluginError,
    api_errors,
    cluster_of,
    connection_options,
    load_case,
    utc_now,
)
from support_operator.diagnostics.bundle import Gatherer, GatherOptions
from support_operator.diagnostics.redact import RedactionPolicy, Redactor
from support_operator.diagnostics.snapshot import decode_config_map, snapshot_name
from support_operator.domain.sla import parse_duration

Obj = dict[str, Any]


def _api(ctx: click.Context) -> tuple[client.ApiClient, Obj]:
    cluster = cluster_of(ctx)
    if not isinstance(cluster, KubeCluster):  # pragma: no cover - the plugin always connects for real
        raise PluginError("this command needs a cluster connection")
    return cluster.api, {"cluster": cluster}


def _case(ctx: click.Context, case_ref: str) -> tuple[client.ApiClient, Obj]:
    api, found = _api(ctx)
    raw, _ = load_case(found["cluster"], case_ref)
    return api, raw


def _diagnosis(raw: Obj) -> Obj:
    return dict((raw.get("status") or {}).get("diagnosis") or {})


def read_intake(api: client.ApiClient, raw: Obj) -> Obj | None:
    """The intake snapshot document, or None when there is none yet."""
    metadata = raw["metadata"]
    name = _diagnosis(raw).get("snapshot") or snapshot_name(metadata["name"], metadata["uid"])
    try:
        found = client.CoreV1Api(api).read_namespaced_config_map(name, metadata["namespace"])
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return decode_config_map(api.sanitize_for_serialization(found))


@click.command()
@connection_options
@click.argument("case_ref", metavar="CASE")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def findings(ctx: click.Context, case_ref: str, output: str) -> None:
    """What the analyzers found in the case's intake snapshot, most severe first."""
    _, raw = _case(ctx, case_ref)
    diagnosis = _diagnosis(raw)
    if output == "json":
        click.echo(json.dumps(diagnosis, indent=2))
        return
    if not diagnosis:
        raise PluginError(
            f"SupportCase {raw['metadata']['name']} has no intake snapshot yet (status.diagnosis is empty)"
        )
    items = diagnosis.get("findings") or []
    rows = [("SEVERITY", "OBJECT", "REASON", "MESSAGE")] + [_row(f) for f in items]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    shown = f" (the {len(items)} most severe shown)" if diagnosis.get("findingCount", 0) > len(items) else ""
    click.echo(
        f"{diagnosis.get('findingCount', 0)} finding(s){shown}; snapshot {diagnosis.get('snapshot')} "
        f"taken {diagnosis.get('takenAt')}: {diagnosis.get('message', '')}",
        err=True,
    )


def _row(item: Obj) -> tuple[str, str, str, str]:
    subject = item.get("object") or {}
    where = f"{subject['namespace']}/" if subject.get("namespace") else ""
    return (
        item["severity"],
        f"{subject.get('kind')}/{where}{subject.get('name')}",
        item["reason"],
        item["message"],
    )


@click.command()
@connection_options
@click.argument("case_ref", metavar="CASE")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Write here.")
@click.pass_context
def snapshot(ctx: click.Context, case_ref: str, output_dir: Path | None) -> None:
    """The case's intake snapshot as JSON: to stdout, or DIR/CASE-snapshot.json with -o DIR."""
    api, raw = _case(ctx, case_ref)
    metadata = raw["metadata"]
    with api_errors(f"intake snapshot of SupportCase {metadata['namespace']}/{metadata['name']}"):
        document = read_intake(api, raw)
    if document is None:
        raise PluginError(f"SupportCase {metadata['name']} has no intake snapshot yet")
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if output_dir is None:
        click.echo(text, nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{metadata['name']}-snapshot.json"
    target.write_text(text)
    click.echo(f"wrote {target}", err=True)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command()
@connection_options
@click.argument("case_ref", metavar="CASE")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Bundle file.")
@click.option("--since", default="2h", show_default=True, callback=_duration, help="Logs and Events window.")
@click.option("--max-log-bytes", type=click.IntRange(min=1), default=2 * 1024 * 1024, show_default=True)
@click.option(
    "--max-total-log-bytes", type=click.IntRange(min=1), default=64 * 1024 * 1024, show_default=True
)
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True, help="Seconds.")
@click.pass_context
def gather(
    ctx: click.Context,
    case_ref: str,
    output: Path | None,
    since: Any,
    max_log_bytes: int,
    max_total_log_bytes: int,
    timeout: float,
) -> None:
    """The full bundle as a local tar.gz: a fresh snapshot, container logs (current and previous), the YAML
    of the affected namespaces' objects (Secrets elided), redacted like the intake snapshot. Partial on a
    timeout or a forbidden resource: the manifest says what is missing."""
    api, raw = _case(ctx, case_ref)
    metadata = raw["metadata"]
    try:
        intake = read_intake(api, raw)
    except ApiException:
        intake = None
    policy = RedactionPolicy.from_manifest(intake["manifest"]) if intake else RedactionPolicy()
    now = utc_now()
    target = output or Path(f"gather-{metadata['name']}-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz")
    options = GatherOptions(since, max_log_bytes, max_total_log_bytes, timeout)
    gatherer = Gatherer(api, Redactor(policy), options, lambda message: click.echo(f"  {message}", err=True))
    manifest = gatherer.gather(raw, intake, target, now)
    missing = [m for m in manifest["missing"] if m["resource"] != "secrets"]
    click.echo(f"wrote {target}: {manifest['findings']} finding(s)", err=True)
    if missing:
        click.echo(f"partial bundle: {len(missing)} item(s) missing (see manifest.json):", err=True)
        for item in missing[:20]:
            subject = "/".join(str(item[k]) for k in ("namespace", "pod", "container") if item.get(k))
            click.echo(f"  - {item['resource']} {subject}: {item['reason']}", err=True)
