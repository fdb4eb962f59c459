"""`onnx-basisprune eval` against onnxruntime on ConvNeXt graphs (issue 40), same run.

usage: python3 bench/convnext.py MODEL SIZE BATCH [MODEL SIZE BATCH ...] [--rounds R] [--images N] [--bin PATH]

For each (model, input size, batch): R interleaved rounds of the tool's `eval` on N Fashion-MNIST
images resized to SIZExSIZE (`--json`'s images_per_second: the batches' wall time without compiling the plan) and
of onnxruntime on a random batch of the same shape (bench/ort_throughput.py, best of timed runs),
2 threads each; prints the medians and the ratio tool / onnxruntime, and the tool's oneDNN
refusal if `eval` reports one on stderr. Make the model with
`python3 scripts/make_convnext_fixture.py --tiny /work/convnext-tiny.onnx --size 64` (and 224).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def tool(binary, model, size, batch, images):
    data = f"idx:/usr/share/datasets/fashion-mnist,split=test,range=0:{images}"
    run = subprocess.run([binary, "eval", model, "--data", data, "--input-size", f"{size}x{size}", "--batch-size", str(batch),
                          "--threads", "2", "--json", "--quiet"], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)["images_per_second"]


def ort(model, size, batch, seconds):
    run = subprocess.run([sys.executable, os.path.join(HERE, "ort_throughput.py"), model, str(size), str(batch), str(seconds)],
                         capture_output=True, text=True, check=True)
    return float(run.stdout.strip())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cases", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=0, help="images per eval (default 20 batches)")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--bin", default=os.path.join(HERE, "..", ".build", "release", "onnx-basisprune"))
    args = parser.parse_args()
    cases = [(args.cases[i], int(args.cases[i + 1]), int(args.cases[i + 2])) for i in range(0, len(args.cases), 3)]
    print("model                      input    batch   tool img/s  onnxruntime img/s   ratio   (rounds)")
    for model, size, batch in cases:
        # 20 batches: a steady rate (eval leaves compiling the plan out; onnxruntime's figure is
        # the best of runs after a warm-up).
        images = args.images or 20 * batch
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(tool(args.bin, model, size, batch, images))
            theirs.append(ort(model, size, batch, args.seconds))
        ratios = [a / b for a, b in zip(ours, theirs)]
        print(f"{os.path.basename(model):26} {size:3}x{size:<3} {batch:6} {statistics.median(ours):12.1f} {statistics.median(theirs):18.1f}"
              f" {statistics.median(ratios):7.2f}x  ({' '.join(f'{r:.2f}' for r in ratios)})", flush=True)


if __name__ == "__main__":
    main()
