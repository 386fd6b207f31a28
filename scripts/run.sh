#!/usr/bin/env bash
# Install everything the app needs (into .venv) and start it on the sample data.
set -euo pipefail
source "$(dirname "$0")/_venv.sh" requirements.txt
exec .venv/bin/python -m streamlit run app.py "$@"
