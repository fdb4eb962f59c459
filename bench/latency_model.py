"""Calibrates the latency objective's one constant: what one more Conv costs in onnxruntime
beyond its multiply-accumulates, expressed in MACs.

usage: python3 bench/latency_model.py [--threads 1] [--rounds 9]

It times single-Conv models (1x1 and 3x3, channel widths that are multiples of 8, planes of
4x4 to 16x16, as in a 32x32 network) at batch 1 and 32, then fits, per batch size,
time = c + a * MACs by least squares. c / a is the fixed cost of a Conv in MACs: a split layer
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


def conv_model(cin, cout, k, hw):
    rng = np.random.default_rng(0)
    w = helper.make_tensor("w", TensorProto.FLOAT, [cout, cin, k, k], rng.standard_normal(cout * cin * k * k).astype(np.float32).tobytes(), raw=True)
    b = helper.make_tensor("b", TensorProto.FLOAT, [cout], np.zeros(cout, np.float32).tobytes(), raw=True)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[k // 2] * 4)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", cin, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", cout, hw, hw])], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    shapes = [(cin, cout, k, hw) for hw in (4, 8, 16) for k in (1, 3) for cin, cout in ((16, 16), (32, 64), (96, 24), (128, 128), (240, 40))]
    for batch in (1, 32):
        sessions = []
        for cin, cout, k, hw in shapes:
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            s = ort.InferenceSession(conv_model(cin, cout, k, hw), options, providers=["CPUExecutionProvider"])
            x = np.random.default_rng(1).standard_normal([batch, cin, hw, hw]).astype(np.float32)
            for _ in range(3):
                s.run(None, {"x": x})
            sessions.append((cin * cout * k * k * hw * hw * batch, s, x))
        times = [[] for _ in sessions]
        for r in range(args.rounds):
            for i, (_, s, x) in enumerate(sessions):
                runs = []
                for _ in range(5):
                    t = time.perf_counter()
                    s.run(None, {"x": x})
                    runs.append(time.perf_counter() - t)
                times[i].append(statistics.median(runs))
        macs = np.array([m for m, _, _ in sessions], dtype=np.float64)
        t = np.array([statistics.median(v) for v in times])
        # Fit t = c + a * macs, weighting each point by 1/t so that small layers count.
        A = np.stack([np.ones_like(macs), macs], axis=1) / t[:, None]
        c, a = np.linalg.lstsq(A, np.ones_like(t), rcond=None)[0]
        rel = np.abs((c + a * macs) - t) / t
        print(f"batch {batch}: fixed cost per Conv c = {c * 1e6:.1f} us, {1 / a / 1e9:.1f} GMAC/s, "
              f"c / a = {c / a / batch:,.0f} MACs per image; fit error median {100 * np.median(rel):.0f} %, max {100 * np.max(rel):.0f} %")


if __name__ == "__main__":
    main()
