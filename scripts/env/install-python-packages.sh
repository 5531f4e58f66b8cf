#!/bin/sh
# Installs the project's Python packages into the active environment's venv (the first
# "python" on PATH). Called by scripts/setup; runs inside the environment it fills.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
python -m pip install --quiet -r requirements_test.txt
# Everything else must agree with the versions Home Assistant pins for itself.
constraints=$(python -c "import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).with_name('package_constraints.txt'))")
python scripts/env/ha_requirements.py >/tmp/ioe-ha-requirements.txt
# The add-on's lock, exactly as its image installs it (requirements.txt as well, so that a new
# dependency not yet locked is installed and the lock test names it).
python -m pip install --quiet -c "$constraints" -r addons/ioe-aggregator/requirements.lock \
    -r addons/ioe-aggregator/requirements.txt -r /tmp/ioe-ha-requirements.txt
rm -f /tmp/ioe-ha-requirements.txt
