"""The `support-operator` command: run the operator, start a local dev environment, check SLA deadlines."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from support_operator.access.protected import DEFAULT_PROTECTED_NAMESPACES
from support_operator.cli.access import access
from support_operator.cli.sla import sla
from support_operator.config import DEFAULT_ALLOWED_ROLES, OperatorConfig
from support_operator.domain.sla import parse_duration

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
            envvar="SUPPORT_OPERATOR_NAMESPACE",
            default="support-operator",
            show_default=True,
            help="Namespace the operator keeps identities, bound Secrets and kubeconfigs in.",
        ),
        click.option(
            "--metrics-port",
            envvar="SUPPORT_OPERATOR_METRICS_PORT",
            type=int,
            default=8080,
            show_default=True,
            help="Port of /metrics.",
        ),
        click.option(
            "--liveness-port",
            envvar="SUPPORT_OPERATOR_LIVENESS_PORT",
            type=int,
            default=8081,
            show_default=True,
            help="Port of /healthz.",
        ),
        click.option(
            "--bind-address",
            envvar="SUPPORT_OPERATOR_BIND_ADDRESS",
            default="0.0.0.0",
            show_default=True,
            help="Address the endpoints bind.",
        ),
        click.option(
            "--api-server-url",
            envvar="SUPPORT_OPERATOR_API_SERVER_URL",
            help="External API server URL written into the support team's kubeconfigs "
            "(default: the one the operator uses; a contract's access.apiServerURL wins).",
        ),
        click.option(
            "--allowed-role",
            "allowed_roles",
            envvar="SUPPORT_OPERATOR_ALLOWED_ROLES",
            multiple=True,
            default=DEFAULT_ALLOWED_ROLES,
            show_default=True,
            help="ClusterRole contracts may grant (repeatable); cluster-admin is never granted.",
        ),
        click.option(
            "--max-token-ttl",
            envvar="SUPPORT_OPERATOR_MAX_TOKEN_TTL",
            default="24h",
            show_default=True,
            help="Upper bound of a contract's access.tokenTTL, e.g. 8h.",
        ),
        click.option(
            "--leader-election/--no-leader-election",
            envvar="SUPPORT_OPERATOR_LEADER_ELECTION",
            default=True,
            show_default=True,
            help="Take part in leader election on the Lease support-operator in --namespace; only the "
            "leader reconciles (run two replicas for a warm standby).",
        ),
        click.option(
            "--protected-namespace",
            "protected_namespaces",
            envvar="SUPPORT_OPERATOR_PROTECTED_NAMESPACES",
            multiple=True,
            default=DEFAULT_PROTECTED_NAMESPACES,
            show_default=True,
            help="Namespace or pattern (kube-*) the support team never gets a binding in (repeatable; the "
            "env variable takes a space-separated list). The operator's own namespace always is.",
        ),
        click.option(
            "--alert-receiver-port",
            envvar="SUPPORT_OPERATOR_ALERT_RECEIVER_PORT",
            type=int,
            default=8082,
            show_default=True,
            help="Port of the Alertmanager webhook receiver (POST /alerts); 0: not served.",
        ),
        click.option(
            "--alert-receiver-secret",
            envvar="SUPPORT_OPERATOR_ALERT_RECEIVER_SECRET",
            default="alert-receiver",
            show_default=True,
            help="Secret in the operator's namespace whose key `token` is the receiver's bearer token.",
        ),
        click.option("-v", "--verbose", is_flag=True, help="Debug logging."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _config(options: dict[str, Any]) -> OperatorConfig:
    logging.basicConfig(level=logging.DEBUG if options.pop("verbose") else logging.INFO)
    return OperatorConfig(
        namespace=options["operator_namespace"],
        metrics_port=options["metrics_port"],
        liveness_port=options["liveness_port"],
        bind_address=options["bind_address"],
        api_server_url=options["api_server_url"],
        allowed_roles=tuple(options["allowed_roles"]),
        max_token_ttl_seconds=int(_duration(options["max_token_ttl"]).total_seconds()),
        leader_election=options["leader_election"],
        protected_namespaces=tuple(options["protected_namespaces"]),
        alert_receiver_port=options["alert_receiver_port"],
        alert_receiver_secret=options["alert_receiver_secret"],
    )


def _duration(text: str) -> dt.timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


@main.command()
@_operator_options
def run(**options: Any) -> None:
    """Run the operator against the cluster of KUBECONFIG or the in-cluster service account."""
    from support_operator.runtime import run_operator

    run_operator(_config(options))


@main.command()
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KUBECONFIG",
    help="Run against this cluster instead of starting a local control plane.",
)
@click.option("--samples/--no-samples", default=True, show_default=True, help="Apply crds/samples/ too.")
@_operator_options
def dev(kubeconfig: Path | None, samples: bool, **options: Any) -> None:
    """Start everything locally: a real control plane (unless KUBECONFIG names a cluster), the CRDs, the
    samples and the operator in the foreground. Ctrl-C stops it all."""
    from support_operator.devenv import DEV_HOME, dev_environment
    from support_operator.devmail import DevMail
    from support_operator.runtime import run_operator

    config = _config(options)
    mail = DevMail(DEV_HOME).start()  # confirmations and the intake mailbox stay on loopback
    try:
        with dev_environment(kubeconfig, config, apply_samples=samples, mail=mail) as active_kubeconfig:
            os.environ["KUBECONFIG"] = str(active_kubeconfig)
            click.echo(
                f"\nIn another shell:\n  export KUBECONFIG={active_kubeconfig}\n"
                f"  kubectl get supportcontracts,supportcases -A\n\n{mail.instructions()}\n",
                err=True,
            )
            run_operator(config)
    finally:
        mail.stop()


main.add_command(sla)
main.add_command(access)


if __name__ == "__main__":
    sys.exit(main())
