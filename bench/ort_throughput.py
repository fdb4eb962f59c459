"""onnxruntime images per second for a model on a random batch: best of timed runs.

usage: ort_throughput.py MODEL SIZE BATCH SECONDS   (2 intra-op threads, like the engine)
"""
import sys
import time

import numpy as np
import onnxruntime as ort

model, size, batch, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
options = ort.SessionOptions()
options.intra_op_num_threads = 2
options.inter_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
feed = {session.get_inputs()[0].name: x}
session.run(None, feed)
best = float("inf")
end = time.perf_counter() + seconds
runs = 0
while time.perf_counter() < end or runs < 3:
    start = time.perf_counter()
    session.run(None, feed)
    best = min(best, time.perf_counter() - start)
    runs += 1
print(batch / best)
