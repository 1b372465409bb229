"""What a supporter's own kubeconfig tells `kubectl support`: the operator writes the contract and member
into the context (extension `support.puzzle.ch`), and the contract's status lists the namespaces where the
team works. A supporter may not list cases cluster-wide, so `queue` falls back to those namespaces."""

from __future__ import annotations

import contextlib
import getpass

from kubernetes import config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

from support_operator import constants
from support_operator.cli.plugin.connection import DNS_LABEL, Cluster, Obj

EXTENSION = constants.KUBECONFIG_EXTENSION


def default_member() -> str | None:
    """The local user's name when it can be a team member's name."""
    with contextlib.suppress(OSError, KeyError):
        user = getpass.getuser().lower()
        if DNS_LABEL.match(user):
            return user
    return None


def context_extension(kubeconfig: str | None, context: str | None) -> dict[str, str]:
    """{contract, member} of the chosen kubeconfig context, or {} for anyone else's kubeconfig."""
    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError):
        return {}
    chosen = next((c for c in contexts if c["name"] == context), active) or {}
    for extension in chosen.get("context", {}).get("extensions") or []:
        if extension.get("name") == EXTENSION and isinstance(extension.get("extension"), dict):
            return {k: str(v) for k, v in extension["extension"].items()}
    return {}


def cases_in_contract_scope(cluster: Cluster, contract: str) -> list[Obj]:
    """The contract's cases in the namespaces its status names as granted (what a supporter may list)."""
    granted = (cluster.get_contract(contract).get("status") or {}).get("grantedNamespaces") or []
    found: list[Obj] = []
    for namespace in granted:
        try:
            found += cluster.list_cases(namespace)
        except ApiException as error:
            if error.status != 403:  # access in flux: show what may be seen
                raise
    return [c for c in found if (c.get("spec") or {}).get("contractRef", {}).get("name") == contract]
