"""Fashion-MNIST preprocessing as shared/models/README.md states it, in numpy, independent of
the tool's own loader: 28x28 grey -> bilinear resize with half-pixel centres (PyTorch
interpolate(mode="bilinear", align_corners=False), no antialias, float32) -> (p - 127) / 128
-> grey replicated to 3 channels, NCHW float32.

As a program: fmnist_reference.py IMAGES.gz OUT_H OUT_W INDEX... writes the preprocessed
images' float32 bytes to stdout.
"""
import gzip
import sys

import numpy as np


def resize_axis(size_in, size_out):
    f = np.float32
    scale = f(size_in) / f(size_out)
    real = np.maximum(scale * (np.arange(size_out, dtype=f) + f(0.5)) - f(0.5), f(0))
    i0 = np.minimum(np.floor(real).astype(np.int64), size_in - 1)
    i1 = np.where(i0 < size_in - 1, i0 + 1, i0)
    l1 = np.clip(real - i0.astype(f), f(0), f(1)).astype(f)
    return i0, i1, (f(1) - l1).astype(f), l1


def preprocess(images, out_h, out_w):
    """images: [N, H, W] float32 pixels in 0..255 -> [N, 3, out_h, out_w] float32."""
    y0, y1, h0, h1 = resize_axis(images.shape[1], out_h)
    x0, x1, w0, w1 = resize_axis(images.shape[2], out_w)
    top = w0 * images[:, y0][:, :, x0] + w1 * images[:, y0][:, :, x1]
    bottom = w0 * images[:, y1][:, :, x0] + w1 * images[:, y1][:, :, x1]
    resized = h0[:, None] * top + h1[:, None] * bottom
    normalised = (resized - np.float32(127)) / np.float32(128)
    return np.repeat(normalised[:, None], 3, axis=1).astype(np.float32)


def load_images(path):
    raw = gzip.open(path).read()
    count, rows, cols = (int.from_bytes(raw[4 * k:4 * k + 4], "big") for k in (1, 2, 3))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)


if __name__ == "__main__":
    path, out_h, out_w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    indices = [int(i) for i in sys.argv[4:]]
    images = load_images(path)[indices].astype(np.float32)
    sys.stdout.buffer.write(preprocess(images, out_h, out_w).tobytes())
