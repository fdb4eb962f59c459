"""Runs a model in onnxruntime on a raw float32 input file; writes the first output as raw float32.

usage: ort_run.py MODEL INPUT.f32 SHAPE(e.g. 256x3x32x32) OUTPUT.f32
prints {"shape": [...]} as JSON.
"""
import json
import sys

import numpy as np
import onnxruntime as ort

model, input_path, shape, output_path = sys.argv[1:5]
dims = [int(d) for d in shape.split("x")]
x = np.fromfile(input_path, dtype=np.float32).reshape(dims)
options = ort.SessionOptions()
options.intra_op_num_threads = 2
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
y = session.run(None, {session.get_inputs()[0].name: x})[0].astype(np.float32)
y.tofile(output_path)
json.dump({"shape": list(y.shape)}, sys.stdout)
