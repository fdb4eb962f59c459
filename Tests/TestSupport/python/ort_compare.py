"""Runs two models in onnxruntime on the same seeded random input (uniform -2..2, shape SHAPE,
default 4x3x32x32) and compares their first outputs; also runs the onnx checker (full check) on
the second.

usage: ort_compare.py REFERENCE.onnx CANDIDATE.onnx [SHAPE]
prints {"reference_shape": [...], "shape": [...], "max_abs_difference": d,
        "relative_difference": d / max |reference|, "checker": "ok" or the error} as JSON.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

reference, candidate = sys.argv[1:3]
shape = [int(d) for d in sys.argv[3].split("x")] if len(sys.argv) > 3 else [4, 3, 32, 32]
x = np.random.RandomState(0).uniform(-2, 2, size=shape).astype(np.float32)


def run(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0].astype(np.float64)


try:
    onnx.checker.check_model(candidate, full_check=True)
    checker = "ok"
except Exception as e:
    checker = (str(e).strip().splitlines() or [type(e).__name__])[0]
a, b = run(reference), run(candidate)
result = {"reference_shape": list(a.shape), "shape": list(b.shape), "checker": checker}
if a.shape == b.shape:
    d = float(np.abs(a - b).max())
    result["max_abs_difference"] = d
    result["relative_difference"] = d / max(float(np.abs(a).max()), 1e-30)
json.dump(result, sys.stdout)
