"""Top-1 accuracy of a model in onnxruntime on Fashion-MNIST images, preprocessed in numpy by
fmnist_reference.py exactly as shared/models/README.md says (independent of the tool's loader).

usage: ort_accuracy.py MODEL DIR SPLIT START END [CORRECT]   (SPLIT: train or t10k)
prints {"accuracy": fraction, "count": n}; with CORRECT, also writes each image's outcome there
('1' right, '0' wrong, one character per image), for paired comparisons of two models
"""
import gzip
import json
import sys

import numpy as np
import onnxruntime as ort

from fmnist_reference import preprocess


model, directory, split, start, end = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
with gzip.open(f"{directory}/{split}-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[start:end].astype(np.float32)
with gzip.open(f"{directory}/{split}-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)[start:end]
options = ort.SessionOptions()
options.intra_op_num_threads = 2
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
size = session.get_inputs()[0].shape[2]
outcomes = []
for i in range(0, len(images), 500):
    logits = session.run(None, {name: preprocess(images[i:i + 500], size, size)})[0]
    outcomes += list(logits.argmax(axis=1) == labels[i:i + 500])
if len(sys.argv) > 6:
    with open(sys.argv[6], "w") as f:
        f.write("".join("1" if o else "0" for o in outcomes))
json.dump({"accuracy": sum(outcomes) / len(images), "count": len(images)}, sys.stdout)
