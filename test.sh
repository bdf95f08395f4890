#!/usr/bin/env bash
# Quick start: set up .venv with the test tools and run the whole test suite. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh test
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
exec .venv/bin/python -m pytest "$@"
