"""The names the operator shares with the cluster: API group, labels, annotations, field manager, namespace.

One module, imported by every layer (it imports nothing), so that `grep` finds each name where it is
defined and a label is never spelled twice.
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "support.puzzle.ch"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

OPERATOR_NAME: Final = "support-operator"
DEFAULT_NAMESPACE: Final = OPERATOR_NAME  # identities, bound Secrets, kubeconfigs, the Lease
FIELD_MANAGER: Final = OPERATOR_NAME  # server-side apply and status patches
EVENT_COMPONENT: Final = OPERATOR_NAME  # Events' source.component
LEASE_NAME: Final = OPERATOR_NAME

# Labels and annotations the operator sets on what it creates (and reads back).
LABEL_CONTRACT: Final = f"{GROUP}/contract"
LABEL_IDENTITY: Final = f"{GROUP}/identity"
LABEL_PURPOSE: Final = f"{GROUP}/purpose"
LABEL_MONTH: Final = f"{GROUP}/month"
LABEL_CASE: Final = f"{GROUP}/case"
LABEL_SNAPSHOT: Final = f"{GROUP}/snapshot"
LABEL_REPORTED_VIA: Final = f"{GROUP}/reported-via"
LABEL_ALERT_GROUP: Final = f"{GROUP}/alert-group"  # hash of contract and alert group key
LABEL_INTAKE: Final = f"{GROUP}/intake"
ANNOTATION_EXPIRES: Final = f"{GROUP}/expires-at"
ANNOTATION_CASE: Final = f"{GROUP}/case"
ANNOTATION_MESSAGE_ID: Final = f"{GROUP}/message-id"
ANNOTATION_INTAKE_SENDER: Final = f"{GROUP}/intake-sender"
ANNOTATION_ALERT_GROUP_KEY: Final = f"{GROUP}/alert-group-key"
KUBECONFIG_EXTENSION: Final = GROUP  # the kubeconfig extension that names the contract
