"""`support-operator access`: what the support team was granted, e.g. a member's kubeconfig."""

from __future__ import annotations

import base64
from pathlib import Path

import click
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from support_operator.access.provisioner import kubeconfig_secret_name
from support_operator.cli import access_audit


@click.group()
def access() -> None:
    """Remote access of the support team."""


@access.command()
@click.option("--contract", required=True, help="Name of the SupportContract.")
@click.option("--member", required=True, help="Team member name, or 'team' for a Team-mode contract.")
@click.option("--namespace", default="support-operator", show_default=True, help="The operator's namespace.")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KUBECONFIG",
    help="Cluster to read from (default: KUBECONFIG, ~/.kube/config or in-cluster).",
)
def kubeconfig(contract: str, member: str, namespace: str, kubeconfig: Path | None) -> None:
    """Print the kubeconfig the operator keeps for a member (its token is short-lived and rotated:
    fetch it again when it expires)."""
    api = config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None)
    name = kubeconfig_secret_name(contract, member)
    try:
        secret = client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    except ApiException as error:
        if error.status == 404:
            raise click.ClickException(
                f"no kubeconfig for member {member} of contract {contract} (Secret {namespace}/{name}); "
                f"check spec.access and the AccessProvisioned condition: "
                f"kubectl get supportcontract {contract} -o jsonpath='{{.status.conditions}}'"
            ) from error
        if error.status == 403:
            raise click.ClickException(
                f"not allowed to read Secret {namespace}/{name}: {error.reason}"
            ) from error
        raise
    click.echo(base64.b64decode(secret.data["kubeconfig"]).decode(), nl=False)


@access.command()
@access_audit.options
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KUBECONFIG",
    help="Cluster to read contracts and cases from (default: KUBECONFIG, ~/.kube/config).",
)
def audit(
    audit_log: Path,
    case_ref: str | None,
    contract: str | None,
    member: str | None,
    since: str | None,
    output: str,
    kubeconfig: Path | None,
) -> None:
    """What support identities did, from kube-apiserver's audit log: verb, resource, namespace, name,
    response code and time; with --case only within the case's elevation window."""
    api = config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None)
    rows = access_audit.run(api, audit_log, case_ref, contract, member, since, "default")
    click.echo(access_audit.render(rows, output))
