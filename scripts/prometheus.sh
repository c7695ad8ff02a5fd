#!/usr/bin/env bash
# Debian's `prometheus` package (the server and promtool) for the observability checks.
#
#   scripts/prometheus.sh install   install it when promtool or prometheus is missing
#   scripts/prometheus.sh path      print the directory holding promtool and prometheus
#
# Installed with --no-install-recommends (no node exporter); the package's own daemon is
# not used: the tests start their own Prometheus on a free loopback port. See
# docs/observability.md.
set -Eeuo pipefail
trap 'printf "%s: FAILED at line %s: %s\n" "${0##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

have() { command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; }

install() {
    if have; then
        return 0
    fi
    if [[ $EUID -ne 0 ]]; then
        printf 'need root to apt-get install prometheus; install it yourself or run as root\n' >&2
        return 1
    fi
    local apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
    printf 'apt: installing prometheus (promtool + server)\n'
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends \
        prometheus >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends \
            prometheus >/dev/null
    fi
    have
}

case "${1:-install}" in
    install) install ;;
    path) dirname "$(command -v promtool)" ;;
    *) printf 'usage: %s install|path\n' "${0##*/}" >&2; exit 2 ;;
esac
