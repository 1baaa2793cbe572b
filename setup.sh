#!/usr/bin/env bash
# Sets up ac-eval in ./.venv (idempotent: a second run only checks).
# torch: an already-installed torch (CPU or CUDA build) is kept. Otherwise torch==2.13.0 is installed:
# on our CPU machines pip takes the local CPU wheel; on a GPU machine PyPI serves the CUDA build.
# Set AC_EVAL_TORCH (e.g. "torch==2.13.0 --index-url ...") to choose another build.
set -euo pipefail
cd "$(dirname "$0")"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
if ! python -c "import torch" 2>/dev/null; then
  # shellcheck disable=SC2086
  pip install -q ${AC_EVAL_TORCH:-torch==2.13.0} 2> >(grep -v "^WARNING: Location" >&2)
fi
pip install -q -e ".[test]" 2> >(grep -v "^WARNING: Location" >&2)
echo "ac-eval $(python -m ac_eval --version) is set up in .venv"
