"""The Grafana dashboard of the support operator, as code (grafana-foundation-sdk).

    .venv/bin/python hack/dashboard.py           # writes the JSON and the ConfigMap below
    .venv/bin/python hack/dashboard.py --check   # exit 1 when they are stale

Writes deploy/base/monitoring/dashboards/support-operator.json and dashboard-configmap.yaml (label
grafana_dashboard: "1", picked up by the Grafana sidecar of kube-prometheus-stack and Rancher Monitoring).
tests/unit/test_dashboard.py fails when the committed files differ from this code or a query does not parse;
tests/integration/test_prometheus.py runs every query against a real Prometheus.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml
from grafana_foundation_sdk.builders import bargauge, stat, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    GridPos,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "deploy" / "base" / "monitoring"
DASHBOARD_JSON = MONITORING / "dashboards" / "support-operator.json"
CONFIGMAP = MONITORING / "dashboard-configmap.yaml"
UID = "support-operator-sla"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
CONTRACTS = 'contract=~"$contract"'


def query(expr: str, legend: str = "", instant: bool = False) -> Dataquery:
    built = Dataquery().expr(expr).legend_format(legend or "__auto")
    return built.instant() if instant else built.range()


def thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(v, c) for v, c in steps])


def at(x: int, y: int, w: int, h: int) -> GridPos:
    return GridPos(h=h, w=w, x=x, y=y)


def open_cases_by_priority() -> stat.Panel:
    return (
        stat.Panel()
        .title("Open cases by priority")
        .description("P1 production incidents, P2 non-production incidents, P3 consultations.")
        .datasource(DATASOURCE)
        .grid_pos(at(0, 1, 8, 6))
        .with_target(
            query(f"sum by (priority) (support_contract_open_cases{{{CONTRACTS}}})", "{{priority}}", True)
        )
        .color_mode(BigValueColorMode.VALUE)
        .graph_mode(BigValueGraphMode.NONE)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds((None, "green"), (1, "orange")))
    )


def reaction_compliance() -> stat.Panel:
    return (
        stat.Panel()
        .title("Reaction compliance")
        .description("Share of settled reactions that were met, per contract (cases that still exist).")
        .datasource(DATASOURCE)
        .grid_pos(at(8, 1, 8, 6))
        .with_target(
            query(
                f'sum by (contract) (support_contract_case_reactions{{state="Met", {CONTRACTS}}})\n'
                "/ sum by (contract) (\n"
                f'  support_contract_case_reactions{{state=~"Met|Breached", {CONTRACTS}}}\n)',
                "{{contract}}",
                True,
            )
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.NONE)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds((None, "red"), (0.9, "orange"), (0.95, "green")))
    )


def access_token_expiry() -> stat.Panel:
    return (
        stat.Panel()
        .title("Access token expiry")
        .description("Time until the nearest token of the support team's identities expires, per contract.")
        .datasource(DATASOURCE)
        .grid_pos(at(16, 1, 8, 6))
        .with_target(
            query(
                f"support_contract_access_token_expiry_timestamp_seconds{{{CONTRACTS}}} - time()",
                "{{contract}}",
                True,
            )
        )
        .unit("s")
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.NONE)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds((None, "red"), (300, "orange"), (900, "green")))
    )


def time_left_to_deadlines() -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title("Time left to each reaction deadline")
        .description(
            "Support time left before the reaction deadline of every case awaiting analysis, shortest first."
        )
        .datasource(DATASOURCE)
        .grid_pos(at(0, 7, 12, 10))
        .with_target(
            query(
                f"sort(support_case_reaction_remaining_business_seconds{{{CONTRACTS}}}\n"
                "and on (namespace, case) support_case_awaiting_analysis == 1)",
                "{{priority}} {{namespace}}/{{case}}",
                True,
            )
        )
        .unit("s")
        .min(0)
        .display_mode(BarGaugeDisplayMode.BASIC)
        .orientation(VizOrientation.HORIZONTAL)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds((None, "red"), (1800, "orange"), (3600, "green")))
    )


def breaches_over_time() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Reaction breaches over time")
        .description("Cases with a breached reaction, per contract; open and closed cases that still exist.")
        .datasource(DATASOURCE)
        .grid_pos(at(12, 7, 12, 10))
        .with_target(
            query(
                f'sum by (contract) (support_contract_case_reactions{{state="Breached", {CONTRACTS}}})',
                "{{contract}}",
            )
        )
        .min(0)
        .decimals(0)
        .legend(VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM))
    )


def package_hours() -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title("Prepaid package hours")
        .description("Remaining and used time of each prepaid package, in hours.")
        .datasource(DATASOURCE)
        .grid_pos(at(0, 17, 12, 8))
        .with_target(
            query(
                f"support_contract_package_remaining_seconds{{{CONTRACTS}}} / 3600",
                "{{contract}} {{package}} remaining",
                True,
            )
        )
        .with_target(
            query(
                f"support_contract_package_used_seconds{{{CONTRACTS}}} / 3600",
                "{{contract}} {{package}} used",
                True,
            )
        )
        .unit("h")
        .min(0)
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .orientation(VizOrientation.HORIZONTAL)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds((None, "blue")))
    )


def operator_health() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Operator: reconcile errors and failed e-mails")
        .datasource(DATASOURCE)
        .grid_pos(at(12, 17, 12, 8))
        .with_target(
            query(
                "sum by (kind) (increase(support_operator_reconcile_errors_total[$__rate_interval]))",
                "reconcile errors {{kind}}",
            )
        )
        .with_target(
            query(
                "sum(increase(support_operator_confirmation_email_failures_total[$__rate_interval]))",
                "failed e-mails",
            )
        )
        .min(0)
        .legend(VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM))
    )


def build() -> Dashboard:
    return (
        Dashboard("Support operator: SLA")
        .uid(UID)
        .description("Reaction SLA, contracts and health of the support operator (docs/metrics.md).")
        .tags(["support-operator", "sla"])
        .editable()
        .refresh("1m")
        .time("now-24h", "now")
        .timezone("browser")
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            QueryVariable("contract")
            .label("Contract")
            .datasource(DATASOURCE)
            .query("label_values(support_contract_info, contract)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
        .with_row(Row("Reaction SLA").id(1).grid_pos(at(0, 0, 24, 1)))
        .with_panel(open_cases_by_priority().id(2))
        .with_panel(reaction_compliance().id(3))
        .with_panel(access_token_expiry().id(4))
        .with_panel(time_left_to_deadlines().id(5))
        .with_panel(breaches_over_time().id(6))
        .with_panel(package_hours().id(7))
        .with_panel(operator_health().id(8))
    )


def dashboard_json() -> str:
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def configmap_yaml(dashboard: str) -> str:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "support-operator-dashboard",
            "namespace": "support-operator",
            "labels": {"grafana_dashboard": "1", "app.kubernetes.io/name": "support-operator"},
        },
        "data": {DASHBOARD_JSON.name: dashboard},
    }
    header = "# Generated by hack/dashboard.py from the dashboard code: do not edit.\n"
    return header + yaml.dump(manifest, Dumper=_LiteralDumper, sort_keys=False, width=120)


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings (the dashboard JSON) as literal blocks, readable in reviews."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_LiteralDumper.add_representer(str, _represent_text)


def outputs() -> dict[Path, str]:
    dashboard = dashboard_json()
    return {DASHBOARD_JSON: dashboard, CONFIGMAP: configmap_yaml(dashboard)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are stale")
    args = parser.parse_args(argv)
    stale = [path for path, text in outputs().items() if not path.is_file() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(
                f"{path.relative_to(REPO)} is stale: run .venv/bin/python hack/dashboard.py", file=sys.stderr
            )
        return 1 if stale else 0
    for path, text in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
