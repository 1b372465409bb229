"""Applying an access plan: its manifests (`access.manifests`) by server-side apply, sending only what
changed (`access.applier`); TokenRequest tokens and kubeconfig Secrets for the ServiceAccount identities;
pruning whatever carries the contract label and is no longer planned.

Tokens come only from the TokenRequest API, bound to a per-identity Secret (`boundObjectRef`): deleting that
Secret revokes every token of the identity at once, which is how a removed member loses access in seconds.
Everything is owned by the (cluster-scoped) contract, so the garbage collector removes it even when the
contract is deleted while the operator is down. Blocking calls: run them in a thread.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from prometheus_client import Counter

from support_operator.access.applier import Applied, Applier
from support_operator.access.manifests import (
    ANNOTATION_BOUND_UID,
    ANNOTATION_CREDENTIAL_ID,
    ANNOTATION_FINGERPRINT,
    KUBECONFIG_EXTENSION,
    ObjectKey,
    Owner,
    Record,
    Step,
    binding_secret_name,
    desired,
    kept_secrets,
    key_of,
    kubeconfig,
    kubeconfig_secret,
    kubeconfig_secret_name,
    parse_time,
)
from support_operator.access.outcome import AccessOutcome as AccessOutcome
from support_operator.access.outcome import Change as Change
from support_operator.access.plan import ANNOTATION_EXPIRES, AccessPlan, Binding, Identity
from support_operator.api.v1alpha1 import IdentityKind, IdentityStatus, NamespacedName
from support_operator.api.v1alpha1.contract import TokenRecord

__all__ = [
    "ANNOTATION_BOUND_UID",
    "ANNOTATION_CREDENTIAL_ID",
    "ANNOTATION_FINGERPRINT",
    "KUBECONFIG_EXTENSION",
    "OPENSHIFT_USER_GROUP",
    "AccessOutcome",
    "Change",
    "Provisioner",
    "kubeconfig_secret_name",
    "token_credential_id",
]
OPENSHIFT_USER_GROUP = ("user.openshift.io", "v1", "groups")
IDENTITY_KINDS = ("Secret", "ServiceAccount")  # revoked before anything else is sent


@dataclass
class Provisioner:
    api: client.ApiClient
    namespace: str  # where identities, bound Secrets and kubeconfigs live
    server_url: str | None = None  # external API server URL for kubeconfigs; default: the client's
    requests_total: Counter | None = None  # access.applier.requests_counter(registry), when wanted

    def __post_init__(self) -> None:
        self.applier = Applier(self.api, self.namespace, self.requests_total)

    # -- public ------------------------------------------------------------------------------------------

    def apply(
        self, contract: dict[str, Any], plan: AccessPlan, ca_bundle: str | None, now: dt.datetime
    ) -> AccessOutcome:
        with self.applier.lock:
            return self._apply(Owner.of(contract), plan, ca_bundle, now)

    def revoke(self, contract: str) -> list[Change]:
        """Deletes everything the contract was granted (listed afresh: the last word on a contract)."""
        with self.applier.lock:
            self.applier.refresh(contract)
            outcome = AccessOutcome()
            _revoked(self.applier.prune(contract, ()), outcome)
            return outcome.changes

    def forget_namespace(self, namespace: str) -> None:
        """Tells the provisioner a namespace was deleted: if one of that name comes back before the next
        reconcile, its bindings are sent again rather than taken for existing."""
        with self.applier.lock:
            self.applier.forget_namespace(namespace)

    def resync(self) -> None:
        """Lists everything again before the next apply (e.g. when this replica starts leading)."""
        with self.applier.lock:
            self.applier.forget()

    @property
    def requests(self) -> Tally[tuple[str, str]]:
        """API requests sent so far, by (verb, kind)."""
        return self.applier.requests

    # -- applying ----------------------------------------------------------------------------------------

    def _apply(
        self, owner: Owner, plan: AccessPlan, ca_bundle: str | None, now: dt.datetime
    ) -> AccessOutcome:
        outcome = AccessOutcome()
        manifests = desired(owner, plan, self.namespace)
        wanted = {key_of(m) for m in manifests} | kept_secrets(owner, plan, self.namespace)
        if any(i.service_account for i in plan.identities):
            # Their Secrets are listed at every reconcile (one request): a token record someone changed,
            # or a bound Secret someone deleted, is acted on at once, not at the next resync.
            self.applier.refresh(owner.name, ["Secret"])
        # Removed identities first: their bound Secrets go before anything else is sent.
        _revoked(self.applier.prune(owner.name, wanted, IDENTITY_KINDS), outcome)
        applied = self.applier.apply(owner.name, manifests)
        _granted(applied, plan, self.namespace, outcome)
        for identity in plan.identities:
            if identity.service_account:
                self._ensure_token(owner, identity, plan, ca_bundle, now, outcome)
        outcome.identities += [_platform_identity(i) for i in plan.identities if not i.service_account]
        _revoked(self.applier.prune(owner.name, wanted), outcome)
        return outcome

    def _ensure_token(
        self,
        owner: Owner,
        identity: Identity,
        plan: AccessPlan,
        ca_bundle: str | None,
        now: dt.datetime,
        outcome: AccessOutcome,
    ) -> None:
        assert identity.service_account is not None
        records = self.applier.records(owner.name)
        bound = records[ObjectKey("Secret", self.namespace, binding_secret_name(identity))]
        secret_name = kubeconfig_secret_name(owner.name, identity.name)
        current = records.get(ObjectKey("Secret", self.namespace, secret_name))
        annotations: Mapping[str, str] = (current.annotations or {}) if current is not None else {}
        expires = parse_time(annotations.get(ANNOTATION_EXPIRES))
        rotate_at = expires - plan.token_ttl / 3 if expires else None
        fresh = (
            current is not None
            and annotations.get(ANNOTATION_BOUND_UID) == bound.uid
            and rotate_at is not None
            and rotate_at > now
        )
        credential_id = annotations.get(ANNOTATION_CREDENTIAL_ID)
        if not fresh:
            expires, credential_id = self._issue(owner, identity, bound, plan, ca_bundle, now, outcome)
            if current is not None:
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

    def _issue(
        self,
        owner: Owner,
        identity: Identity,
        bound: Record,
        plan: AccessPlan,
        ca_bundle: str | None,
        now: dt.datetime,
        outcome: AccessOutcome,
    ) -> tuple[dt.datetime, str | None]:
        """Mints a token, records its JTI and writes the kubeconfig Secret; returns (expiry, JTI)."""
        assert identity.service_account is not None and bound.uid is not None
        token, expires = self._mint(identity.service_account, binding_secret_name(identity), bound.uid, plan)
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
        recorded = {ANNOTATION_EXPIRES: expires.isoformat(), ANNOTATION_BOUND_UID: bound.uid}
        if credential_id:
            recorded[ANNOTATION_CREDENTIAL_ID] = credential_id
        text = kubeconfig(owner.name, identity.name, token, self._server(), self._ca(ca_bundle))
        manifest = kubeconfig_secret(owner, identity.name, self.namespace, text, recorded)
        self.applier.apply_one(owner.name, Step("update", manifest))
        return expires, credential_id

    def _mint(
        self, account: str, bound_secret: str, bound_uid: str, plan: AccessPlan
    ) -> tuple[str, dt.datetime]:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [],
                "expirationSeconds": int(plan.token_ttl.total_seconds()),
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "name": bound_secret,
                    "uid": bound_uid,
                },
            },
        }
        path = f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token"
        minted = self.applier.create(path, "TokenRequest", body)
        # What the server granted, not what we asked.
        expires = dt.datetime.fromisoformat(minted["status"]["expirationTimestamp"])
        return minted["status"]["token"], expires.astimezone(dt.UTC).replace(microsecond=0)

    def _server(self) -> str:
        return self.server_url or str(self.api.configuration.host)

    def _ca(self, ca_bundle: str | None) -> str | None:
        configured = self.api.configuration.ssl_ca_cert
        if ca_bundle is None and configured:
            return base64.b64encode(Path(configured).read_bytes()).decode()
        return ca_bundle


# -- changes -----------------------------------------------------------------------------------------------


def _granted(applied: Applied, plan: AccessPlan, namespace: str, outcome: AccessOutcome) -> None:
    """The Changes of what was created (an update or a roleRef swap is not news)."""
    accounts = {
        ObjectKey("ServiceAccount", namespace, i.service_account): i
        for i in plan.identities
        if i.service_account
    }
    bound = {
        ObjectKey("Secret", namespace, binding_secret_name(i)): i
        for i in plan.identities
        if i.service_account
    }
    bindings = {ObjectKey("RoleBinding", b.namespace, b.name): b for b in plan.bindings}
    for key in applied.created:
        if key in accounts:
            identity = accounts[key]
            outcome.changes.append(
                Change(
                    "AccessGranted", f"identity {identity.name}: ServiceAccount {identity.service_account}"
                )
            )
        elif key in bindings:
            outcome.changes.append(_binding_granted(bindings[key]))
    for key in applied.recreated:
        if key in bound:
            outcome.changes.append(
                Change("TokenRotated", f"identity {bound[key].name}: members changed, old tokens revoked")
            )


def _binding_granted(binding: Binding) -> Change:
    reason = "ElevationGranted" if binding.purpose == "elevated" else "AccessGranted"
    detail = (
        f" for {binding.case} until {binding.expires_at:%Y-%m-%d %H:%M} UTC" if binding.expires_at else ""
    )
    return Change(reason, f"{binding.role} in namespace {binding.namespace}{detail}")


def _revoked(gone: Iterable[tuple[ObjectKey, Record]], outcome: AccessOutcome) -> None:
    for key, record in gone:
        if key.kind == "RoleBinding":
            reason = "ElevationRevoked" if record.purpose == "elevated" else "AccessRevoked"
            outcome.changes.append(Change(reason, f"{record.pinned} in namespace {key.namespace}"))
        elif key.kind == "ServiceAccount":
            identity = record.identity or key.name
            outcome.changes.append(
                Change("AccessRevoked", f"identity {identity}: ServiceAccount and tokens removed")
            )


def _platform_identity(identity: Identity) -> IdentityStatus:
    kind = IdentityKind.OPENSHIFT_USER if identity.kind == "OpenShiftUser" else IdentityKind.RANCHER_PRINCIPAL
    return IdentityStatus(member=identity.name, kind=kind, username=identity.username)


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
