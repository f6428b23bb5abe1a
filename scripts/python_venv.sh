#!/usr/bin/env bash
# Makes (once) a venv from the Debian interpreter with the Debian packages
# visible (--system-site-packages: numpy, pytest, pyzmq come from apt, there is
# no PyPI), then pip-installs this repository into it: setup.py compiles the C
# core, the extension shoal._shoal and the SWIG module shoal._swig.
#   scripts/python_venv.sh VENV_DIR      (prints nothing else on success)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:?usage: python_venv.sh VENV_DIR}"
"$root/scripts/deps.sh"
py=/usr/bin/python3   # python3 on PATH may be another interpreter without the Debian packages
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv --system-site-packages "$venv"
fi
printf '*\n' > "$venv/.gitignore"   # keep the venv out of git status
SHOAL_WERROR=1 "$venv/bin/pip" install --no-index --no-build-isolation --quiet "$root"
