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
# The PCA in pump-anomaly goes through OpenBLAS, which picks its kernels by CPU; their float
# rounding differs (AMD and Intel AVX-512 machines gave other iot scores, ~1e-3). The committed
# models were built with the SkylakeX (AVX-512) kernels: use them wherever the CPU can run them,
# whatever OPENBLAS_CORETYPE the environment sets.
if [ -r /proc/cpuinfo ]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  if [[ " $flags " == *" avx512f "* && " $flags " == *" avx512cd "* && " $flags " == *" avx512bw "* && " $flags " == *" avx512dq "* && " $flags " == *" avx512vl "* ]]; then
    export OPENBLAS_CORETYPE=SkylakeX
  else
    echo "[models] no AVX-512 here: pump-anomaly.onnx and test/fixtures/iot-golden.jsonl may differ slightly from the committed ones" >&2
  fi
fi
exec "$venv/bin/python" models/build.py "$@"
