#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager, etcd, kubectl) from Go modules into a
# cache folder outside the clone, keyed by component versions, and prints that folder on the last line.
# A second run finds the binaries and builds nothing. KUBEBUILDER_ASSETS (envtest convention) overrides it.
set -euo pipefail

binaries=(kube-apiserver kube-controller-manager etcd kubectl)
module_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/controlplane" && pwd)

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for b in "${binaries[@]}"; do
    [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || { echo "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable $b" >&2; exit 1; }
  done
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version_of() { awk -v m="$1" '$1 == m { print $2 }' "$module_dir/go.mod"; }
k8s_version=$(version_of k8s.io/kubernetes)
etcd_version=$(version_of go.etcd.io/etcd/server/v3)
out="$cache_root/controlplane/k8s-${k8s_version}_etcd-${etcd_version}_$(go env GOOS)-$(go env GOARCH)"

complete() { for b in "${binaries[@]}"; do [[ -x "$1/$b" ]] || return 1; done; }
if complete "$out"; then
  echo "control plane binaries cached in $out" >&2
  echo "$out"
  exit 0
fi

cd "$module_dir"
echo "building kube-apiserver, kube-controller-manager, kubectl ($k8s_version) and etcd ($etcd_version) with $(go version | cut -d' ' -f3)" >&2
echo "cold build: about 10-25 minutes on 2 cores; progress is counted in packages" >&2
go mod download
total=$(go list -deps ./... | wc -l)
major=${k8s_version#v}; minor=${major#*.}; major=${major%%.*}; minor=${minor%%.*}
ldflags="-s -w"
for key in gitVersion=$k8s_version gitMajor=$major gitMinor=$minor gitTreeState=clean; do
  ldflags+=" -X k8s.io/component-base/version.$key"
done

tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
started=$SECONDS
go_build_counted "control plane" "$total" -trimpath -ldflags "$ldflags" -o "$tmp/" "${binaries[@]/#/./}"
complete "$tmp" || { echo "the build did not produce all of: ${binaries[*]}" >&2; exit 1; }
publish "$tmp" "$out"
trap - EXIT
echo "built in $((SECONDS - started)) s: $out" >&2
echo "$out"
