"""Judges exported models: the onnx checker (full_check) and onnxruntime (load, then run on zeros).

Arguments: model paths, each optionally `PATH=CASE_DIR`: the inputs are then the case's
`test_data_set_0/input_*.pb` (in order), else zeros with symbolic dims fed as 1.
Prints {path: "ok" | "checker: first line" | "onnxruntime: first line"}; an onnxruntime
NOT_IMPLEMENTED counts as ok when onnxruntime cannot load the case's own model.onnx either.
"""
import glob
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

ort.set_default_logger_severity(4)


def first_line(e):
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


def case_inputs(case_dir):
    if not case_dir:
        return None
    files = sorted(glob.glob(os.path.join(case_dir, "test_data_set_0", "input_*.pb")),
                   key=lambda f: int(f.rsplit("_", 1)[1].split(".")[0]))
    if not files:
        return None
    values = []
    for f in files:
        tensor = onnx.TensorProto()
        with open(f, "rb") as handle:
            tensor.ParseFromString(handle.read())
        values.append(onnx.numpy_helper.to_array(tensor))
    return values


def judge(path, case_dir=None):
    try:
        onnx.checker.check_model(path, full_check=True)
    except Exception as e:  # the checker raises several types
        return "checker: " + first_line(e)
    try:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feeds = {}
        try:
            given = case_inputs(case_dir)
        except Exception:  # inputs numpy cannot read (sequences, segments): zeros instead
            given = None
        for index, i in enumerate(session.get_inputs()):
            if given is not None and index < len(given):
                feeds[i.name] = given[index]
                continue
            shape = [d if isinstance(d, int) and d >= 0 else 1 for d in i.shape]
            dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
                     "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8,
                     "tensor(int8)": np.int8}.get(i.type, np.float32)
            feeds[i.name] = np.zeros(shape, dtype=dtype)
        session.run(None, feeds)
    except Exception as e:
        # onnxruntime lacks some old op versions (Gemm-6): when it cannot load the case's own
        # model either, only the checker can judge.
        original = os.path.join(case_dir, "model.onnx") if case_dir else None
        if original and os.path.exists(original) and "NOT_IMPLEMENTED" in str(e):
            try:
                ort.InferenceSession(original, providers=["CPUExecutionProvider"])
            except Exception as o:
                if "NOT_IMPLEMENTED" in str(o):
                    return "ok"
        return "onnxruntime: " + first_line(e)
    return "ok"


if __name__ == "__main__":
    result = {}
    for argument in sys.argv[1:]:
        path, _, case_dir = argument.partition("=")
        result[path] = judge(path, case_dir or None)
    json.dump(result, sys.stdout)
