#!/usr/bin/env bash
# Rebuilds the ONNX models, their cards and the golden fixtures (see models/build.py).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/models-venv
if [ ! -x "$venv/bin/python" ] || ! cmp -s models/requirements.txt "$venv/requirements.txt"; then
  echo "[models] creating $venv from models/requirements.txt (PyPI)…"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r models/requirements.txt
  cp models/requirements.txt "$venv/requirements.txt"
fi
# skl2onnx collects opset domains in a set: a fixed hash seed keeps their order, and the bytes, stable.
export PYTHONHASHSEED=0
exec "$venv/bin/python" models/build.py "$@"
