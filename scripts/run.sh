#!/usr/bin/env bash
# Install everything the app needs (into .venv) and start it on the sample data.
# It listens on 127.0.0.1 (this machine only) unless you pass --server.address: for a team server,
# configure sign-in first (README, "Running it for a team"), then e.g. --server.address 0.0.0.0.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" requirements.txt
address=(--server.address 127.0.0.1)
for arg in "$@"; do
    case "$arg" in --server.address|--server.address=*) address=() ;; esac
done
exec .venv/bin/python -m streamlit run app.py "${address[@]}" "$@"
