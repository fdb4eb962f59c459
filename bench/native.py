"""The main job at native resolution (issue 36): the 224x224 transfer model
fixtures/fmnist-lite0-224.onnx on Fashion-MNIST, run under /usr/bin/time, then a Markdown table
of each phase's time and peak resident memory (from the JSON report), the job's peak as
/usr/bin/time -f %M and the report state it, the memory limit and micro-batch the job planned
for, and the result (parameters, certification).

usage: python3 bench/native.py [--train N] [--val M] [--out DIR] [-- EXTRA FLAGS...]
    (defaults: 1000 training images, 1000 validation images of which half certify)
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release/onnx-basisprune")
DATA = "idx:/usr/share/datasets/fashion-mnist"

parser = argparse.ArgumentParser()
parser.add_argument("--train", type=int, default=1000)
parser.add_argument("--val", type=int, default=1000)
parser.add_argument("--out", default="/tmp/onnx-basisprune-native")
parser.add_argument("extra", nargs="*")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
output, report = os.path.join(args.out, "out.onnx"), os.path.join(args.out, "report.json")
command = [BIN, os.path.join(ROOT, "fixtures/fmnist-lite0-224.onnx"), output, "--data", f"{DATA},range=0:{args.train}",
           "--val-data", f"{DATA},split=test,range=0:{args.val}", "--report", report, "--quiet"] + args.extra
start = time.time()
run = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, capture_output=True, text=True)
wall = time.time() - start
if run.returncode not in (0, 3):
    sys.exit(f"exit {run.returncode}: {run.stderr[-2000:]}")
time_peak = int(run.stderr.strip().splitlines()[-1]) * 1024
r = json.load(open(report))
gib = lambda b: f"{b / 2**30:.2f}" if b is not None else "-"
print(f"`{' '.join(command[1:])}`: exit {run.returncode}, {wall:.0f} s wall\n")
print("| phase | seconds | peak resident (GiB) |\n|---|---|---|")
for p in r["phases"]:
    print(f"| {p['name']} | {p['seconds']:.1f} | {gib(p.get('peak_resident_bytes'))} |")
print(f"| **job** | {sum(p['seconds'] for p in r['phases']):.1f} | {gib(r.get('peak_resident_bytes'))} (report), {gib(time_peak)} (/usr/bin/time -f %M) |\n")
c = r.get("certification") or {}
fewer = 100 * (1 - r["parameters_after"] / r["parameters_before"])
print(f"memory limit {gib(r.get('memory_limit'))} GiB, micro-batch {r.get('micro_batch')}; "
      f"parameters {r['parameters_before']:,} -> {r['parameters_after']:,} ({fewer:.1f} % fewer); "
      f"certified {c.get('certified')}, bound {c.get('drop_upper_bound')} pt on {c.get('images')} images")
