"""Protected namespaces: where the support team never gets a binding, whatever a scope or a case says.

The operator's own namespace holds every member's kubeconfig Secret and the operator's ServiceAccount; `edit`
there would let a member read the others' tokens, mint tokens for the operator or change its Deployment.
The platform's own namespaces (kube-*, openshift-*, cattle-*) run the control plane and the distribution.
Pure: no API calls.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_PROTECTED_NAMESPACES = ("kube-*", "openshift-*", "cattle-*")


@dataclass(frozen=True)
class ProtectedNamespaces:
    """The operator's namespace plus shell-style patterns (`kube-*`) of namespaces never bound."""

    operator_namespace: str
    patterns: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES

    def reason(self, namespace: str) -> str | None:
        """Why `namespace` is protected, or None when it is not."""
        if namespace == self.operator_namespace:
            return "the operator's own namespace (kubeconfig Secrets, the operator's ServiceAccount)"
        for pattern in self.patterns:
            if fnmatch.fnmatchcase(namespace, pattern):
                return f"protected by the operator's list ({pattern})"
        return None

    def split(self, namespaces: Iterable[str]) -> tuple[list[str], dict[str, str]]:
        """(namespaces that may be bound, protected ones with the reason), both sorted."""
        allowed, skipped = [], {}
        for namespace in sorted(set(namespaces)):
            why = self.reason(namespace)
            if why is None:
                allowed.append(namespace)
            else:
                skipped[namespace] = why
        return allowed, skipped
