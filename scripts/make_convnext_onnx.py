"""Writes ConvNeXt-Tiny (random weights) as the TorchScript exporter lays it out, without torch.

  python3 scripts/make_convnext_onnx.py OUT.onnx [--size 64]

For the ConvNeXt bench (issue 40) on a machine where torch cannot be installed: the graph is
written node for node as `scripts/make_convnext_fixture.py --tiny` exports torchvision's
ConvNeXt-Tiny with opset 17 (stem Conv 4x4/4 and LayerNorm2d as Transpose, LayerNormalization,
Transpose; each block a depthwise 7x7 Conv, Transpose to NHWC, LayerNormalization, MatMul and
bias Add, GELU as Div, Erf, Add, Mul, Mul, MatMul and bias Add, Transpose back, layer scale Mul,
residual Add; downsampling LayerNorm2d and Conv 2x2/2; head GlobalAveragePool, LayerNorm2d,
Flatten, Gemm to 1,000 classes), batch dimension N. Weights are drawn as PyTorch initialises
them (uniform within 1/sqrt(fan-in)) from numpy's generator with seed 0, then randomized as
that script does: layer scale 0.5 + 0.1 randn, LayerNorm weight 1 + 0.1 randn, bias 0.1 randn.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIMS, DEPTHS, CLASSES = [96, 192, 384, 768], [3, 3, 9, 3], 1000


class Builder:
    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def uniform(self, name, shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return self.const(name, self.rng.uniform(-bound, bound, size=shape))

    def node(self, op, inputs, name, **attrs):
        out = f"{name}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv(self, x, name, cin, cout, k, stride=1, pad=0, group=1):
        w = self.uniform(f"{name}.weight", (cout, cin // group, k, k), cin // group * k * k)
        b = self.uniform(f"{name}.bias", (cout,), cin // group * k * k)
        return self.node("Conv", [x, w, b], f"/{name}/Conv", kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4, group=group, dilations=[1, 1])

    def layer_norm(self, x, name, c):
        w = self.const(f"{name}.weight", 1 + 0.1 * self.rng.standard_normal(c))
        b = self.const(f"{name}.bias", 0.1 * self.rng.standard_normal(c))
        return self.node("LayerNormalization", [x, w, b], f"/{name}/LayerNormalization", axis=-1, epsilon=1e-6)

    def layer_norm_2d(self, x, name, c):
        y = self.node("Transpose", [x], f"/{name}/Transpose", perm=[0, 2, 3, 1])
        y = self.layer_norm(y, name, c)
        return self.node("Transpose", [y], f"/{name}/Transpose_1", perm=[0, 3, 1, 2])

    def linear(self, x, name, cin, cout):
        w = self.uniform(f"{name}.weight_t", (cin, cout), cin)
        b = self.uniform(f"{name}.bias", (cout,), cin)
        y = self.node("MatMul", [x, w], f"/{name}/MatMul")
        return self.node("Add", [b, y], f"/{name}/Add")

    def gelu(self, x, name):
        d = self.node("Div", [x, self.const(f"{name}.sqrt2", np.float32(np.sqrt(2)))], f"/{name}/Div")
        e = self.node("Erf", [d], f"/{name}/Erf")
        a = self.node("Add", [e, self.const(f"{name}.one", np.float32(1))], f"/{name}/Add")
        m = self.node("Mul", [x, a], f"/{name}/Mul")
        return self.node("Mul", [m, self.const(f"{name}.half", np.float32(0.5))], f"/{name}/Mul_1")

    def block(self, x, name, c):
        y = self.conv(x, f"{name}.dwconv", c, c, 7, pad=3, group=c)
        y = self.node("Transpose", [y], f"/{name}/Transpose", perm=[0, 2, 3, 1])
        y = self.layer_norm(y, f"{name}.norm", c)
        y = self.linear(y, f"{name}.pw1", c, 4 * c)
        y = self.gelu(y, f"{name}.act")
        y = self.linear(y, f"{name}.pw2", 4 * c, c)
        y = self.node("Transpose", [y], f"/{name}/Transpose_1", perm=[0, 3, 1, 2])
        scale = self.const(f"{name}.layer_scale", 0.5 + 0.1 * self.rng.standard_normal((c, 1, 1)))
        y = self.node("Mul", [scale, y], f"/{name}/Mul")
        return self.node("Add", [x, y], f"/{name}/Add")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=64, help="input height and width")
    args = parser.parse_args()
    g = Builder()
    x = g.conv("input", "features.0.0", 3, DIMS[0], 4, stride=4)
    x = g.layer_norm_2d(x, "features.0.1", DIMS[0])
    for i, (c, n) in enumerate(zip(DIMS, DEPTHS)):
        for j in range(n):
            x = g.block(x, f"features.{2 * i + 1}.{j}", c)
        if i + 1 < len(DIMS):
            x = g.layer_norm_2d(x, f"features.{2 * i + 2}.0", c)
            x = g.conv(x, f"features.{2 * i + 2}.1", c, DIMS[i + 1], 2, stride=2)
    x = g.node("GlobalAveragePool", [x], "/avgpool/GlobalAveragePool")
    x = g.layer_norm_2d(x, "classifier.0", DIMS[-1])
    x = g.node("Flatten", [x], "/classifier/classifier.1/Flatten", axis=1)
    w = g.uniform("classifier.2.weight", (CLASSES, DIMS[-1]), DIMS[-1])
    b = g.uniform("classifier.2.bias", (CLASSES,), DIMS[-1])
    g.nodes.append(helper.make_node("Gemm", [x, w, b], ["logits"], name="/classifier/classifier.2/Gemm", alpha=1.0, beta=1.0, transB=1))
    graph = helper.make_graph(g.nodes, "convnext_tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, args.size, args.size])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_convnext_onnx.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)


if __name__ == "__main__":
    main()
