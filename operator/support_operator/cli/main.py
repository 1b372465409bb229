"""The `support-operator` command: run the operator, start a local dev environment, check SLA deadlines."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from support_operator.cli.sla import sla
from support_operator.config import OperatorConfig

F = TypeVar("F", bound=Callable[..., Any])


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "SUPPORT_OPERATOR"}
)
@click.version_option(package_name="support-operator")
def main() -> None:
    """Operator for 3rd-level support contracts on OpenShift, Rancher and Kubernetes."""


def _operator_options(command: F) -> F:
    options = [
        click.option(
            "--namespace",
            "operator_namespace",
            default="support-operator",
            show_default=True,
            help="Namespace the operator keeps identities and kubeconfig Secrets in.",
        ),
        click.option("--metrics-port", type=int, default=8080, show_default=True, help="Port of /metrics."),
        click.option("--liveness-port", type=int, default=8081, show_default=True, help="Port of /healthz."),
        click.option(
            "--bind-address", default="0.0.0.0", show_default=True, help="Address the endpoints bind."
        ),
        click.option(
            "--watch-namespace",
            "watch_namespaces",
            multiple=True,
            help="Watch only this namespace for SupportCases (repeatable); default: all namespaces.",
        ),
        click.option("-v", "--verbose", is_flag=True, help="Debug logging."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _config(
    operator_namespace: str, metrics_port: int, liveness_port: int, bind_address: str
) -> OperatorConfig:
    return OperatorConfig(
        namespace=operator_namespace,
        metrics_port=metrics_port,
        liveness_port=liveness_port,
        bind_address=bind_address,
    )


@main.command()
@_operator_options
def run(
    operator_namespace: str,
    metrics_port: int,
    liveness_port: int,
    bind_address: str,
    watch_namespaces: tuple[str, ...],
    verbose: bool,
) -> None:
    """Run the operator against the cluster of KUBECONFIG or the in-cluster service account."""
    from support_operator.runtime import run_operator

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO)
    run_operator(_config(operator_namespace, metrics_port, liveness_port, bind_address), watch_namespaces)


@main.command()
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KUBECONFIG",
    help="Run against this cluster instead of starting a local control plane.",
)
@click.option("--samples/--no-samples", default=True, show_default=True, help="Apply crds/samples/ too.")
@_operator_options
def dev(
    kubeconfig: Path | None,
    samples: bool,
    operator_namespace: str,
    metrics_port: int,
    liveness_port: int,
    bind_address: str,
    watch_namespaces: tuple[str, ...],
    verbose: bool,
) -> None:
    """Start everything locally: a real control plane (unless KUBECONFIG names a cluster), the CRDs, the
    samples and the operator in the foreground. Ctrl-C stops it all."""
    from support_operator.devenv import dev_environment
    from support_operator.runtime import run_operator

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO)
    config = _config(operator_namespace, metrics_port, liveness_port, bind_address)
    with dev_environment(kubeconfig, config, apply_samples=samples) as active_kubeconfig:
        os.environ["KUBECONFIG"] = str(active_kubeconfig)
        click.echo(
            f"\nIn another shell:\n  export KUBECONFIG={active_kubeconfig}\n"
            "  kubectl get supportcontracts,supportcases -A\n",
            err=True,
        )
        run_operator(config, watch_namespaces)


main.add_command(sla)

if __name__ == "__main__":
    sys.exit(main())
