"""Deployment benchmark: onnxruntime latency of models side by side, in one run.

usage: python3 bench/deploy.py [--rounds R] [--json FILE] LABEL=MODEL.onnx ...
       LABEL=slim:MODEL.onnx runs onnxslim (PyPI, a bench-only dependency) on MODEL first.

For each model and each setting (1 and 2 intra-op threads, batch 1 and 32) it makes one
onnxruntime CPU session (default graph optimisations, as a user deploys) and times runs on the
same seeded random input. Models are timed in interleaved rounds (every model once per round, in
rotating order) so that drift of this shared machine hits them alike; a round's time for a model
is the median of several back-to-back runs; the figure is the median over rounds. Prints a table
with each model's latency and its ratio to the first model.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

ort.set_default_logger_severity(3)


def slim(path):
    import contextlib
    try:
        import onnxslim
    except ImportError:
        sys.exit(f"bench/deploy.py: {path}: 'slim:' needs onnxslim, a bench-only dependency: "
                 "python3 -m pip install onnxslim (bench/deploy.sh installs it)")
    out = os.path.join(tempfile.mkdtemp(prefix="deploy-slim-"), os.path.basename(path))
    with contextlib.redirect_stdout(sys.stderr):  # onnxslim prints a summary table
        onnxslim.slim(path, output_model=out)
    return out


def describe(path):
    model = onnx.load(path)
    params = 0
    inits = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            for name in node.input[1:]:
                if name in inits:
                    params += int(np.prod(inits[name].dims))
    return len(model.graph.node), params


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=5, help="back-to-back runs per model per round (median)")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--json")
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    models = []
    for spec in args.models:
        label, path = spec.split("=", 1)
        if path.startswith("slim:"):
            path = slim(path[5:])
        models.append((label, path))
    batches = [int(b) for b in args.batches.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    results = {label: {"nodes": describe(path)[0], "params": describe(path)[1], "latency_ms": {}} for label, path in models}
    for t in threads:
        for b in batches:
            sessions = []
            for label, path in models:
                options = ort.SessionOptions()
                options.intra_op_num_threads = t
                options.inter_op_num_threads = 1
                session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                inp = session.get_inputs()[0]
                shape = [b] + [d if isinstance(d, int) else 1 for d in inp.shape[1:]]
                x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
                for _ in range(3):
                    session.run(None, {inp.name: x})
                sessions.append((label, session, {inp.name: x}))
            times = {label: [] for label, _ in models}
            for r in range(args.rounds):
                order = sessions[r % len(sessions):] + sessions[:r % len(sessions)]
                for label, session, feed in order:
                    runs = []
                    for _ in range(args.runs):
                        start = time.perf_counter()
                        session.run(None, feed)
                        runs.append(time.perf_counter() - start)
                    times[label].append(statistics.median(runs))
            for label in times:
                results[label]["latency_ms"][f"t{t}_b{b}"] = 1000 * statistics.median(times[label])
    keys = [f"t{t}_b{b}" for t in threads for b in batches]
    first = models[0][0]
    header = ["model", "nodes", "Conv/Gemm params"] + [f"{k.replace('_', ' ')} ms (ratio)" for k in keys]
    rows = []
    for label, _ in models:
        r = results[label]
        rows.append([label, str(r["nodes"]), f"{r['params']:,}"] + [
            f"{r['latency_ms'][k]:.3f} ({r['latency_ms'][k] / results[first]['latency_ms'][k]:.2f}x)" for k in keys])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"(onnxruntime {ort.__version__}, CPU; ratios to '{first}'; medians of {args.rounds} interleaved rounds)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
