#!/usr/bin/env bash
# Creates .venv and installs the project into it (with the test extras when asked), only when
# pyproject.toml changed since the last install, so repeated runs start fast.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python 3.11 or newer is needed (found: $("$python" --version 2>&1))." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras:+-$extras}"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    if [ -n "$extras" ]; then
        .venv/bin/python -m pip install --quiet -e ".[$extras]"
    else
        .venv/bin/python -m pip install --quiet -e .
    fi
    touch "$stamp"
fi
