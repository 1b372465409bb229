"""Applying an access plan: ServiceAccounts, bound Secrets, TokenRequest tokens, kubeconfig Secrets,
RoleBindings and the OpenShift Group; pruning whatever carries the contract label and is no longer planned.

Tokens come only from the TokenRequest API, bound to a per-identity Secret (`boundObjectRef`): deleting that
Secret revokes every token of the identity at once, which is how a removed member loses access in seconds.
Everything is owned by the (cluster-scoped) contract, so the garbage collector removes it even when the
contract is deleted while the operator is down. Blocking calls: run them in a thread.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.access.plan import (
    ANNOTATION_CASE,
    ANNOTATION_EXPIRES,
    LABEL_CONTRACT,
    LABEL_IDENTITY,
    LABEL_PURPOSE,
    MANAGED_BY,
    SUPPORT_VERB,
    AccessPlan,
    Binding,
    ContractReader,
    Identity,
    object_name,
)
from support_operator.api.v1alpha1 import IdentityKind, IdentityStatus, NamespacedName
from support_operator.api.v1alpha1.contract import TokenRecord

log = logging.getLogger(__name__)
ANNOTATION_FINGERPRINT = "support.puzzle.ch/members"
ANNOTATION_BOUND_UID = "support.puzzle.ch/bound-secret-uid"
ANNOTATION_CREDENTIAL_ID = "support.puzzle.ch/credential-id"
# The kubeconfig context names contract and member for `kubectl support` (queue, log): a kubeconfig
# extension, which kubectl keeps and ignores.
KUBECONFIG_EXTENSION = "support.puzzle.ch"
OPENSHIFT_USER_GROUP = ("user.openshift.io", "v1", "groups")


@dataclass(frozen=True)
class Change:
    reason: str  # AccessGranted | AccessRevoked | ElevationGranted | ElevationRevoked | TokenRotated
    message: str


@dataclass
class AccessOutcome:
    identities: list[IdentityStatus] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    rotate_at: dt.datetime | None = None
    minted: list[TokenRecord] = field(default_factory=list)  # the audit trail: each token's JTI


def kubeconfig_secret_name(contract: str, identity: str) -> str:
    """The Secret holding an identity's kubeconfig (key `kubeconfig`), in the operator's namespace."""
    return object_name("kubeconfig", contract, identity, limit=253)


def _not_found(error: ApiException) -> bool:
    return bool(error.status == 404)


@dataclass
class Provisioner:
    api: client.ApiClient
    namespace: str  # where identities, bound Secrets and kubeconfigs live
    server_url: str | None = None  # external API server URL for kubeconfigs; default: the client's

    def __post_init__(self) -> None:
        self.core = client.CoreV1Api(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.objects = client.CustomObjectsApi(self.api)

    # -- public ------------------------------------------------------------------------------------------

    def apply(
        self, contract: dict[str, Any], plan: AccessPlan, ca_bundle: str | None, now: dt.datetime
    ) -> AccessOutcome:
        name = contract["metadata"]["name"]
        outcome = AccessOutcome()
        owner = _owner(contract)
        accounts = [i for i in plan.identities if i.kind == "ServiceAccount"]
        for identity in accounts:
            self._ensure_identity(name, identity, owner, outcome)
            self._ensure_token(name, identity, plan, owner, ca_bundle, now, outcome)
        for identity in plan.identities:
            if identity.kind != "ServiceAccount":
                kind = (
                    IdentityKind.OPENSHIFT_USER
                    if identity.kind == "OpenShiftUser"
                    else IdentityKind.RANCHER_PRINCIPAL
                )
                outcome.identities.append(
                    IdentityStatus(member=identity.name, kind=kind, username=identity.username)
                )
        if plan.group is not None:
            self._ensure_group(name, plan.group.name, list(plan.group.users), owner)
        for binding in plan.bindings:
            self._ensure_binding(name, binding, owner, outcome)
        if plan.reader is not None:
            self._ensure_reader(name, plan.reader, owner)
        self._prune(name, plan, outcome)
        return outcome

    def revoke(self, contract: str) -> list[Change]:
        """Deletes everything the contract was granted."""
        outcome = AccessOutcome()
        self._prune(contract, AccessPlan(), outcome)
        return outcome.changes

    # -- identities and tokens ---------------------------------------------------------------------------

    def _labels(self, contract: str, purpose: str, identity: str | None = None) -> dict[str, str]:
        labels = {**MANAGED_BY, LABEL_CONTRACT: contract, LABEL_PURPOSE: purpose}
        if identity:
            labels[LABEL_IDENTITY] = identity
        return labels

    def _ensure_identity(
        self, contract: str, identity: Identity, owner: dict[str, Any], outcome: AccessOutcome
    ) -> None:
        assert identity.service_account is not None
        try:
            self.core.read_namespaced_service_account(identity.service_account, self.namespace)
        except ApiException as error:
            if not _not_found(error):
                raise
            account = client.V1ServiceAccount(
                metadata=self._meta(identity.service_account, contract, "identity", owner, identity.name),
                automount_service_account_token=False,
            )
            self.core.create_namespaced_service_account(self.namespace, account)
            outcome.changes.append(
                Change(
                    "AccessGranted", f"identity {identity.name}: ServiceAccount {identity.service_account}"
                )
            )

    def _meta(
        self,
        name: str,
        contract: str,
        purpose: str,
        owner: dict[str, Any],
        identity: str | None = None,
        annotations: dict[str, str] | None = None,
        namespace: str | None = None,
    ) -> client.V1ObjectMeta:
        return client.V1ObjectMeta(
            name=name,
            namespace=namespace or self.namespace,
            labels=self._labels(contract, purpose, identity),
            annotations=annotations,
            owner_references=[owner],
        )

    def _binding_secret(
        self, contract: str, identity: Identity, owner: dict[str, Any], outcome: AccessOutcome
    ) -> client.V1Secret:
        """The Secret every token of the identity is bound to; recreated (revoking old tokens) when the
        people behind a shared identity change."""
        assert identity.service_account is not None
        name = f"{identity.service_account}-binding"
        try:
            secret = self.core.read_namespaced_secret(name, self.namespace)
            if (secret.metadata.annotations or {}).get(ANNOTATION_FINGERPRINT) == identity.fingerprint:
                return secret
            self.core.delete_namespaced_secret(name, self.namespace)
            outcome.changes.append(
                Change("TokenRotated", f"identity {identity.name}: members changed, old tokens revoked")
            )
        except ApiException as error:
            if not _not_found(error):
                raise
        body = client.V1Secret(
            metadata=self._meta(
                name,
                contract,
                "token-binding",
                owner,
                identity.name,
                {ANNOTATION_FINGERPRINT: identity.fingerprint},
            ),
            type="Opaque",
        )
        created: client.V1Secret = self.core.create_namespaced_secret(self.namespace, body)
        return created

    def _ensure_token(
        self,
        contract: str,
        identity: Identity,
        plan: AccessPlan,
        owner: dict[str, Any],
        ca_bundle: str | None,
        now: dt.datetime,
        outcome: AccessOutcome,
    ) -> None:
        assert identity.service_account is not None
        binding = self._binding_secret(contract, identity, owner, outcome)
        secret_name = kubeconfig_secret_name(contract, identity.name)
        current = self._read_secret(secret_name)
        annotations = (current.metadata.annotations or {}) if current is not None else {}
        expires = _parse_time(annotations.get(ANNOTATION_EXPIRES))
        rotate_at = expires - plan.token_ttl / 3 if expires else None
        fresh = (
            current is not None
            and annotations.get(ANNOTATION_BOUND_UID) == binding.metadata.uid
            and rotate_at is not None
            and rotate_at > now
        )
        credential_id = annotations.get(ANNOTATION_CREDENTIAL_ID)
        if not fresh:
            token, expires = self._mint(identity.service_account, binding, plan.token_ttl)
            credential_id = token_credential_id(token)
            if credential_id:
                outcome.minted.append(
                    TokenRecord(
                        credential_id=credential_id,
                        member=identity.name,
                        service_account=f"{self.namespace}/{identity.service_account}",
                        issued_at=now,
                        expires_at=expires,
                    )
                )
            kubeconfig = self._kubeconfig(contract, identity.name, token, ca_bundle)
            recorded = {ANNOTATION_EXPIRES: expires.isoformat(), ANNOTATION_BOUND_UID: binding.metadata.uid}
            if credential_id:
                recorded[ANNOTATION_CREDENTIAL_ID] = credential_id
            body = client.V1Secret(
                metadata=self._meta(secret_name, contract, "kubeconfig", owner, identity.name, recorded),
                type="Opaque",
                data={"kubeconfig": base64.b64encode(kubeconfig.encode()).decode()},
            )
            if current is None:
                self.core.create_namespaced_secret(self.namespace, body)
            else:
                self.core.replace_namespaced_secret(secret_name, self.namespace, body)
                outcome.changes.append(
                    Change("TokenRotated", f"identity {identity.name}: new token until {expires.isoformat()}")
                )
            rotate_at = expires - plan.token_ttl / 3
        assert rotate_at is not None and expires is not None
        outcome.rotate_at = rotate_at if outcome.rotate_at is None else min(outcome.rotate_at, rotate_at)
        outcome.identities.append(
            IdentityStatus(
                member=identity.name,
                kind=IdentityKind.SERVICE_ACCOUNT,
                service_account=NamespacedName(namespace=self.namespace, name=identity.service_account),
                kubeconfig_secret=NamespacedName(namespace=self.namespace, name=secret_name),
                token_expires_at=expires,
                credential_id=credential_id,
            )
        )

    def _read_secret(self, name: str) -> client.V1Secret | None:
        try:
            secret: client.V1Secret = self.core.read_namespaced_secret(name, self.namespace)
        except ApiException as error:
            if _not_found(error):
                return None
            raise
        return secret

    def _mint(self, account: str, binding: client.V1Secret, ttl: dt.timedelta) -> tuple[str, dt.datetime]:
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(
                audiences=[],
                expiration_seconds=int(ttl.total_seconds()),
                bound_object_ref=client.V1BoundObjectReference(
                    api_version="v1", kind="Secret", name=binding.metadata.name, uid=binding.metadata.uid
                ),
            )
        )
        minted = self.core.create_namespaced_service_account_token(account, self.namespace, request)
        expires: dt.datetime = (
            minted.status.expiration_timestamp
        )  # what the server granted, not what we asked
        return minted.status.token, expires.astimezone(dt.UTC).replace(microsecond=0)

    def _kubeconfig(self, contract: str, identity: str, token: str, ca_bundle: str | None) -> str:
        configuration = self.api.configuration
        server = self.server_url or configuration.host
        ca = ca_bundle
        if ca is None and configuration.ssl_ca_cert:
            ca = base64.b64encode(Path(configuration.ssl_ca_cert).read_bytes()).decode()
        cluster: dict[str, Any] = {"server": server}
        if ca:
            cluster["certificate-authority-data"] = ca
        name = f"support-{contract}"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": f"{name}-{identity}", "user": {"token": token}}],
            "contexts": [
                {
                    "name": name,
                    "context": {
                        "cluster": name,
                        "user": f"{name}-{identity}",
                        "extensions": [
                            {
                                "name": KUBECONFIG_EXTENSION,
                                "extension": {"contract": contract, "member": identity},
                            }
                        ],
                    },
                }
            ],
            "current-context": name,
        }
        return yaml.safe_dump(config, sort_keys=False)

    # -- bindings and groups -----------------------------------------------------------------------------

    def _ensure_binding(
        self, contract: str, binding: Binding, owner: dict[str, Any], outcome: AccessOutcome
    ) -> None:
        annotations = {}
        if binding.case:
            annotations[ANNOTATION_CASE] = binding.case
        if binding.expires_at:
            annotations[ANNOTATION_EXPIRES] = binding.expires_at.isoformat()
        body = client.V1RoleBinding(
            metadata=self._meta(
                binding.name,
                contract,
                binding.purpose,
                owner,
                annotations=annotations or None,
                namespace=binding.namespace,
            ),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=binding.role
            ),
            subjects=self._rbac_subjects(binding.subjects),
        )
        try:
            current = self.rbac.read_namespaced_role_binding(binding.name, binding.namespace)
        except ApiException as error:
            if not _not_found(error):
                raise
            try:
                self.rbac.create_namespaced_role_binding(binding.namespace, body)
            except ApiException as refused:
                if _namespace_gone(refused):  # deleted since the last watch event: its DELETE requeues us
                    log.info("namespace %s is going away: no binding %s", binding.namespace, binding.name)
                    return
                raise
            reason = "ElevationGranted" if binding.purpose == "elevated" else "AccessGranted"
            detail = (
                f" for {binding.case} until {binding.expires_at:%Y-%m-%d %H:%M} UTC"
                if binding.expires_at
                else ""
            )
            outcome.changes.append(Change(reason, f"{binding.role} in namespace {binding.namespace}{detail}"))
            return
        if current.role_ref.name != binding.role:  # roleRef is immutable
            self.rbac.delete_namespaced_role_binding(binding.name, binding.namespace)
            self.rbac.create_namespaced_role_binding(binding.namespace, body)
        elif _subjects(current) != _subjects(body) or (current.metadata.annotations or {}) != annotations:
            self.rbac.replace_namespaced_role_binding(binding.name, binding.namespace, body)

    def _ensure_reader(self, contract: str, reader: ContractReader, owner: dict[str, Any]) -> None:
        """A ClusterRole reading only this contract (resourceNames) plus the `support` verb, bound
        cluster-wide to the team: the one ClusterRoleBinding the operator makes (an admission policy,
        deploy/base/admission/operator-rbac-guard.yaml, holds it to exactly this shape)."""
        role = client.V1ClusterRole(
            metadata=self._meta(reader.name, contract, "contract-reader", owner, namespace=""),
            rules=[
                client.V1PolicyRule(
                    api_groups=["support.puzzle.ch"],
                    resources=["supportcontracts"],
                    resource_names=[reader.contract],
                    verbs=["get", "watch", SUPPORT_VERB],
                )
            ],
        )
        role.metadata.namespace = None
        binding = client.V1ClusterRoleBinding(
            metadata=self._meta(reader.name, contract, "contract-reader", owner, namespace=""),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=reader.name
            ),
            subjects=self._rbac_subjects(reader.subjects),
        )
        binding.metadata.namespace = None
        try:
            current_role = self.rbac.read_cluster_role(reader.name)
        except ApiException as error:
            if not _not_found(error):
                raise
            self.rbac.create_cluster_role(role)
        else:
            if current_role.rules != role.rules:
                self.rbac.replace_cluster_role(reader.name, role)
        try:
            current = self.rbac.read_cluster_role_binding(reader.name)
        except ApiException as error:
            if not _not_found(error):
                raise
            self.rbac.create_cluster_role_binding(binding)
            return
        if _subjects(current) != _subjects(binding):
            self.rbac.replace_cluster_role_binding(reader.name, binding)

    def _rbac_subjects(self, subjects: Any) -> list[client.RbacV1Subject]:
        return [
            client.RbacV1Subject(
                kind=s.kind,
                name=s.name,
                namespace=self.namespace if s.kind == "ServiceAccount" else None,
                api_group=None if s.kind == "ServiceAccount" else "rbac.authorization.k8s.io",
            )
            for s in subjects
        ]

    def _ensure_group(self, contract: str, name: str, users: list[str], owner: dict[str, Any]) -> None:
        group, version, plural = OPENSHIFT_USER_GROUP
        body: dict[str, Any] = {
            "apiVersion": f"{group}/{version}",
            "kind": "Group",
            "metadata": {"name": name, "labels": self._labels(contract, "group"), "ownerReferences": [owner]},
            "users": users,
        }
        try:
            current = self.objects.get_cluster_custom_object(group, version, plural, name)
        except ApiException as error:
            if not _not_found(error):
                raise
            self.objects.create_cluster_custom_object(group, version, plural, body)
            return
        if current.get("users") != users:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self.objects.replace_cluster_custom_object(group, version, plural, name, body)

    # -- pruning -----------------------------------------------------------------------------------------

    def _prune(self, contract: str, plan: AccessPlan, outcome: AccessOutcome) -> None:
        selector = f"{LABEL_CONTRACT}={contract}"
        wanted_bindings = {(b.namespace, b.name) for b in plan.bindings}
        for binding in self.rbac.list_role_binding_for_all_namespaces(label_selector=selector).items:
            key = (binding.metadata.namespace, binding.metadata.name)
            if key not in wanted_bindings:
                self._delete(lambda k=key: self.rbac.delete_namespaced_role_binding(k[1], k[0]))
                purpose = (binding.metadata.labels or {}).get(LABEL_PURPOSE)
                reason = "ElevationRevoked" if purpose == "elevated" else "AccessRevoked"
                outcome.changes.append(Change(reason, f"{binding.role_ref.name} in namespace {key[0]}"))
        accounts = {i.service_account for i in plan.identities if i.service_account}
        wanted_secrets = {f"{a}-binding" for a in accounts} | {
            kubeconfig_secret_name(contract, i.name) for i in plan.identities if i.service_account
        }
        # Bound Secrets first: deleting them invalidates the identities' tokens immediately.
        for secret in self.core.list_namespaced_secret(self.namespace, label_selector=selector).items:
            if secret.metadata.name not in wanted_secrets:
                self._delete(
                    lambda n=secret.metadata.name: self.core.delete_namespaced_secret(n, self.namespace)
                )
        for account in self.core.list_namespaced_service_account(
            self.namespace, label_selector=selector
        ).items:
            if account.metadata.name not in accounts:
                self._delete(
                    lambda n=account.metadata.name: self.core.delete_namespaced_service_account(
                        n, self.namespace
                    )
                )
                identity = (account.metadata.labels or {}).get(LABEL_IDENTITY, account.metadata.name)
                outcome.changes.append(
                    Change("AccessRevoked", f"identity {identity}: ServiceAccount and tokens removed")
                )
        self._prune_groups(selector, plan)
        self._prune_reader(selector, plan)

    def _prune_reader(self, selector: str, plan: AccessPlan) -> None:
        wanted = plan.reader.name if plan.reader is not None else None
        for item in self.rbac.list_cluster_role_binding(label_selector=selector).items:
            if item.metadata.name != wanted:
                self._delete(lambda n=item.metadata.name: self.rbac.delete_cluster_role_binding(n))
        for item in self.rbac.list_cluster_role(label_selector=selector).items:
            if item.metadata.name != wanted:
                self._delete(lambda n=item.metadata.name: self.rbac.delete_cluster_role(n))

    def _prune_groups(self, selector: str, plan: AccessPlan) -> None:
        group, version, plural = OPENSHIFT_USER_GROUP
        try:
            groups = self.objects.list_cluster_custom_object(group, version, plural, label_selector=selector)
        except ApiException as error:
            if error.status == 404:  # not OpenShift: no Group API
                return
            raise
        for item in groups.get("items", []):
            if plan.group is None or item["metadata"]["name"] != plan.group.name:
                self._delete(
                    lambda n=item["metadata"]["name"]: self.objects.delete_cluster_custom_object(
                        group, version, plural, n
                    )
                )

    @staticmethod
    def _delete(call: Any) -> None:
        try:
            call()
        except ApiException as error:
            if not _not_found(error):
                raise


def _owner(contract: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": contract["apiVersion"],
        "kind": contract["kind"],
        "name": contract["metadata"]["name"],
        "uid": contract["metadata"]["uid"],
    }


def _namespace_gone(error: ApiException) -> bool:
    """A namespace deleted (404) or being deleted (403 `... because it is being terminated`) - broad scope
    selectors meet such namespaces all the time; they must not fail the whole contract."""
    return _not_found(error) or (error.status == 403 and "being terminated" in str(error.body or ""))


def token_credential_id(token: str) -> str | None:
    """The JTI of a service account token as the audit log names it (`JTI=<jti>`); the token is ours, from
    the TokenRequest API, so its payload is read without verifying the signature."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return f"JTI={jti}" if isinstance(jti, str) and jti else None


def _subjects(binding: Any) -> list[tuple[str, str, str | None]]:
    return sorted((s.kind, s.name, s.namespace) for s in binding.subjects or [])


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None
