"""support-operator: 3rd-level support contracts for Kubernetes platforms, as an operator."""
