"""One Markdown row of bench/methods.sh from a prune report and onnxruntime test accuracies.

usage: methods_row.py REPORT.json INPUT_TEST OUTPUT_TEST EXIT_CODE
"""
import json
import sys

r = json.load(open(sys.argv[1]))
before, after = r["parameters_before"], r["parameters_after"]
macs = 100 * (1 - r["macs_after"] / r["macs_before"])
vi, vo = 100 * r["input_accuracy"]["validation"], 100 * r["output_accuracy"]["validation"]
ti, to = 100 * float(sys.argv[2]), 100 * float(sys.argv[3])
seconds = sum(p["seconds"] for p in r["phases"])
print(f"| {r['method']} | {before:,} -> {after:,} ({100 * (1 - after / before):.1f} % fewer) | {macs:.1f} % | "
      f"{vi:.2f} -> {vo:.2f} | {ti:.2f} -> {to:.2f} ({to - ti:+.2f}) | exit {sys.argv[4]} | {seconds:.0f} s |")
