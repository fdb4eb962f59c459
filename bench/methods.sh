#!/usr/bin/env bash
# Compares --method basis, filter and double on the bundled Fashion-MNIST model at the default
# budget (1.0 point): trains on the 60,000 training images, decides on test images 0-4999,
# reports on test images 5000-9999 in our engine and, independently, in onnxruntime with a
# numpy preprocessing (Tests/TestSupport/python/ort_accuracy.py). Prints a Markdown table.
#
#   bench/methods.sh [OUTDIR] [METHOD...]       (default: /tmp/onnx-basisprune-methods, all three)
#
# A method whose OUTDIR/METHOD.json and .onnx exist is not run again (delete them to rerun);
# the time column is the sum of the report's phases.
# Takes about 20 minutes on 2 cores. Extra flags for every run: EXTRA="--filter-share 0.3".
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/onnx-basisprune-methods}
shift || true
methods=${*:-basis filter double}
bin=$out/onnx-basisprune  # a copy, so that a rebuild during the runs does not change it
model=fixtures/fmnist-lite0-32.onnx
fmnist=/usr/share/datasets/fashion-mnist
swift build -c release --product onnx-basisprune >/dev/null
mkdir -p "$out"
cp .build/release/onnx-basisprune "$bin"
judge=Tests/TestSupport/python/ort_accuracy.py
rows=()
accuracy() { python3 "$judge" "$1" "$fmnist" t10k 5000 10000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])'; }
input_test=$(accuracy "$model")
for method in $methods; do
    code=0
    if [ -f "$out/$method.json" ] && [ -f "$out/$method.onnx" ]; then
        echo "$method: reusing $out/$method.json (delete it to run again)" >&2
    else
        # shellcheck disable=SC2086
        "$bin" "$model" "$out/$method.onnx" --data idx:$fmnist --val-data idx:$fmnist,split=test,range=0:5000 \
            --test-data idx:$fmnist,split=test,range=5000:10000 --method "$method" --report "$out/$method.json" --quiet ${EXTRA:-} \
            > "$out/$method.txt" || code=$?
    fi
    if [ ! -f "$out/$method.onnx" ]; then rows+=("| $method | exit $code, no output | | | | | |"); continue; fi
    rows+=("$(python3 bench/methods_row.py "$out/$method.json" "$input_test" "$(accuracy "$out/$method.onnx")" "$code")")
done
echo "| method | parameters (Conv/Gemm weights and biases) | MACs fewer | validation % (test 0-4999) | onnxruntime test % (test 5000-9999) | exit | time |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
