"""Mutation test of the built tool: hostile variants of real models, each run through the tool.

Usage: mutation_run.py TOOL WORKDIR SEED COUNT MODEL...   (MODEL: PATH or PATH=CASE_DIR)

Makes COUNT mutants (seeded) of the MODELs the tool accepts (`inspect` exits 0), with the kinds
issue 12 lists: unknown and swapped op types, cycles, duplicate output names, opset 0/99 and IR
versions out of range, UINT4/STRING weights, a Conv group that does not divide the channels,
corrupted strides/pads/dilations, empty input names, NaN/Inf weights, external data through
symlinks or a named pipe, truncated and bit-flipped files. Runs `inspect` and `split` on each
(20 s timeout) and classifies every run:
  clean_error   exit 1 or 2 with one line on stderr
  valid_output  exit 0, and for `split` the output passes the onnx checker and onnxruntime
  crash         killed by a signal, or any other exit code
  hang          still running after the timeout
  failure       exit 0 with an output the judges reject, a multi-line error, or `inspect`
                rejecting a model `split` accepted
Prints one JSON object: counts per class and kind, and the details of every non-clean run.
"""
import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from judge_models import judge  # noqa: E402

TIMEOUT = 20


def run(tool, args):
    try:
        p = subprocess.run([tool] + args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "hang", None, ""
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    if p.returncode < 0 or p.returncode not in (0, 1, 2, 3, 4):
        return "crash", p.returncode, p.stderr[-300:]
    if p.returncode == 0:
        return "ok", 0, ""
    if len(lines) == 1 and lines[0].startswith("onnx-basisprune: "):
        return "clean_error", p.returncode, lines[0]
    return "failure", p.returncode, p.stderr[-300:]


# MARK: mutations (each returns a description, or None when it does not apply)

def float_initializers(m):
    return [t for t in m.graph.initializer if t.data_type == TensorProto.FLOAT and len(t.dims) >= 1]


def mut_unknown_op(m, r):
    if not m.graph.node:
        return None
    n = r.choice(m.graph.node)
    n.op_type = r.choice(["FooBar", "Conv2D", "LSTM", "relu", ""])
    return f"op of {n.name or n.output[0]} -> '{n.op_type}'"


def mut_swap_ops(m, r):
    if len(m.graph.node) < 2:
        return None
    a, b = r.sample(list(m.graph.node), 2)
    if a.op_type == b.op_type:
        return None
    a.op_type, b.op_type = b.op_type, a.op_type
    return f"swapped {a.op_type} and {b.op_type}"


def mut_cycle(m, r):
    nodes = list(m.graph.node)
    if not nodes or not nodes[0].input:
        return None
    last = nodes[-1]
    nodes[0].input[0] = last.output[0]
    return "first node reads the last node's output"


def mut_duplicate_output(m, r):
    nodes = list(m.graph.node)
    if len(nodes) < 2:
        return None
    i, j = sorted(r.sample(range(len(nodes)), 2))
    nodes[j].output[0] = nodes[i].output[0]
    return f"node {j} writes node {i}'s output"


def mut_opset(m, r):
    v = r.choice([0, 99, -1, 1000])
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = v
    return f"opset {v}"


def mut_ir_version(m, r):
    m.ir_version = r.choice([0, 1, 2, 11, 99])
    return f"ir_version {m.ir_version}"


def mut_weight_type(m, r):
    ts = float_initializers(m)
    if not ts:
        return None
    t = r.choice(ts)
    t.data_type = r.choice([TensorProto.UINT4, TensorProto.STRING, TensorProto.COMPLEX64, TensorProto.FLOAT16])
    return f"{t.name} data_type {t.data_type}"


def convs(m):
    return [n for n in m.graph.node if n.op_type == "Conv"]


def set_attr(n, name, value):
    for a in list(n.attribute):
        if a.name == name:
            n.attribute.remove(a)
    n.attribute.append(onnx.helper.make_attribute(name, value))


def mut_group(m, r):
    cs = convs(m)
    if not cs:
        return None
    n = r.choice(cs)
    g = r.choice([0, -1, 3, 5, 7, 1 << 20])
    set_attr(n, "group", g)
    return f"group {g} on {n.name or n.output[0]}"


def mut_window(m, r):
    ns = [n for n in m.graph.node if n.op_type in ("Conv", "MaxPool", "AveragePool")]
    if not ns:
        return None
    n = r.choice(ns)
    name = r.choice(["strides", "pads", "dilations", "kernel_shape"])
    rank = 2
    for a in n.attribute:
        if a.name in ("strides", "kernel_shape", "dilations") and a.ints:
            rank = len(a.ints)
    value = r.choice([0, -1, -7, 1 << 40, 3])
    count = 2 * rank if name == "pads" else rank
    if r.random() < 0.3:
        count += 1
    set_attr(n, name, [value] * count)
    return f"{name} {[value] * count} on {n.name or n.output[0]}"


def mut_empty_input(m, r):
    if r.random() < 0.5 and m.graph.node:
        n = r.choice([n for n in m.graph.node if n.input] or [None])
        if n is None:
            return None
        k = r.randrange(len(n.input))
        n.input[k] = ""
        return f"input {k} of {n.name or n.output[0]} emptied"
    if not m.graph.input:
        return None
    old = m.graph.input[0].name
    m.graph.input[0].name = ""
    return f"graph input '{old}' renamed to ''"


def mut_nan(m, r):
    ts = float_initializers(m)
    if not ts:
        return None
    t = r.choice(ts)
    a = numpy_helper.to_array(t).copy()
    if a.size == 0:
        return None
    a.flat[r.randrange(a.size)] = r.choice([np.nan, np.inf, -np.inf])
    t.CopyFrom(numpy_helper.from_array(a.astype(np.float32), t.name))
    return f"{t.name} holds NaN/Inf"


def mut_dims(m, r):
    ts = list(m.graph.initializer)
    if not ts:
        return None
    t = r.choice(ts)
    if not t.dims:
        return None
    k = r.randrange(len(t.dims))
    t.dims[k] = r.choice([0, t.dims[k] + 1, 1 << 31])
    return f"{t.name} dims {list(t.dims)}"


def mut_drop_initializer(m, r):
    if not m.graph.initializer:
        return None
    t = r.choice(list(m.graph.initializer))
    m.graph.initializer.remove(t)
    return f"initializer {t.name} removed"


MODEL_MUTATIONS = [mut_unknown_op, mut_swap_ops, mut_cycle, mut_duplicate_output, mut_opset, mut_ir_version,
                   mut_weight_type, mut_group, mut_window, mut_empty_input, mut_nan, mut_dims, mut_drop_initializer]
FILE_MUTATIONS = ["truncate", "bitflip", "external_symlink_file", "external_symlink_dir", "external_fifo", "external_dotdot"]


def make_mutant(source, r, directory):
    """Writes a mutant of `source` into `directory`; returns (path, kind, description) or None."""
    os.makedirs(directory)
    path = os.path.join(directory, "model.onnx")
    kind = r.choice([f.__name__[4:] for f in MODEL_MUTATIONS] + FILE_MUTATIONS)
    if kind in ("truncate", "bitflip"):
        data = bytearray(open(source, "rb").read())
        if kind == "truncate":
            cut = r.randrange(1, len(data))
            data = data[:cut]
            what = f"cut at {cut} of {len(data)}"
        else:
            for _ in range(r.randint(1, 8)):
                data[r.randrange(len(data))] ^= 1 << r.randrange(8)
            what = "bits flipped"
        open(path, "wb").write(bytes(data))
        return path, kind, what
    m = onnx.load(source)
    if kind.startswith("external"):
        if not float_initializers(m):
            return None
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=0)
        weights = os.path.join(directory, "weights.bin")
        secret = os.path.join(os.path.dirname(directory), os.path.basename(directory) + "-secret.bin")
        if kind == "external_symlink_file":
            shutil.move(weights, secret)
            os.symlink(os.path.join("..", os.path.basename(secret)), weights)
        elif kind == "external_symlink_dir":
            shutil.move(weights, secret)
            os.symlink("..", os.path.join(directory, "up"))
            retarget(path, "up/" + os.path.basename(secret))
        elif kind == "external_fifo":
            os.remove(weights)
            os.mkfifo(weights)
        else:
            shutil.move(weights, secret)
            retarget(path, "../" + os.path.basename(secret))
        return path, kind, kind
    mutate = dict((f.__name__[4:], f) for f in MODEL_MUTATIONS)[kind]
    what = mutate(m, r)
    if what is None:
        return None
    open(path, "wb").write(m.SerializeToString())
    return path, kind, what


def retarget(path, location):
    """Points every external-data location of the model at `path` to `location`."""
    m = onnx.load(path, load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    open(path, "wb").write(m.SerializeToString())


def main():
    tool, workdir, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sources = []
    for argument in sys.argv[5:]:
        path, _, case_dir = argument.partition("=")
        if run(tool, ["inspect", path])[0] == "ok":
            sources.append((path, case_dir))
    r = random.Random(seed)
    counts, kinds, details = {}, {}, []

    def record(kind, label, outcome, extra):
        counts[outcome] = counts.get(outcome, 0) + 1
        kinds.setdefault(kind, {}).setdefault(outcome, 0)
        kinds[kind][outcome] += 1
        if outcome not in ("clean_error", "valid_output"):
            details.append({"kind": kind, "run": label, "outcome": outcome, **extra})

    made = 0
    attempts = 0
    while made < count and attempts < count * 20:
        attempts += 1
        source, case_dir = r.choice(sources)
        directory = os.path.join(workdir, f"m{attempts:05d}")
        mutant = make_mutant(source, r, directory)
        if mutant is None:
            shutil.rmtree(directory, ignore_errors=True)
            continue
        made += 1
        path, kind, what = mutant
        label = f"{os.path.relpath(source, os.path.dirname(os.path.dirname(source)))}: {what}"
        inspect, _, inspect_err = run(tool, ["inspect", path])
        out = os.path.join(directory, "split.onnx")
        split, code, split_err = run(tool, ["split", path, out, "--quiet"])
        record(kind, "inspect " + label, "valid_output" if inspect == "ok" else inspect,
               {"stderr": inspect_err} if inspect != "ok" else {})
        if split == "ok":
            verdict = judge(out, case_dir or None)
            if verdict != "ok":
                record(kind, "split " + label, "failure", {"judge": verdict})
            elif inspect == "clean_error":
                record(kind, "split " + label, "failure", {"inspect": inspect_err})
            else:
                record(kind, "split " + label, "valid_output", {})
        else:
            record(kind, "split " + label, split, {"exit": code, "stderr": split_err})
    json.dump({"seed": seed, "sources": len(sources), "mutants": made, "runs": counts, "kinds": kinds,
               "details": details}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
