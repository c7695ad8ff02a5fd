#!/usr/bin/env bash
# Build the Go tools the checks use into .local/bin, once (idempotent: a binary that
# reports the pinned version is kept; concurrent callers wait on one lock).
#   kustomize v5.7.1  renders k8s/overlays (`make test`, tests/shipit)
#   oasdiff   v1.39.0 compares OpenAPI 3.1 documents (`make contract-check`)
#   asyncapi-specs 6.11.1  the AsyncAPI JSON Schemas (npm @asyncapi/specs, unpacked into
#             .local/share; tests/shipit/test_asyncapi.py validates the streaming document)
# Both come from the Go module proxy with `go install` and build with this machine's Go
# (1.26): kustomize v5.8 needs Go 1.27, and Debian's kubectl 1.20 is too old. The first
# build takes a few minutes on two cores; afterwards this script returns at once.
# Usage: scripts/tools.sh [kustomize|oasdiff|asyncapi-specs ...]   (default: all)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.local/bin"
KUSTOMIZE_VERSION="v5.7.1"
OASDIFF_VERSION="v1.39.0"
ASYNCAPI_SPECS_VERSION="6.11.1"
SHARE="$ROOT/.local/share"

declare -A MODULE=(
  [kustomize]="sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
  [oasdiff]="github.com/oasdiff/oasdiff@${OASDIFF_VERSION}"
)
declare -A VERSION=([kustomize]="${KUSTOMIZE_VERSION#v}" [oasdiff]="${OASDIFF_VERSION#v}")

current() {  # the version a built binary reports, or nothing
  case "$1" in
    kustomize) "$BIN/kustomize" version 2>/dev/null || true ;;
    oasdiff) "$BIN/oasdiff" --version 2>/dev/null || true ;;
  esac
}

ensure() {
  local tool="$1"
  if [[ "$(current "$tool")" == *"${VERSION[$tool]}"* ]]; then
    return 0
  fi
  # The official Go install lives in /usr/local/go; a non-login shell may not have it on PATH.
  [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin"
  if ! command -v go >/dev/null 2>&1; then
    echo "tools.sh: $tool needs Go (>= 1.24) to build; install Go, then rerun" >&2
    return 1
  fi
  echo "tools.sh: building $tool ${VERSION[$tool]} into .local/bin (once; a few minutes)" >&2
  # GOTOOLCHAIN=local: build with this Go even where a module names a newer toolchain.
  (cd "$ROOT" && GOBIN="$BIN" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
    nice go install "${MODULE[$tool]}")
  [[ "$(current "$tool")" == *"${VERSION[$tool]}"* ]] || {
    echo "tools.sh: $tool built but does not report ${VERSION[$tool]}" >&2
    return 1
  }
}

# The AsyncAPI schemas are JSON files in an npm package: `npm pack` fetches the tarball
# from the npm registry (no node_modules, no install scripts run), tar unpacks it.
asyncapi_specs() {
  local dest="$SHARE/asyncapi-specs-$ASYNCAPI_SPECS_VERSION"
  [[ -f "$dest/schemas/3.0.0-without-\$id.json" ]] && return 0
  command -v npm >/dev/null 2>&1 || { echo "tools.sh: asyncapi-specs needs npm" >&2; return 1; }
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "@asyncapi/specs@$ASYNCAPI_SPECS_VERSION" >/dev/null)
  mkdir -p "$dest"
  tar -xzf "$tmp"/asyncapi-specs-*.tgz -C "$dest" --strip-components=1
  rm -rf "$tmp"
}

mkdir -p "$BIN" "$SHARE"
tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(kustomize oasdiff asyncapi-specs)
exec 9>"$BIN/.tools.lock"
flock 9
for tool in "${tools[@]}"; do
  if [[ "$tool" == asyncapi-specs ]]; then
    asyncapi_specs
    continue
  fi
  [[ -n "${MODULE[$tool]:-}" ]] || { echo "tools.sh: unknown tool $tool" >&2; exit 2; }
  ensure "$tool"
done
