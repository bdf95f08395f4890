#!/usr/bin/env bash
# Quick start: set up .venv and start the bot. With no chat token configured this is the console
# demo against the built-in panel simulator. Arguments go to `python -m bot`.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh
exec .venv/bin/python -m bot "$@"
