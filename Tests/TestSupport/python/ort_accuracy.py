"""Top-1 accuracy of a model in onnxruntime on Fashion-MNIST images, preprocessed here, in
numpy, exactly as shared/models/README.md says (independent of the tool's own loader):
28x28 grey -> bilinear 32x32 with half-pixel centres (PyTorch align_corners=False, no
antialias) -> (p - 127) / 128 -> 3 channels.

usage: ort_accuracy.py MODEL DIR SPLIT START END   (SPLIT: train or t10k)
prints {"accuracy": fraction, "count": n}
"""
import gzip
import json
import sys

import numpy as np
import onnxruntime as ort


def resize_axis(size_in, size_out):
    f = np.float32
    scale = f(size_in) / f(size_out)
    real = np.maximum(scale * (np.arange(size_out, dtype=f) + f(0.5)) - f(0.5), f(0))
    i0 = np.minimum(np.floor(real).astype(np.int64), size_in - 1)
    i1 = np.where(i0 < size_in - 1, i0 + 1, i0)
    l1 = np.clip(real - i0.astype(f), f(0), f(1)).astype(f)
    return i0, i1, (f(1) - l1).astype(f), l1


def preprocess(images, size):
    r0, r1, rw0, rw1 = resize_axis(images.shape[1], size)
    c0, c1, cw0, cw1 = resize_axis(images.shape[2], size)
    rows = images[:, r0, :] * rw0[None, :, None] + images[:, r1, :] * rw1[None, :, None]
    resized = rows[:, :, c0] * cw0[None, None, :] + rows[:, :, c1] * cw1[None, None, :]
    normalised = (resized - np.float32(127)) / np.float32(128)
    return np.repeat(normalised[:, None], 3, axis=1).astype(np.float32)


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
correct = 0
for i in range(0, len(images), 500):
    logits = session.run(None, {name: preprocess(images[i:i + 500], size)})[0]
    correct += int((logits.argmax(axis=1) == labels[i:i + 500]).sum())
json.dump({"accuracy": correct / len(images), "count": len(images)}, sys.stdout)
