/// The shape of a 2-D convolution over float32 NCHW tensors, with ONNX `Conv` semantics.
///
/// Input `[n, cin, h, w]`, weight `[cout, cin / groups, kh, kw]`, optional bias `[cout]`,
/// output `[n, cout, outH, outW]`. Pads are explicit per side (ONNX `pads` is
/// `[top, left, bottom, right]`), so asymmetric padding and `auto_pad` resolve to them.
public struct ConvGeometry: Sendable, Equatable, CustomStringConvertible {
    public var n: Int, cin: Int, h: Int, w: Int
    public var cout: Int, kh: Int, kw: Int
    public var strideH: Int, strideW: Int
    public var dilationH: Int, dilationW: Int
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    public var groups: Int

    public init(
        n: Int, cin: Int, h: Int, w: Int, cout: Int, kh: Int, kw: Int,
        strideH: Int = 1, strideW: Int = 1, dilationH: Int = 1, dilationW: Int = 1,
        padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0,
        groups: Int = 1
    ) {
        self.n = n; self.cin = cin; self.h = h; self.w = w
        self.cout = cout; self.kh = kh; self.kw = kw
        self.strideH = strideH; self.strideW = strideW
        self.dilationH = dilationH; self.dilationW = dilationW
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
        self.groups = groups
    }

    public var outH: Int { (h + padTop + padBottom - dilationH * (kh - 1) - 1) / strideH + 1 }
    public var outW: Int { (w + padLeft + padRight - dilationW * (kw - 1) - 1) / strideW + 1 }

    public var inputCount: Int { n * cin * h * w }
    public var outputCount: Int { n * cout * outH * outW }
    public var weightCount: Int { cout * (cin / groups) * kh * kw }

    /// Multiply-accumulates of the forward pass (FLOPs are twice this).
    public var macs: Int { outputCount * (cin / groups) * kh * kw }

    /// One input and one output channel per group: runs the direct depthwise kernel.
    public var isDepthwise: Bool { groups > 1 && groups == cin && groups == cout }

    /// 1x1, stride 1, no padding: the input planes are already the GEMM's right operand.
    public var isPointwise: Bool {
        kh == 1 && kw == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }

    /// Checks the geometry once at the API edge; kernels then only use preconditions.
    public var isValid: Bool {
        n >= 0 && cin > 0 && h > 0 && w > 0 && cout > 0 && kh > 0 && kw > 0
            && strideH > 0 && strideW > 0 && dilationH > 0 && dilationW > 0
            && min(padTop, padLeft, padBottom, padRight) >= 0
            && groups > 0 && cin % groups == 0 && cout % groups == 0
            && outH > 0 && outW > 0
    }

    public var description: String {
        "conv n\(n) \(cin)x\(h)x\(w) -> \(cout)x\(outH)x\(outW) k\(kh)x\(kw) s\(strideH),\(strideW)"
            + " d\(dilationH),\(dilationW) p\(padTop),\(padLeft),\(padBottom),\(padRight) g\(groups)"
    }
}

/// The output index range whose input index `o * stride + offset` lies in `0..<size`,
/// clamped to `0..<count`: the interior where a kernel tap needs no bounds checks.
@inline(__always)
func validOutputRange(count: Int, stride: Int, offset: Int, size: Int) -> Range<Int> {
    let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
    let last = size - 1 - offset
    let hi = last < 0 ? 0 : last / stride + 1
    let l = min(lo, count), u = min(hi, count)
    return l..<max(l, u)
}
