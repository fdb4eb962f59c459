#!/usr/bin/env bash
# Compares --method basis, filter and double on the bundled Fashion-MNIST model at the default
# budget (1.0 point): trains on the 60,000 training images, decides on test images 0-4999,
# reports on test images 5000-9999 in our engine and, independently, in onnxruntime with a
# numpy preprocessing (Tests/TestSupport/python/ort_accuracy.py). Prints a Markdown table.
#
#   bench/methods.sh [OUTDIR] [METHOD...]       (default: /tmp/onnx-basisprune-methods, all three)
#
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
input_test=$(python3 "$judge" "$model" "$fmnist" t10k 5000 10000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')
rows=()
for method in $methods; do
    start=$(date +%s)
    set +e
    # shellcheck disable=SC2086
    "$bin" "$model" "$out/$method.onnx" --data idx:$fmnist --val-data idx:$fmnist,split=test,range=0:5000 \
        --test-data idx:$fmnist,split=test,range=5000:10000 --method "$method" --report "$out/$method.json" --quiet ${EXTRA:-} \
        > "$out/$method.txt"
    code=$?
    set -e
    seconds=$(( $(date +%s) - start ))
    if [ ! -f "$out/$method.onnx" ]; then rows+=("| $method | exit $code, no output | | | | | ${seconds} s |"); continue; fi
    output_test=$(python3 "$judge" "$out/$method.onnx" "$fmnist" t10k 5000 10000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')
    rows+=("$(python3 - "$out/$method.json" "$input_test" "$output_test" "$seconds" "$code" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
before, after = r["parameters_before"], r["parameters_after"]
macs = 100 * (1 - r["macs_after"] / r["macs_before"])
vi, vo = 100 * r["input_accuracy"]["validation"], 100 * r["output_accuracy"]["validation"]
ti, to = 100 * float(sys.argv[2]), 100 * float(sys.argv[3])
print(f"| {r['method']} | {before:,} -> {after:,} ({100 * (1 - after / before):.1f} % fewer) | {macs:.1f} % | "
      f"{vi:.2f} -> {vo:.2f} | {ti:.2f} -> {to:.2f} ({to - ti:+.2f}) | exit {sys.argv[5]} | {sys.argv[4]} s |")
PY
)")
done
echo "| method | parameters (Conv/Gemm weights and biases) | MACs fewer | validation % (test 0-4999) | onnxruntime test % (test 5000-9999) | exit | time |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
