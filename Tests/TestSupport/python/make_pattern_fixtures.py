"""Writes the pattern fixtures (small CNNs with the graph patterns real exporters write) into
fixtures/patterns/, with the `onnx` helper and fixed seeds, so no PyTorch is needed.

Every model takes `input` float32 [N, 3, 32, 32] and returns `logits` [N, 10]; weights are
random (numpy seed per model), so accuracy is chance: the tests check structure, exactness and
that pruning runs, not accuracy. Usage: python3 make_pattern_fixtures.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)
        self.nodes = []
        self.inits = []
        self.count = 0

    def fresh(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, name, shape, fan_in=None):
        fan_in = fan_in or int(np.prod(shape[1:]))
        return self.const(name, (self.rng.randn(*shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))

    def node(self, op, inputs, name=None, outputs=1, **attrs):
        name = name or self.fresh(op.lower())
        outs = [name] if outputs == 1 else [f"{name}:{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    def conv(self, x, cin, cout, k=3, stride=1, group=1, bias=True, name=None):
        name = name or self.fresh("conv")
        w = self.weight(name + ".weight", [cout, cin // group, k, k])
        inputs = [x, w] + ([self.weight(name + ".bias", [cout], fan_in=cin * k * k)] if bias else [])
        return self.node("Conv", inputs, name=name, kernel_shape=[k, k], pads=[k // 2] * 4, strides=[stride, stride], group=group)

    def batchnorm(self, x, c):
        name = self.fresh("bn")
        scale = self.const(name + ".scale", (1 + 0.1 * self.rng.randn(c)).astype(np.float32))
        bias = self.const(name + ".bias", (0.1 * self.rng.randn(c)).astype(np.float32))
        mean = self.const(name + ".mean", (0.1 * self.rng.randn(c)).astype(np.float32))
        var = self.const(name + ".var", (0.5 + self.rng.rand(c)).astype(np.float32))
        return self.node("BatchNormalization", [x, scale, bias, mean, var], name=name, epsilon=1e-5)

    def head(self, x, c):
        """GlobalAveragePool, Flatten, Gemm to 10 classes named logits."""
        p = self.node("GlobalAveragePool", [x])
        f = self.node("Flatten", [p], axis=1)
        return self.node("Gemm", [f, self.weight("fc.weight", [10, c]), self.weight("fc.bias", [10], fan_in=c)], name="logits", transB=1)

    def model(self, name, opset):
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_pattern_fixtures.py")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


def residual():
    """ResNet basic blocks with BatchNormalization kept, a strided block with a 1x1 shortcut."""
    b = Builder(1)
    x = b.node("Relu", [b.batchnorm(b.conv("input", 3, 16, bias=False, name="stem"), 16)])
    y = b.node("Relu", [b.batchnorm(b.conv(x, 16, 16, bias=False), 16)])
    y = b.batchnorm(b.conv(y, 16, 16, bias=False), 16)
    x = b.node("Relu", [b.node("Add", [y, x])])
    y = b.node("Relu", [b.batchnorm(b.conv(x, 16, 32, stride=2, bias=False), 32)])
    y = b.batchnorm(b.conv(y, 32, 32, bias=False), 32)
    shortcut = b.batchnorm(b.conv(x, 16, 32, k=1, stride=2, bias=False, name="shortcut"), 32)
    x = b.node("Relu", [b.node("Add", [y, shortcut])])
    b.head(x, 32)
    return b.model("residual", 13)


def concat():
    """SqueezeNet fire modules and an inception block (with a MaxPool branch), joined by Concat."""
    b = Builder(2)
    x = b.node("Relu", [b.conv("input", 3, 24, stride=2, name="stem")])
    for i in range(2):
        s = b.node("Relu", [b.conv(x, 24, 8, k=1, name=f"fire{i}.squeeze")])
        e1 = b.node("Relu", [b.conv(s, 8, 12, k=1, name=f"fire{i}.expand1x1")])
        e3 = b.node("Relu", [b.conv(s, 8, 12, k=3, name=f"fire{i}.expand3x3")])
        x = b.node("Concat", [e1, e3], axis=1)
    x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    a = b.node("Relu", [b.conv(x, 24, 8, k=1, name="inception.1x1")])
    r = b.node("Relu", [b.conv(x, 24, 8, k=1, name="inception.3x3reduce")])
    c = b.node("Relu", [b.conv(r, 8, 12, k=3, name="inception.3x3")])
    p = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    q = b.node("Relu", [b.conv(p, 24, 4, k=1, name="inception.poolproj")])
    x = b.node("Concat", [a, c, q], axis=1)
    b.head(x, 24)
    return b.model("concat", 13)


def squeeze_excite():
    """MobileNetV3/EfficientNet blocks: depthwise conv, HardSwish, SE gates with Sigmoid and
    with HardSigmoid, each multiplied into the block (Mul), ReduceMean pooling inside SE."""
    b = Builder(3)
    x = b.node("HardSwish", [b.conv("input", 3, 16, stride=2, name="stem")])
    for i, gate in enumerate(["Sigmoid", "HardSigmoid"]):
        e = b.node("HardSwish", [b.conv(x, 16, 32, k=1, name=f"block{i}.expand")])
        d = b.node("HardSwish", [b.conv(e, 32, 32, k=3, group=32, name=f"block{i}.depthwise")])
        pooled = b.node("GlobalAveragePool", [d]) if i == 0 else b.node("ReduceMean", [d], axes=[2, 3], keepdims=1)
        s = b.node("Relu", [b.conv(pooled, 32, 8, k=1, name=f"block{i}.se.reduce")])
        g = b.node(gate, [b.conv(s, 8, 32, k=1, name=f"block{i}.se.expand")])
        d = b.node("Mul", [d, g])
        p = b.conv(d, 32, 16, k=1, name=f"block{i}.project")
        x = b.node("Add", [p, x])
    b.head(x, 16)
    return b.model("squeeze_excite", 14)


def shuffle():
    """ShuffleNetV2 units: Split into halves, a branch of 1x1, depthwise 3x3, 1x1, Concat, then
    the channel shuffle Reshape [N, 2, C/2, H, W], Transpose, Reshape; a grouped conv."""
    b = Builder(4)
    x = b.node("Relu", [b.conv("input", 3, 16, stride=2, name="stem")])
    c, hw = 16, 16
    for i in range(2):
        left, right = b.node("Split", [x, b.const(b.fresh("split"), np.array([8, 8], np.int64))], outputs=2, axis=1)
        r = b.node("Relu", [b.conv(right, 8, 8, k=1, name=f"unit{i}.pw1")])
        r = b.conv(r, 8, 8, k=3, group=8, name=f"unit{i}.dw")
        r = b.node("Relu", [b.conv(r, 8, 8, k=1, name=f"unit{i}.pw2")])
        x = b.node("Concat", [left, r], axis=1)
        x = b.node("Reshape", [x, b.const(b.fresh("shape"), np.array([-1, 2, c // 2, hw, hw], np.int64))])
        x = b.node("Transpose", [x], perm=[0, 2, 1, 3, 4])
        x = b.node("Reshape", [x, b.const(b.fresh("shape"), np.array([-1, c, hw, hw], np.int64))])
    x = b.node("Relu", [b.conv(x, 16, 32, k=1, name="final")])
    x = b.node("Relu", [b.conv(x, 32, 32, k=3, group=4, name="grouped")])
    b.head(x, 32)
    return b.model("shuffle", 13)


def convnext(dynamo):
    """ConvNeXt blocks: depthwise 7x7, LayerNorm over channels in NHWC (decomposed as the legacy
    exporter writes it, or one LayerNormalization op as the dynamo exporter does), MatMul
    4C expansion, GELU (Erf), MatMul back, layer scale, residual Add; ReduceMean pooling,
    LayerNorm and a MatMul + Add head."""
    b = Builder(5 if dynamo else 6)
    opset = 18 if dynamo else 13

    def reduce_mean(x, axes, keepdims=1):
        if opset >= 18:
            return b.node("ReduceMean", [x, b.const(b.fresh("axes"), np.array(axes, np.int64))], keepdims=keepdims)
        return b.node("ReduceMean", [x], axes=axes, keepdims=keepdims)

    def layer_norm(x, c):
        name = b.fresh("norm")
        w = b.const(name + ".weight", (1 + 0.1 * b.rng.randn(c)).astype(np.float32))
        bias = b.const(name + ".bias", (0.1 * b.rng.randn(c)).astype(np.float32))
        if dynamo:
            return b.node("LayerNormalization", [x, w, bias], name=name, axis=-1, epsilon=1e-6)
        mean = reduce_mean(x, [-1])
        d = b.node("Sub", [x, mean])
        var = reduce_mean(b.node("Pow", [d, b.const(b.fresh("two"), np.array(2, np.float32))]), [-1])
        sd = b.node("Sqrt", [b.node("Add", [var, b.const(b.fresh("eps"), np.array(1e-6, np.float32))])])
        return b.node("Add", [b.node("Mul", [b.node("Div", [d, sd]), w]), bias])

    def linear(x, cin, cout):
        name = b.fresh("linear")
        y = b.node("MatMul", [x, b.weight(name + ".weight", [cin, cout], fan_in=cin)], name=name)
        return b.node("Add", [y, b.weight(name + ".bias", [cout], fan_in=cin)])

    def gelu(x):
        e = b.node("Erf", [b.node("Div", [x, b.const(b.fresh("sqrt2"), np.array(np.sqrt(2), np.float32))])])
        return b.node("Mul", [b.node("Mul", [x, b.node("Add", [e, b.const(b.fresh("one"), np.array(1, np.float32))])]),
                              b.const(b.fresh("half"), np.array(0.5, np.float32))])

    c = 16
    x = b.conv("input", 3, c, k=4, stride=4, name="stem")
    for i in range(2):
        y = b.conv(x, c, c, k=7, group=c, name=f"block{i}.dwconv")
        y = b.node("Transpose", [y], perm=[0, 2, 3, 1])
        y = layer_norm(y, c)
        y = gelu(linear(y, c, 4 * c))
        y = linear(y, 4 * c, c)
        y = b.node("Mul", [y, b.const(f"block{i}.gamma", (0.5 + 0.1 * b.rng.randn(c)).astype(np.float32))])
        y = b.node("Transpose", [y], perm=[0, 3, 1, 2])
        x = b.node("Add", [x, y])
    p = reduce_mean(x, [-2, -1], keepdims=0)
    p = layer_norm(p, c)
    y = b.node("MatMul", [p, b.weight("head.weight", [c, 10], fan_in=c)], name="head")
    b.node("Add", [y, b.weight("head.bias", [10], fan_in=c)], name="logits")
    return b.model("convnext_dynamo" if dynamo else "convnext", opset)


def reducemean_pool():
    """A VGG-style stack pooled by ReduceMean over H, W (axes input, keepdims 1, as the dynamo
    exporter writes adaptive_avg_pool2d), a Reshape to [-1, 32] (a view with the channel count)
    and a Gemm head; opset 18."""
    b = Builder(7)
    x = b.node("Relu", [b.conv("input", 3, 16, stride=2, name="conv1")])
    x = b.node("Relu", [b.conv(x, 16, 32, stride=2, name="conv2")])
    x = b.node("Relu", [b.conv(x, 32, 32, name="conv3")])
    p = b.node("ReduceMean", [x, b.const("pool.axes", np.array([-1, -2], np.int64))], keepdims=1)
    f = b.node("Reshape", [p, b.const("flat.shape", np.array([-1, 32], np.int64))])
    b.node("Gemm", [f, b.weight("fc.weight", [10, 32]), b.weight("fc.bias", [10], fan_in=32)], name="logits", transB=1)
    return b.model("reducemean_pool", 18)


def identity_weights():
    """Equal initializers de-duplicated the way the legacy exporter does: a second conv's weight
    and bias, and the head's weight, arrive through Identity nodes."""
    b = Builder(8)
    x = b.node("Relu", [b.conv("input", 3, 16, stride=2, name="conv1")])
    x = b.node("Relu", [b.conv(x, 16, 16, name="conv2")])
    # conv3 shares conv2's weight and bias through Identity, as torch.onnx.export writes it.
    w = b.node("Identity", ["conv2.weight"], name="onnx::Conv_w3")
    bias = b.node("Identity", ["conv2.bias"], name="onnx::Conv_b3")
    x = b.node("Relu", [b.node("Conv", [x, w, bias], name="conv3", kernel_shape=[3, 3], pads=[1, 1, 1, 1])])
    x = b.node("Relu", [b.conv(x, 16, 32, stride=2, name="conv4")])
    p = b.node("GlobalAveragePool", [x])
    f = b.node("Flatten", [p], axis=1)
    fc = b.node("Identity", [b.weight("fc.weight.original", [10, 32])], name="onnx::Gemm_fc")
    b.node("Gemm", [f, fc, b.weight("fc.bias", [10], fan_in=32)], name="logits", transB=1)
    return b.model("identity_weights", 13)


MODELS = {
    "residual": residual,
    "concat": concat,
    "squeeze_excite": squeeze_excite,
    "shuffle": shuffle,
    "convnext": lambda: convnext(False),
    "convnext_dynamo": lambda: convnext(True),
    "reducemean_pool": reducemean_pool,
    "identity_weights": identity_weights,
}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "fixtures/patterns"
    os.makedirs(out, exist_ok=True)
    for name, make in MODELS.items():
        path = os.path.join(out, name + ".onnx")
        onnx.save(make(), path)
        print(path)
