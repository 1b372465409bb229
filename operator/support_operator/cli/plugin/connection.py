"""The plugin's cluster connection: kubectl's flags, the kubeconfig, the API client, the one-line errors and
loading a case or contract. Every command module builds on this one (and scope.py); none imports another
command's module."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from support_operator.api.v1alpha1 import (
    CASE_PLURAL,
    CONTRACT_PLURAL,
    GROUP,
    STATEMENT_PLURAL,
    VERSION,
    SupportCase,
    SupportContract,
)
from support_operator.api.v1alpha1.common import DNS_LABEL_PATTERN

F = TypeVar("F", bound=Callable[..., Any])
Obj = dict[str, Any]
MEMBER_ENV = "KUBECTL_SUPPORT_MEMBER"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
DNS_LABEL = re.compile(DNS_LABEL_PATTERN)


class PluginError(click.ClickException):
    """A clear one-line error; exit code 1."""


# --- kubectl's flags -----------------------------------------------------------------------------------


@dataclass
class Connection:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False


def _remember(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """Stores a connection flag on the root context, so it works before or after the subcommand."""

    def store(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(ctx.find_root().ensure_object(Connection), attribute, value)

    return store


def connection_options(command: F) -> F:
    options = [
        click.option(
            "--kubeconfig",
            expose_value=False,
            callback=_remember("kubeconfig"),
            help="Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).",
        ),
        click.option(
            "--context", expose_value=False, callback=_remember("context"), help="Kubeconfig context to use."
        ),
        click.option(
            "-n",
            "--namespace",
            expose_value=False,
            callback=_remember("namespace"),
            help="Namespace of the case (default: the context's namespace).",
        ),
        click.option(
            "-A",
            "--all-namespaces",
            is_flag=True,
            expose_value=False,
            callback=_remember("all_namespaces"),
            help="All namespaces (queue's default).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


# --- the API server ------------------------------------------------------------------------------------


class Cluster(Protocol):
    """What the commands need from the API server (a fake in unit tests)."""

    namespace: str

    def get_case(self, namespace: str, name: str) -> Obj: ...
    def list_cases(self, namespace: str | None) -> list[Obj]: ...
    def get_contract(self, name: str) -> Obj: ...
    def list_contracts(self) -> list[Obj]: ...
    def patch_case(self, namespace: str, name: str, body: Any, content_type: str) -> Obj: ...
    def create_case(self, namespace: str, body: Obj) -> Obj: ...
    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None: ...
    def list_statements(self) -> list[Obj]: ...


@dataclass
class KubeCluster:
    api: client.ApiClient
    namespace: str

    @property
    def objects(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def get_case(self, namespace: str, name: str) -> Obj:
        found: Obj = self.objects.get_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL, name)
        return found

    def list_cases(self, namespace: str | None) -> list[Obj]:
        if namespace is None:
            listed = self.objects.list_cluster_custom_object(GROUP, VERSION, CASE_PLURAL)
        else:
            listed = self.objects.list_namespaced_custom_object(GROUP, VERSION, namespace, CASE_PLURAL)
        return [with_kind(item, "SupportCase") for item in listed.get("items", [])]

    def get_contract(self, name: str) -> Obj:
        found: Obj = self.objects.get_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL, name)
        return found

    def list_contracts(self) -> list[Obj]:
        listed = self.objects.list_cluster_custom_object(GROUP, VERSION, CONTRACT_PLURAL)
        return [with_kind(item, "SupportContract") for item in listed.get("items", [])]

    def patch_case(self, namespace: str, name: str, body: Any, content_type: str) -> Obj:
        patched: Obj = self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, CASE_PLURAL, name, body, _content_type=content_type
        )
        return patched

    def create_case(self, namespace: str, body: Obj) -> Obj:
        created: Obj = self.objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, CASE_PLURAL, body
        )
        return created

    def list_statements(self) -> list[Obj]:
        listed = self.objects.list_cluster_custom_object(GROUP, VERSION, STATEMENT_PLURAL)
        return list(listed.get("items", []))

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            secret = client.CoreV1Api(self.api).read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}


def with_kind(item: Obj, kind: str) -> Obj:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, **item}


def connect(connection: Connection) -> Cluster:
    """A client for the kubeconfig and context chosen by the flags."""
    configuration = client.Configuration()
    try:
        config.load_kube_config(
            config_file=connection.kubeconfig, context=connection.context, client_configuration=configuration
        )
        contexts, active = config.list_kube_config_contexts(config_file=connection.kubeconfig)
    except (ConfigException, OSError) as error:
        raise PluginError(f"cannot load the kubeconfig: {error}") from None
    chosen = next((c for c in contexts if c["name"] == connection.context), active)
    configuration.retries = 1  # fail fast with a clear message instead of retrying for a minute
    default_namespace = (chosen or {}).get("context", {}).get("namespace") or "default"
    return KubeCluster(client.ApiClient(configuration), connection.namespace or default_namespace)


@contextlib.contextmanager
def api_errors(what: str) -> Iterator[None]:
    """Turns API and network failures into one clear line."""
    try:
        yield
    except ApiException as error:
        message = server_message(error)
        if error.status == 404:
            raise PluginError(f"{what}: not found") from None
        if error.status in (401, 403):
            raise PluginError(f"{what}: no permission ({message})") from None
        raise PluginError(f"{what}: {message}") from None
    except urllib3.exceptions.HTTPError as error:
        raise PluginError(f"{what}: cannot reach the API server ({error})") from None


def server_message(error: ApiException) -> str:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        body = json.loads(error.body)
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    return f"{error.status} {error.reason}"


def connection_of(ctx: click.Context) -> Connection:
    return ctx.find_root().ensure_object(Connection)


def cluster_of(ctx: click.Context) -> Cluster:
    # `connect` is looked up here at call time, so tests can replace it on this module.
    return connect(connection_of(ctx))


# --- cases and contracts -------------------------------------------------------------------------------


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def load_case(cluster: Cluster, reference: str) -> tuple[Obj, SupportCase]:
    """CASE as `name` (in the connection's namespace) or `namespace/name`: raw and parsed."""
    namespace, _, name = reference.rpartition("/")
    namespace = namespace or cluster.namespace
    with api_errors(f"SupportCase {namespace}/{name}"):
        raw = cluster.get_case(namespace, name)
    return raw, parse_case(raw)


def parse_case(raw: Obj) -> SupportCase:
    try:
        return SupportCase.from_k8s(with_kind(raw, "SupportCase"))
    except ValidationError as error:
        name = raw.get("metadata", {}).get("name")
        raise PluginError(f"SupportCase {name} cannot be read: {error.errors()[0]['msg']}") from None


def optional_contract(cluster: Cluster, name: str) -> SupportContract | None:
    """The contract, or None when it is missing or we may not read it (cluster-scoped)."""
    try:
        return SupportContract.from_k8s(with_kind(cluster.get_contract(name), "SupportContract"))
    except (ApiException, ValidationError):
        return None


def contract_zone(contract: SupportContract | None) -> dt.tzinfo | None:
    if contract is None:
        return None
    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(contract.spec.support_hours.time_zone)
    return None
