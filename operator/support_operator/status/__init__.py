"""Pure planners: a resource's spec, what the operator observed and the clock in, the desired status out.

No API calls and no Kubernetes client here (import-linter checks it): controllers do the I/O, and the CLI
and the metrics collector read the same answers from these functions instead of computing their own.
"""
