"""What a provisioning pass did, as data: the planners (status/access.py) read it without the client."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from support_operator.api.v1alpha1 import IdentityStatus
from support_operator.api.v1alpha1.contract import TokenRecord


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
