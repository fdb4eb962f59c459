"""Calibrates the latency objective's one constant: what one more Conv costs in onnxruntime
beyond its multiply-accumulates, expressed in MACs.

usage: python3 bench/latency_model.py [--threads 1] [--rounds 9]

It times chains of 1 and of 9 identical Convs (1x1 and 3x3, widths that are multiples of 8,
planes of 4x4 to 16x16, as in a 32x32 network) at batch 1 and 32; a chain's extra time over
the single Conv, divided by 8, is what one Conv costs inside a model (the session's own call
overhead cancels). It then fits, per batch size, time per Conv = c + a * MACs by least squares. c / a is the fixed cost of a Conv in MACs: a split layer
runs two Convs, so it is only faster than the merged layer when it saves more than that.
"""
import argparse
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

ort.set_default_logger_severity(3)


def conv_model(c, k, hw, depth):
    rng = np.random.default_rng(0)
    inits, nodes = [], []
    for i in range(depth):
        w = (rng.standard_normal(c * c * k * k) / np.sqrt(c * k * k)).astype(np.float32)
        inits.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, [c, c, k, k], w.tobytes(), raw=True))
        inits.append(helper.make_tensor(f"b{i}", TensorProto.FLOAT, [c], np.zeros(c, np.float32).tobytes(), raw=True))
        nodes.append(helper.make_node("Conv", [f"x{i}", f"w{i}", f"b{i}"], [f"x{i + 1}"], pads=[k // 2] * 4))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x0", TensorProto.FLOAT, ["N", c, hw, hw])],
                              [helper.make_tensor_value_info(f"x{depth}", TensorProto.FLOAT, ["N", c, hw, hw])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    shapes = [(c, k, hw) for hw in (4, 8, 16) for k in (1, 3) for c in (16, 32, 64, 128, 256)]
    for batch in (1, 32):
        sessions = []
        for c, k, hw in shapes:
            pair = []
            for depth in (1, 9):
                options = ort.SessionOptions()
                options.intra_op_num_threads = args.threads
                s = ort.InferenceSession(conv_model(c, k, hw, depth), options, providers=["CPUExecutionProvider"])
                x = np.random.default_rng(1).standard_normal([batch, c, hw, hw]).astype(np.float32)
                for _ in range(3):
                    s.run(None, {"x0": x})
                pair.append((s, x))
            sessions.append((c * c * k * k * hw * hw * batch, pair))
        times = [[] for _ in sessions]
        for r in range(args.rounds):
            for i, (_, pair) in enumerate(sessions):
                medians = []
                for s, x in pair:
                    runs = []
                    for _ in range(5):
                        t = time.perf_counter()
                        s.run(None, {"x0": x})
                        runs.append(time.perf_counter() - t)
                    medians.append(statistics.median(runs))
                times[i].append((medians[1] - medians[0]) / 8)
        macs = np.array([m for m, _ in sessions], dtype=np.float64)
        t = np.array([statistics.median(v) for v in times])
        # Fit t = c + a * macs, weighting each point by 1/t so that small layers count.
        A = np.stack([np.ones_like(macs), macs], axis=1) / t[:, None]
        c, a = np.linalg.lstsq(A, np.ones_like(t), rcond=None)[0]
        rel = np.abs((c + a * macs) - t) / t
        print(f"batch {batch}: fixed cost per Conv c = {c * 1e6:.1f} us, {1 / a / 1e9:.1f} GMAC/s, "
              f"c / a = {c / a / batch:,.0f} MACs per image; fit error median {100 * np.median(rel):.0f} %, max {100 * np.max(rel):.0f} %")


if __name__ == "__main__":
    main()
