#!/usr/bin/env bash
# Builds Alertmanager from its Go module (hack/alertmanager/go.mod) into a cache folder outside the clone,
# keyed by version, and prints that folder on the last line. A second run finds the binary and builds nothing.
# ALERTMANAGER_ASSETS (a folder holding an alertmanager executable) overrides it.
#
# The alert-intake tests use only its API (POST /api/v2/alerts) and its webhook notifier. The module embeds
# the web UI from ui/app/dist, which its release process builds with npm and the module zip lacks: the build
# uses a copy of the module source with a one-page placeholder there (a `replace` in a copy of go.mod), so
# neither Node nor the module cache is touched.
set -euo pipefail

binary=alertmanager
module_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/alertmanager" && pwd)

if [[ -n "${ALERTMANAGER_ASSETS:-}" ]]; then
  [[ -x "$ALERTMANAGER_ASSETS/$binary" ]] || { echo "ALERTMANAGER_ASSETS=$ALERTMANAGER_ASSETS has no executable $binary" >&2; exit 1; }
  echo "$ALERTMANAGER_ASSETS"
  exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

module=github.com/prometheus/alertmanager
version=$(awk -v m="$module" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$module_dir/go.mod")
[[ -n "$version" ]] || { echo "hack/alertmanager/go.mod does not require $module" >&2; exit 1; }
out="$cache_root/alertmanager/${version#v}/alertmanager_$(go env GOOS)-$(go env GOARCH)"

if [[ -x "$out/$binary" ]]; then
  echo "alertmanager cached in $out" >&2
  echo "$out"
  exit 0
fi

tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/build"
cd "$module_dir"
go mod download "$module"
source_dir=$(go list -m -f '{{.Dir}}' "$module")
cp -r "$source_dir" "$tmp/source"
chmod -R u+w "$tmp/source"
for ui in elm mantine; do
  mkdir -p "$tmp/source/ui/app/dist/$ui"
  echo '<!doctype html><title>Alertmanager</title><p>Built for tests without the web UI: use the API.' \
    >"$tmp/source/ui/app/dist/$ui/index.html"
done
cp go.mod go.sum "$tmp/build/"
cd "$tmp/build"
go mod edit -replace "$module=$tmp/source"
package="$module/cmd/alertmanager"
echo "building alertmanager $version with $(go version | cut -d' ' -f3); progress is counted in packages" >&2
total=$(go list -deps "$package" | wc -l)
ldflags="-s -w"
for key in Version=${version#v} Revision=$version Branch=module BuildUser=support-operator \
  BuildDate=$(date -u +%Y%m%d-%H:%M:%S); do
  ldflags+=" -X github.com/prometheus/common/version.$key"
done

started=$SECONDS
go_build_counted alertmanager "$total" -trimpath -ldflags "$ldflags" -o "$tmp/bin/$binary" "$package"
[[ -x "$tmp/bin/$binary" ]] || { echo "the build did not produce $binary" >&2; exit 1; }
"$tmp/bin/$binary" --version >/dev/null 2>&1 || { echo "the built alertmanager does not run" >&2; exit 1; }
publish "$tmp/bin" "$out"
rm -rf "$tmp"
trap - EXIT
echo "built in $((SECONDS - started)) s: $out" >&2
echo "$out"
