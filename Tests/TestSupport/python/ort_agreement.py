"""Runs two models in onnxruntime on the same IDX images, preprocessed in numpy by
fmnist_reference.py (bilinear resize to SIZE x SIZE with half-pixel centres, (p - 127) / 128,
grey to 3 channels), and compares their top-1 answers image by image.

usage: ort_agreement.py MODEL_A MODEL_B IDX_DIR SPLIT START END [SIZE]   (SPLIT: train or t10k;
the IDX files gzipped or not; SIZE defaults to 32)
prints {"count": n, "differ": images whose answers differ, "accuracy_a": ..., "accuracy_b": ...,
        "worse": images A gets right and B wrong, "better": the reverse} as JSON (the accuracies
and counts only when a labels file is beside the images).
"""
import gzip
import json
import os
import sys

import numpy as np
import onnxruntime as ort

from fmnist_reference import preprocess


def read(path):
    if os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz") as f:
            return f.read()
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    return None


model_a, model_b, directory, split = sys.argv[1:5]
start, end = int(sys.argv[5]), int(sys.argv[6])
size = int(sys.argv[7]) if len(sys.argv) > 7 else 32
raw = read(f"{directory}/{split}-images-idx3-ubyte")
count, rows, cols = (int.from_bytes(raw[4 * k:4 * k + 4], "big") for k in (1, 2, 3))
images = np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)[start:end].astype(np.float32)
labels_raw = read(f"{directory}/{split}-labels-idx1-ubyte")
options = ort.SessionOptions()
options.intra_op_num_threads = 2
answers = []
for model in (model_a, model_b):
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    top = [session.run(None, {name: preprocess(images[i:i + 256], size, size)})[0].argmax(1) for i in range(0, len(images), 256)]
    answers.append(np.concatenate(top))
result = {"count": len(images), "differ": int(np.sum(answers[0] != answers[1]))}
if labels_raw is not None:
    labels = np.frombuffer(labels_raw, np.uint8, offset=8)[start:end]
    right_a, right_b = answers[0] == labels, answers[1] == labels
    result.update(accuracy_a=float(right_a.mean()), accuracy_b=float(right_b.mean()),
                  worse=int(np.sum(right_a & ~right_b)), better=int(np.sum(~right_a & right_b)))
print(json.dumps(result))
