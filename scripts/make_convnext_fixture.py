"""Writes the ConvNeXt fixtures (issue 40) with PyTorch's two ONNX exporters, random weights.

  python3 scripts/make_convnext_fixture.py fixtures            # the small two-stage stack, both exporters
  python3 scripts/make_convnext_fixture.py --tiny OUT.onnx [--size 64]   # ConvNeXt-Tiny, TorchScript exporter

The network is written here, module for module as torchvision's `convnext.py` builds it
(`CNBlock`: depthwise 7x7, Permute to NHWC, LayerNorm, Linear 4x, GELU, Linear back, Permute
to NCHW, layer scale [C, 1, 1], residual; `LayerNorm2d` = permute, layer_norm, permute; stem 4x4/4
conv + LayerNorm2d; downsample LayerNorm2d + 2x2/2 conv; head avgpool, LayerNorm2d, Flatten,
Linear), because torchvision's wheel from PyPI does not load beside the CPU build of torch here
(its C ops fail to register). Weights: `torch.manual_seed`, then the layer scale set to
0.5 + 0.1 * randn (torchvision initialises it to 1e-6, which would hide the blocks) and the
LayerNorms' weight and bias to 1 + 0.1 * randn and 0.1 * randn.
"""
import argparse
import os
import sys

import torch
from torch import nn
import torch.nn.functional as F


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim, approximate="none"):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU(approximate=approximate)
        self.pw2 = nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pw2(self.act(self.pw1(self.norm(y))))
        y = y.permute(0, 3, 1, 2)
        return x + self.layer_scale * y


class ConvNeXt(nn.Module):
    def __init__(self, dims, depths, classes, approximate=("none",), mean_pool=False):
        super().__init__()
        self.mean_pool = mean_pool
        layers = [nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0], eps=1e-6))]
        k = 0
        for i, (d, n) in enumerate(zip(dims, depths)):
            blocks = []
            for _ in range(n):
                blocks.append(CNBlock(d, approximate[k % len(approximate)]))
                k += 1
            layers.append(nn.Sequential(*blocks))
            if i + 1 < len(dims):
                layers.append(nn.Sequential(LayerNorm2d(d, eps=1e-6), nn.Conv2d(d, dims[i + 1], 2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(dims[-1], eps=1e-6), nn.Flatten(1), nn.Linear(dims[-1], classes))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.mean((2, 3), keepdim=True) if self.mean_pool else self.avgpool(x))


def randomize(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, CNBlock):
                m.layer_scale.copy_(0.5 + 0.1 * torch.randn_like(m.layer_scale))
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
    return model.eval()


def export(model, size, path, dynamo, opset):
    x = torch.randn(2, 3, size, size)
    kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=opset)
    if dynamo:
        batch = torch.export.Dim("N", min=1, max=4096)
        torch.onnx.export(model, (x,), path, dynamo=True, dynamic_shapes={"x": {0: batch}}, external_data=False, **kwargs)
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, **kwargs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.tiny:
        model = randomize(ConvNeXt([96, 192, 384, 768], [3, 3, 9, 3], 1000))
        export(model, args.size, args.out, dynamo=False, opset=17)
        return
    # Two stages of two blocks, 24 and 48 channels, 32x32 inputs, 10 classes; the second stage's
    # blocks use GELU's tanh form, so both forms are in each file. Pooled by a mean over H and W:
    # the dynamo exporter (torch 2.13) writes AdaptiveAvgPool2d(1) with a dynamic batch as
    # Shape/Range/Gather (an as_strided), which this tool does not run (no Range).
    model = randomize(ConvNeXt([24, 48], [2, 2], 10, approximate=("none", "none", "tanh", "tanh"), mean_pool=True))
    export(model, 32, os.path.join(args.out, "convnext-tiny2-32.onnx"), dynamo=False, opset=17)
    try:
        export(model, 32, os.path.join(args.out, "convnext-tiny2-32-dynamo.onnx"), dynamo=True, opset=18)
    except Exception as error:  # recorded in fixtures/PROVENANCE.md
        print(f"dynamo exporter failed: {type(error).__name__}: {error}", file=sys.stderr)
        raise


if __name__ == "__main__":
    main()
