"""Judges round-tripped ONNX files with the onnx checker and onnxruntime.

usage: roundtrip_judge.py [--rtol R]
With --rtol, float outputs need only agree to R relative to the output's largest magnitude
(for rewrites such as `simplify` that change which kernels run); without it, bit-identical.

stdin: one JSON object per line: {"name", "original", "exported", "case_dir"}.
stdout: a JSON list, one object per case:
  checker_original / checker_exported: "ok" or the checker's first error line
  ort: "identical" (every output of every test_data_set bit-identical), "differs: ...",
       "original-fails: ..." (onnxruntime cannot run the original, so no comparison),
       "exported-fails: ...", or "no-data"
"""
import glob
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ort.set_default_logger_severity(4)
RTOL = float(sys.argv[sys.argv.index("--rtol") + 1]) if "--rtol" in sys.argv else None


def check(path):
    try:
        onnx.checker.check_model(path, full_check=True)
        return "ok"
    except Exception as e:  # the checker raises several types
        return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def load_value(path, type_proto):
    data = open(path, "rb").read()
    which = type_proto.WhichOneof("value")
    if which == "sequence_type":
        seq = onnx.SequenceProto()
        seq.ParseFromString(data)
        return numpy_helper.to_list(seq)
    if which == "optional_type":
        opt = onnx.OptionalProto()
        opt.ParseFromString(data)
        return numpy_helper.to_optional(opt)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(data)
    return numpy_helper.to_array(tensor)


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def same(a, b):
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        if RTOL is not None and a.size:
            finite = np.isfinite(a)
            if not np.array_equal(finite, np.isfinite(b)) or not np.array_equal(a[~finite], b[~finite], equal_nan=True):
                return False
            if not finite.any():
                return True
            scale = float(np.max(np.abs(a[finite])))
            return float(np.max(np.abs(a[finite].astype(np.float64) - b[finite].astype(np.float64)))) <= RTOL * max(scale, 1e-6)
        return a.tobytes() == b.tobytes()
    return np.array_equal(a, b)


def compare(case):
    sets = sorted(glob.glob(os.path.join(case["case_dir"], "test_data_set_*")))
    if not sets:
        return "no-data"
    try:
        original = session(case["original"])
    except Exception as e:
        return "original-fails: " + str(e).strip().splitlines()[0][:160]
    try:
        exported = session(case["exported"])
    except Exception as e:
        return "exported-fails: " + str(e).strip().splitlines()[0][:160]
    model = onnx.load(case["original"], load_external_data=False)
    initializers = {t.name for t in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in initializers]
    for data_set in sets:
        feeds = {}
        files = sorted(glob.glob(os.path.join(data_set, "input_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
        for value_info, path in zip(graph_inputs, files):
            feeds[value_info.name] = load_value(path, value_info.type)
        try:
            a = original.run(None, feeds)
        except Exception as e:
            return "original-fails: " + str(e).strip().splitlines()[0][:160]
        try:
            b = exported.run(None, feeds)
        except Exception as e:
            return "exported-fails: " + str(e).strip().splitlines()[0][:160]
        for i, (x, y) in enumerate(zip(a, b)):
            if not same(x, y):
                return f"differs: output {i} of {os.path.basename(data_set)}"
    return "identical"


results = []
for line in sys.stdin:
    if not line.strip():
        continue
    case = json.loads(line)
    results.append({
        "name": case["name"],
        "checker_original": check(case["original"]),
        "checker_exported": check(case["exported"]),
        "ort": compare(case),
    })
json.dump(results, sys.stdout)
