#!/usr/bin/env bash
# Builds the Python base image for the image test (tests/integration/test_image.py) without a registry or a
# Docker engine: debootstrap of a minimal Debian with its Python, committed by buildah (vfs storage) and saved
# as an OCI archive in a cache folder outside the clone, keyed by suite and Python version. Prints that folder
# on the last stdout line (progress goes to stderr); a second run finds the archive and builds nothing.
#
# The Dockerfile's default base is python:3.11-slim-trixie; Debian's own Python 3.11 is bookworm's (trixie
# ships 3.13), and 3.11 is the version constraints.txt was resolved and the suite runs with. The image has
# what the build stage needs of python:3.11-slim: `python` (python-is-python3), venv with ensurepip, and
# ca-certificates. Needs root, debootstrap and buildah (Debian packages).
set -euo pipefail

suite=${BASE_IMAGE_SUITE:-bookworm}
python=${BASE_IMAGE_PYTHON:-3.11}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache_root=${SUPPORT_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/support-operator}
out="$cache_root/image/$suite-$python"
archive="$out/python-base.oci.tar"

if [[ -s "$archive" ]]; then
  echo "base image cached in $archive" >&2
  echo "$out"
  exit 0
fi
for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install $tool)" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "debootstrap needs root" >&2; exit 1; }

started=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/support-operator-base.XXXXXX")
storage=(--root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs)
container=""
cleanup() {
  [[ -z $container ]] || buildah "${storage[@]}" rm "$container" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "debootstrap $suite (python$python) from $mirror; log in $tmp/debootstrap.log while it runs" >&2
if ! debootstrap --variant=minbase \
  --include="python$python,python3-venv,python3-distutils,python-is-python3,ca-certificates" \
  "$suite" "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
  tail -20 "$tmp/debootstrap.log" >&2
  [[ ! -f $tmp/rootfs/debootstrap/debootstrap.log ]] || tail -20 "$tmp/rootfs/debootstrap/debootstrap.log" >&2
  echo "debootstrap failed" >&2
  exit 1
fi
"$tmp/rootfs/usr/bin/python$python" --version >&2 2>&1 || { echo "no python$python in the rootfs" >&2; exit 1; }
# As the slim images: no package lists, caches, documentation or translations.
rm -rf "$tmp"/rootfs/var/cache/apt/* "$tmp"/rootfs/var/lib/apt/lists/* "$tmp"/rootfs/usr/share/doc/* \
  "$tmp"/rootfs/usr/share/man/* "$tmp"/rootfs/usr/share/info/* "$tmp"/rootfs/usr/share/locale/* \
  "$tmp"/rootfs/var/log/*.log
tar -C "$tmp/rootfs" --numeric-owner -cf "$tmp/rootfs.tar" .
rm -rf "$tmp/rootfs"

container=$(buildah "${storage[@]}" from scratch)
buildah "${storage[@]}" add "$container" "$tmp/rootfs.tar" / >/dev/null
buildah "${storage[@]}" config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
  --cmd python3 --label "org.opencontainers.image.description=debian $suite minbase, python$python" \
  "$container"
buildah "${storage[@]}" commit --quiet --rm "$container" "localhost/python-base:$suite-$python" >/dev/null
container=""
mkdir -p "$tmp/out"
buildah "${storage[@]}" push --quiet "localhost/python-base:$suite-$python" \
  "oci-archive:$tmp/out/python-base.oci.tar:localhost/python-base:$suite-$python" >&2
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tmp/out" "$out"
echo "built the base image in $((SECONDS - started)) s: $archive" >&2
echo "$out"
