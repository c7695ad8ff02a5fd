#!/usr/bin/env bash
# Install the load tool the throughput benchmark drives servers with: wrk, from Debian.
# Idempotent: does nothing when wrk is already on PATH. Needs root (or sudo) for apt-get.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "bench: installing wrk from Debian (apt-get)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
command -v wrk >/dev/null
