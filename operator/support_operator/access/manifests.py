"""An access plan as the objects it asks for (manifests as data), and what applying them must send given
what exists. Pure: no API calls.

Every object carries the operator's ownership labels (managed-by, contract, purpose, identity) and the
digest of the manifest it was applied from (an annotation), so a list after a restart tells what is up to
date without reading anything else.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from support_operator import constants
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
    Subject,
    object_name,
)

ANNOTATION_DIGEST = f"{constants.GROUP}/applied-digest"
ANNOTATION_FINGERPRINT = f"{constants.GROUP}/members"
ANNOTATION_BOUND_UID = f"{constants.GROUP}/bound-secret-uid"
ANNOTATION_CREDENTIAL_ID = f"{constants.GROUP}/credential-id"
# The kubeconfig context names contract and member for `kubectl support` (queue, log): a kubeconfig
# extension, which kubectl keeps and ignores.
KUBECONFIG_EXTENSION = constants.KUBECONFIG_EXTENSION
RBAC_GROUP = "rbac.authorization.k8s.io"
# Kinds in the order their objects are deleted: the bound Secrets first (that revokes every token of an
# identity at once), the ClusterRole after the ClusterRoleBinding that refers to it.
KINDS = ("Secret", "ServiceAccount", "RoleBinding", "ClusterRoleBinding", "ClusterRole", "Group")
PURPOSE_TOKEN_BINDING = "token-binding"
PURPOSE_KUBECONFIG = "kubeconfig"


@dataclass(frozen=True, slots=True)
class ObjectKey:
    kind: str
    namespace: str  # "" when cluster-scoped
    name: str


@dataclass(frozen=True, slots=True)
class Record:
    """What is known of an existing object: enough to decide whether to send anything, and to say what a
    deletion revoked."""

    digest: str | None  # of the manifest last applied; None for objects made before digests
    pinned: str | None  # what cannot change in place: a binding's roleRef, a bound Secret's members
    purpose: str | None = None
    identity: str | None = None
    uid: str | None = None
    annotations: Mapping[str, str] | None = None  # kubeconfig Secrets only: the token record


@dataclass(frozen=True)
class Step:
    action: Literal["create", "update", "recreate"]  # recreate: delete first (an immutable field changed)
    manifest: dict[str, Any]

    @property
    def key(self) -> ObjectKey:
        return key_of(self.manifest)


@dataclass(frozen=True)
class Owner:
    """The contract every object is owned by (the garbage collector's backstop)."""

    api_version: str
    kind: str
    name: str
    uid: str

    @classmethod
    def of(cls, contract: Mapping[str, Any]) -> Owner:
        metadata = contract["metadata"]
        return cls(contract["apiVersion"], contract["kind"], metadata["name"], metadata["uid"])

    def reference(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name, "uid": self.uid}


# -- desired objects ---------------------------------------------------------------------------------------


def desired(owner: Owner, plan: AccessPlan, namespace: str) -> list[dict[str, Any]]:
    """The objects `plan` asks for, in the order they are applied (a ClusterRole before its binding),
    except the kubeconfig Secrets, which need a token first (`kubeconfig_secret`). `namespace` is the
    operator's: identities and their Secrets live there."""
    accounts = [i for i in plan.identities if i.service_account]
    manifests = [service_account(owner, i, namespace) for i in accounts]
    manifests += [binding_secret(owner, i, namespace) for i in accounts]
    if plan.group is not None:
        manifests.append(group(owner, plan.group.name, plan.group.users))
    manifests += [role_binding(owner, b, namespace) for b in plan.bindings]
    if plan.reader is not None:
        manifests += reader(owner, plan.reader, namespace)
    return manifests


def kept_secrets(owner: Owner, plan: AccessPlan, namespace: str) -> set[ObjectKey]:
    """The kubeconfig Secrets the plan keeps (made when a token is minted, never listed in `desired`)."""
    return {
        ObjectKey("Secret", namespace, kubeconfig_secret_name(owner.name, i.name))
        for i in plan.identities
        if i.service_account
    }


def kubeconfig_secret_name(contract: str, identity: str) -> str:
    """The Secret holding an identity's kubeconfig (key `kubeconfig`), in the operator's namespace."""
    return object_name("kubeconfig", contract, identity, limit=253)


def binding_secret_name(identity: Identity) -> str:
    """The Secret every token of the identity is bound to (`boundObjectRef`)."""
    assert identity.service_account is not None
    return f"{identity.service_account}-binding"


def labels(contract: str, purpose: str, identity: str | None = None) -> dict[str, str]:
    found = {**MANAGED_BY, LABEL_CONTRACT: contract, LABEL_PURPOSE: purpose}
    if identity:
        found[LABEL_IDENTITY] = identity
    return found


def _metadata(
    owner: Owner,
    name: str,
    purpose: str,
    namespace: str | None = None,
    identity: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = labels(owner.name, purpose, identity)
    if annotations:
        metadata["annotations"] = dict(annotations)
    metadata["ownerReferences"] = [owner.reference()]
    return metadata


def service_account(owner: Owner, identity: Identity, namespace: str) -> dict[str, Any]:
    assert identity.service_account is not None
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(owner, identity.service_account, "identity", namespace, identity.name),
        "automountServiceAccountToken": False,
    }


def binding_secret(owner: Owner, identity: Identity, namespace: str) -> dict[str, Any]:
    """Recreated (revoking the old tokens) when the people behind a shared identity change."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(
            owner,
            binding_secret_name(identity),
            PURPOSE_TOKEN_BINDING,
            namespace,
            identity.name,
            {ANNOTATION_FINGERPRINT: identity.fingerprint},
        ),
        "type": "Opaque",
    }


def kubeconfig_secret(
    owner: Owner, identity: str, namespace: str, kubeconfig: str, recorded: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(
            owner,
            kubeconfig_secret_name(owner.name, identity),
            PURPOSE_KUBECONFIG,
            namespace,
            identity,
            recorded,
        ),
        "type": "Opaque",
        "data": {"kubeconfig": base64.b64encode(kubeconfig.encode()).decode()},
    }


def subjects(found: Iterable[Subject], namespace: str) -> list[dict[str, str]]:
    """RBAC subjects; ServiceAccounts are the operator's, in its namespace."""
    return [
        {"kind": s.kind, "name": s.name, "namespace": namespace}
        if s.kind == "ServiceAccount"
        else {"kind": s.kind, "name": s.name, "apiGroup": RBAC_GROUP}
        for s in found
    ]


def role_binding(owner: Owner, binding: Binding, namespace: str) -> dict[str, Any]:
    annotations = {}
    if binding.case:
        annotations[ANNOTATION_CASE] = binding.case
    if binding.expires_at:
        annotations[ANNOTATION_EXPIRES] = binding.expires_at.isoformat()
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(
            owner, binding.name, binding.purpose, binding.namespace, annotations=annotations
        ),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": binding.role},
        "subjects": subjects(binding.subjects, namespace),
    }


def reader(owner: Owner, found: ContractReader, namespace: str) -> list[dict[str, Any]]:
    """A ClusterRole reading only this contract (resourceNames) plus the `support` verb, bound
    cluster-wide to the team: the one ClusterRoleBinding the operator makes (an admission policy,
    deploy/base/admission/operator-rbac-guard.yaml, holds it to exactly this shape)."""
    role = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": _metadata(owner, found.name, "contract-reader"),
        "rules": [
            {
                "apiGroups": ["support.puzzle.ch"],
                "resources": ["supportcontracts"],
                "resourceNames": [found.contract],
                "verbs": ["get", "watch", SUPPORT_VERB],
            }
        ],
    }
    binding = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _metadata(owner, found.name, "contract-reader"),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": found.name},
        "subjects": subjects(found.subjects, namespace),
    }
    return [role, binding]


def group(owner: Owner, name: str, users: Iterable[str]) -> dict[str, Any]:
    return {
        "apiVersion": "user.openshift.io/v1",
        "kind": "Group",
        "metadata": _metadata(owner, name, "group"),
        "users": list(users),
    }


def kubeconfig(contract: str, identity: str, token: str, server: str, ca_bundle: str | None) -> str:
    cluster: dict[str, Any] = {"server": server}
    if ca_bundle:
        cluster["certificate-authority-data"] = ca_bundle
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


# -- what exists, what to send ------------------------------------------------------------------------------


def owned_selector(contract: str | None = None) -> str:
    """The label selector of what the operator provisioned for `contract` (None: for any contract)."""
    managed = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    return f"{managed},{LABEL_CONTRACT}" + (f"={contract}" if contract is not None else "")


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    """Works on manifests and on listed objects (which lack `kind`: pass it in `obj` then)."""
    metadata = obj["metadata"]
    return ObjectKey(obj["kind"], metadata.get("namespace") or "", metadata["name"])


def digest(manifest: Mapping[str, Any]) -> str:
    """Of the manifest as the operator would send it, its own digest annotation left out."""
    metadata = dict(manifest["metadata"])
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != ANNOTATION_DIGEST}
    metadata["annotations"] = annotations
    text = json.dumps({**manifest, "metadata": metadata}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def stamped(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest carrying its digest, as it is applied."""
    metadata = manifest["metadata"]
    annotations = {**(metadata.get("annotations") or {}), ANNOTATION_DIGEST: digest(manifest)}
    return {**manifest, "metadata": {**metadata, "annotations": annotations}}


def pinned(obj: Mapping[str, Any]) -> str | None:
    """The part of an object that cannot be updated in place; a change means delete and create."""
    if "roleRef" in obj:  # immutable: the API server refuses a change
        return str(obj["roleRef"].get("name"))
    labels_ = obj["metadata"].get("labels") or {}
    if labels_.get(LABEL_PURPOSE) == PURPOSE_TOKEN_BINDING:  # tokens stay bound to the old Secret's UID
        return str((obj["metadata"].get("annotations") or {}).get(ANNOTATION_FINGERPRINT))
    return None


def record_of(obj: Mapping[str, Any], kind: str) -> Record:
    """What is worth remembering of an object as listed or as an apply returned it."""
    metadata = obj["metadata"]
    annotations = metadata.get("annotations") or {}
    labels_ = metadata.get("labels") or {}
    purpose = labels_.get(LABEL_PURPOSE)
    token_record = None
    if kind == "Secret" and purpose == PURPOSE_KUBECONFIG:
        token_record = {
            k: annotations[k]
            for k in (ANNOTATION_EXPIRES, ANNOTATION_BOUND_UID, ANNOTATION_CREDENTIAL_ID)
            if k in annotations
        }
    return Record(
        digest=annotations.get(ANNOTATION_DIGEST),
        pinned=pinned(obj),
        purpose=purpose,
        identity=labels_.get(LABEL_IDENTITY),
        uid=metadata.get("uid") if kind == "Secret" else None,  # a bound Secret's UID is in the tokens
        annotations=token_record,
    )


def diff(manifests: Iterable[dict[str, Any]], existing: Mapping[ObjectKey, Record]) -> list[Step]:
    """What to send so that the desired objects exist as written: nothing for one whose digest matches."""
    steps = []
    for manifest in manifests:
        found = existing.get(key_of(manifest))
        if found is None:
            steps.append(Step("create", manifest))
        elif found.pinned != pinned(manifest):
            steps.append(Step("recreate", manifest))
        elif found.digest != digest(manifest):
            steps.append(Step("update", manifest))
    return steps


def stale(existing: Mapping[ObjectKey, Record], wanted: Iterable[ObjectKey]) -> list[ObjectKey]:
    """What exists and is no longer wanted, in deletion order (bound Secrets first)."""
    keep = set(wanted)

    def order(key: ObjectKey) -> tuple[int, bool, str, str]:
        token_binding = existing[key].purpose == PURPOSE_TOKEN_BINDING
        return (KINDS.index(key.kind), not token_binding, key.namespace, key.name)

    return sorted((k for k in existing if k not in keep), key=order)


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None
