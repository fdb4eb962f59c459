#!/usr/bin/env bash
# Deployment benchmark: onnxruntime latency of the bundled model, of the same model after
# onnxslim (PyPI; installed here, a bench-only dependency), and of the output of each --method
# of the full run (bench/methods.sh, whose outputs in OUTDIR are reused), side by side in one
# run: 1 and 2 threads, batch 1 and 32, interleaved rounds, medians (bench/deploy.py).
#
#   bench/deploy.sh [OUTDIR] [METHOD...]     (default: /tmp/onnx-basisprune-methods, all three)
#
# The pruning runs take about 20 minutes on 2 cores when OUTDIR has none yet; the timing
# itself a few minutes. Extra flags for the pruning runs: EXTRA="--objective params".
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/onnx-basisprune-methods}
shift || true
methods=${*:-basis filter double}
python3 -c 'import onnxslim' 2>/dev/null || python3 -m pip install -q onnxslim
# shellcheck disable=SC2086
bench/methods.sh "$out" $methods
models=(input=fixtures/fmnist-lite0-32.onnx input-onnxslim=slim:fixtures/fmnist-lite0-32.onnx)
for method in $methods; do
    [ -f "$out/$method.onnx" ] && models+=("$method=$out/$method.onnx")
done
python3 bench/deploy.py --json "$out/deploy.json" "${models[@]}" 2>/dev/null
