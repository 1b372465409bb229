"""Which namespaces may open cases under a contract (`spec.caseNamespaces`). Pure: no API calls.

A case from elsewhere is kept but not served: Ready=False with reason NotEntitled, no e-mail, no elevation
and no billing, so a tenant cannot file cases (and vendor access) against another tenant's contract.
"""

from __future__ import annotations

from collections.abc import Mapping

from support_operator.access.plan import selector_matches
from support_operator.api.v1alpha1 import SupportCase, SupportContract, reasons
from support_operator.status.contract import Availability

NOT_ENTITLED = reasons.NOT_ENTITLED


def entitled(contract: SupportContract, namespace: str, namespaces: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether a case in `namespace` may be filed under `contract`; `namespaces` holds the labels."""
    allowed = contract.spec.case_namespaces
    if allowed is None:
        return True
    if allowed.namespaces:
        return namespace in allowed.namespaces
    assert allowed.namespace_selector is not None
    labels = namespaces.get(namespace)
    return labels is not None and selector_matches(allowed.namespace_selector, labels)


def not_entitled_message(contract: SupportContract, namespace: str) -> str:
    return (
        f"namespace {namespace} may not open cases under SupportContract {contract.metadata.name} "
        "(spec.caseNamespaces): no e-mail, no elevation, no billing"
    )


def entitled_cases(
    contract: SupportContract, cases: list[SupportCase], namespaces: Mapping[str, Mapping[str, str]]
) -> list[SupportCase]:
    return [c for c in cases if entitled(contract, c.metadata.namespace or "", namespaces)]


def case_availability(
    contract: SupportContract | None,
    usable: Availability | None,
    namespace: str,
    namespaces: Mapping[str, Mapping[str, str]],
) -> Availability | None:
    """The contract's availability for a case in `namespace`: NotEntitled when the contract does not serve
    that namespace."""
    if contract is None or usable is None or not usable.usable or entitled(contract, namespace, namespaces):
        return usable
    return Availability(False, NOT_ENTITLED, not_entitled_message(contract, namespace))
