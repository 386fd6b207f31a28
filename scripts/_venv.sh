# Sourced by run.sh and test.sh: make .venv and install the given requirements file into it
# (skipped when the requirements have not changed since the last install).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
req="$1"
stamp=".venv/.installed-$(basename "$req")"
sum=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$req"
  echo "$sum" > "$stamp"
fi
