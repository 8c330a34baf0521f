#!/usr/bin/env bash
# Set up Bach2.0 in ./.venv: a virtual environment with the package, its command
# `bach2` and the test tools. Stages 0–2 need no Debian packages.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --editable '.[test]'
echo "Bach2.0 is set up: .venv/bin/bach2 --help"
