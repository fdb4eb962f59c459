"""Runs two models in onnxruntime on the same seeded random input and compares every output.

usage: ort_compare.py A.onnx B.onnx SHAPE(e.g. 8x3x32x32) [SEED]
prints {"max_abs": ..., "max_rel": ..., "shapes": [[...], ...], "checker_b": "ok" or first error line}
where max_rel is the largest |a - b| divided by the largest |a| of that output.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

ort.set_default_logger_severity(4)
a_path, b_path, shape = sys.argv[1:4]
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
x = np.random.default_rng(seed).standard_normal([int(d) for d in shape.split("x")]).astype(np.float32)


def run(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


try:
    onnx.checker.check_model(b_path, full_check=True)
    checker = "ok"
except Exception as e:
    checker = (str(e).strip().splitlines() or [type(e).__name__])[0]
a, b = run(a_path), run(b_path)
max_abs, max_rel = 0.0, 0.0
for u, v in zip(a, b):
    d = float(np.max(np.abs(u.astype(np.float64) - v.astype(np.float64)))) if u.size else 0.0
    scale = float(np.max(np.abs(u))) if u.size else 1.0
    max_abs = max(max_abs, d)
    max_rel = max(max_rel, d / scale if scale > 0 else d)
json.dump({"max_abs": max_abs, "max_rel": max_rel, "shapes": [list(v.shape) for v in b], "checker_b": checker,
           "outputs": [len(a), len(b)]}, sys.stdout)
