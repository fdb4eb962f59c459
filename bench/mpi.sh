#!/usr/bin/env bash
# Scaling over MPI ranks: wall time of the full default run on fmnist-lite0-32 (60k training
# images, validation on test 0-4999, test 5000-9999) with N = 1 and 2 ranks of 1 compute
# thread each on this machine, in one run, and what rank 0 sent (the report's "exchanges" and
# "bytes_sent"). Both outputs must be byte-identical.
#
#   bench/mpi.sh [OUTDIR]        (default /tmp/onnx-basisprune-mpi; about 7 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/onnx-basisprune-mpi}
mkdir -p "$out"
bin=.build/release/onnx-basisprune
data=idx:/usr/share/datasets/fashion-mnist
declare -A seconds
for n in 1 2; do
    start=$(date +%s.%N)
    mpirun --allow-run-as-root --oversubscribe -q -n "$n" "$bin" fixtures/fmnist-lite0-32.onnx "$out/n$n.onnx" --data "$data" \
        --val-data "$data,split=test,range=0:5000" --test-data "$data,split=test,range=5000:10000" \
        --threads 1 --quiet --report "$out/n$n.json" > "$out/n$n.txt"
    seconds[$n]=$(echo "$(date +%s.%N) - $start" | bc)
done
cmp -s "$out/n1.onnx" "$out/n2.onnx" && same=yes || same=NO
python3 - "$out" "${seconds[1]}" "${seconds[2]}" "$same" <<'PY'
import json, sys
out, t1, t2, same = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
r1, r2 = (json.load(open(f"{out}/n{n}.json")) for n in (1, 2))
print("| ranks x threads | wall time | ratio | exchanges (rank 0) | bytes sent (rank 0) | per training step | params fewer |")
print("|---|---|---|---|---|---|---|")
for n, t, r in ((1, t1, r1), (2, t2, r2)):
    fewer = 100 * (1 - r["parameters_after"] / r["parameters_before"])
    print(f"| {n} x 1 | {t:.0f} s | {t / t1:.2f}x | {r.get('exchanges', 0)} | {r.get('bytes_sent', 0):,} | {r.get('bytes_per_training_step', 0):,} | {fewer:.1f} % |")
print(f"outputs byte-identical: {same}")
PY
