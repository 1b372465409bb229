#!/usr/bin/env bash
# Builds the Prometheus server and promtool from the Prometheus Go module (hack/prometheus/go.mod) into a cache
# folder outside the clone, keyed by version, and prints that folder on the last line. A second run finds the
# binaries and builds nothing. PROMETHEUS_ASSETS (a folder holding prometheus and promtool) overrides it.
#
# Built without the web UI assets (the API is all the tests use) and with the build tag remove_all_sd, which
# keeps only the static, file and HTTP service discovery: the cloud discoveries would double the build time.
set -euo pipefail

binaries=(prometheus promtool)
module_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/prometheus" && pwd)
tags=remove_all_sd

if [[ -n "${PROMETHEUS_ASSETS:-}" ]]; then
  for b in "${binaries[@]}"; do
    [[ -x "$PROMETHEUS_ASSETS/$b" ]] || { echo "PROMETHEUS_ASSETS=$PROMETHEUS_ASSETS has no executable $b" >&2; exit 1; }
  done
  echo "$PROMETHEUS_ASSETS"
  exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

module=github.com/prometheus/prometheus
module_version=$(awk -v m="$module" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$module_dir/go.mod")
[[ -n "$module_version" ]] || { echo "hack/prometheus/go.mod does not require $module" >&2; exit 1; }
# The Go module v0.MMNN.P is Prometheus M.NN.P (v0.316.0 is 3.16.0).
minor_part=${module_version#v0.}
series=${minor_part%%.*}
version="$((10#$series / 100)).$((10#$series % 100)).${minor_part#*.}"
out="$cache_root/prometheus/prometheus-${version}_${tags}_$(go env GOOS)-$(go env GOARCH)"

complete() { for b in "${binaries[@]}"; do [[ -x "$1/$b" ]] || return 1; done; }
if complete "$out"; then
  echo "prometheus binaries cached in $out" >&2
  echo "$out"
  exit 0
fi

cd "$module_dir"
packages=("$module/cmd/prometheus" "$module/cmd/promtool")
echo "building prometheus and promtool $version (module $module_version) with $(go version | cut -d' ' -f3)" >&2
echo "cold build: about 4-6 minutes on 2 cores; progress is counted in packages" >&2
# No `go mod download`: the module graph holds every cloud SDK; listing the packages fetches only theirs.
total=$(go list -tags "$tags" -deps "${packages[@]}" | wc -l)
ldflags="-s -w"
for key in Version=$version Revision=$module_version Branch=module BuildUser=support-operator \
  BuildDate=$(date -u +%Y%m%d-%H:%M:%S); do
  ldflags+=" -X github.com/prometheus/common/version.$key"
done

tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
started=$SECONDS
go_build_counted prometheus "$total" -trimpath -tags "$tags" -ldflags "$ldflags" -o "$tmp/" "${packages[@]}"
complete "$tmp" || { echo "the build did not produce all of: ${binaries[*]}" >&2; exit 1; }
"$tmp/promtool" --version >/dev/null || { echo "the built promtool does not run" >&2; exit 1; }
publish "$tmp" "$out"
trap - EXIT
echo "built in $((SECONDS - started)) s: $out" >&2
echo "$out"
