#!/usr/bin/env bash
# System packages some tests use on 127.0.0.1 or headless: PostgreSQL (DuckLake catalog tests) and
# Chromium (report rendering test). Installed with apt when missing and running as root; otherwise
# those tests skip with a reason. Idempotent: does nothing when both are present.
set -uo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${missing[*]} not installed (needs root + apt); the tests that use them will be skipped"
  exit 0
fi
echo "installing system packages: ${missing[*]}"
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
  || echo "warning: could not install ${missing[*]}; the tests that use them will be skipped"
exit 0
