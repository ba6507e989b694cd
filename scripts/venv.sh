#!/usr/bin/env bash
# Create the virtualenv <venv> with <python> unless one with pip is already there.
# Debian ships `venv` separately (python3-venv): as root, install it when it is missing.
#
#   scripts/venv.sh <python> <venv>

set -euo pipefail

python=${1:-python3}
venv=${2:-.venv}

if [[ -x $venv/bin/python ]] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    exit 0
fi

# A failed `python3 -m venv` leaves a venv without pip behind; start over.
rm -rf "$venv"
if "$python" -m venv "$venv"; then
    exit 0
fi
rm -rf "$venv"
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "venv.sh: '$python -m venv' failed; install the venv module (Debian: python3-venv)" >&2
    exit 1
fi
echo "venv.sh: installing python3-venv with apt-get" >&2
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
"$python" -m venv "$venv"
