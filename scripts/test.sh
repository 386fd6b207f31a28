#!/usr/bin/env bash
# Install the app, the test tools, Chromium and PostgreSQL (Debian packages) when missing,
# then run the whole test suite in two processes (TEST_WORKERS=0: one). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" requirements-dev.txt
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${need[*]} (Debian packages) for the browser and PostgreSQL tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Note: ${need[*]} missing and cannot be installed here; those tests will say they were skipped." >&2
  fi
fi
mkdir -p test-artifacts
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist worksteal "$@"
