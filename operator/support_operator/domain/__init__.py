"""Pure domain core: calendar, SLA, queue, ledger, staffing. No Kubernetes imports here."""
