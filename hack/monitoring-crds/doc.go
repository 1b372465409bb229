// Package monitoringcrds pins the prometheus-operator API types from which controller-gen generates the
// ServiceMonitor and PrometheusRule CRDs the deploy tests install (hack/build-tools.sh monitoring-crds).
package monitoringcrds

import _ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
