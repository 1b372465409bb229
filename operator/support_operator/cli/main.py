"""The `support-operator` command: run the operator, start a local dev environment, check SLA deadlines."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="support-operator")
def main() -> None:
    """Operator for 3rd-level support contracts on OpenShift, Rancher and Kubernetes."""
