# Shared by the hack/build-*.sh scripts (sourced, not run): the Go settings every build uses, the cache root
# outside the clone, a `go build` that reports its progress in packages, and the atomic move into the cache.

command -v go >/dev/null || { echo "Go is required to build the test tools (https://go.dev/doc/install)" >&2; exit 1; }
# Never let the go command fetch another toolchain: the machine's Go must satisfy each go.mod.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
cache_root=${SUPPORT_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/support-operator}

# go_build_counted NAME TOTAL GO_BUILD_ARGS...: `go build -v` with the compiler's messages passed through and
# a line every 100 of TOTAL packages compiled (cached packages are not counted: a warm build prints little).
go_build_counted() {
  local name=$1 total=$2
  shift 2
  if ! go build -v "$@" 2>&1 |
    awk -v total="$total" -v start="$(date +%s)" '
      /^[A-Za-z0-9._\/~+-]+$/ { n++; if (n % 100 == 0) printf("  %d/%d packages compiled, %d s\n", n, total, systime() - start) > "/dev/stderr"; next }
      { print > "/dev/stderr" }'
  then
    echo "$name build failed (see the compiler output above)" >&2
    return 1
  fi
}

# publish TMP OUT: TMP becomes OUT in one rename, so an interrupted build never leaves a half-filled folder.
publish() {
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  mv "$1" "$2"
}
