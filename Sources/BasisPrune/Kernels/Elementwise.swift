/// A binary arithmetic operation.
public enum BinaryOp: Sendable, Equatable {
    case add, sub, mul, div
}

/// Vectorised pointwise loops over flat float32 buffers and NCHW tensors.
///
/// Every output may be the same pointer as one of its inputs (in-place); partial overlap is
/// not allowed. NCHW buffers are given as `n`, `c` and `plane = h * w`.
public enum Elementwise {
    /// `out[i] = a[i] op b[i]` for `i < count`.
    public static func binary(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        switch op {
        case .add: SIMDLoops.zip(a, b, out, count) { $0 + $1 }
        case .sub: SIMDLoops.zip(a, b, out, count) { $0 - $1 }
        case .mul: SIMDLoops.zip(a, b, out, count) { $0 * $1 }
        case .div: SIMDLoops.zip(a, b, out, count) { $0 / $1 }
        }
    }

    /// `out[n, c, p] = x[n, c, p] op v[c]`: a per-channel vector broadcast over NCHW.
    public static func binaryPerChannel(
        _ op: BinaryOp, _ x: UnsafePointer<Float>, channelValues v: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, n: Int, c: Int, plane: Int
    ) {
        for i in 0..<n {
            for ch in 0..<c {
                let off = (i * c + ch) * plane
                let s = SIMD8<Float>(repeating: v[ch])
                switch op {
                case .add: SIMDLoops.map(x + off, out + off, plane) { $0 + s }
                case .sub: SIMDLoops.map(x + off, out + off, plane) { $0 - s }
                case .mul: SIMDLoops.map(x + off, out + off, plane) { $0 * s }
                case .div: SIMDLoops.map(x + off, out + off, plane) { $0 / s }
                }
            }
        }
    }

    /// `out[c] = sum over n, p of x[n, c, p]`: the gradient of a per-channel add (bias).
    public static func sumPerChannel(
        _ x: UnsafePointer<Float>, n: Int, c: Int, plane: Int, into out: UnsafeMutablePointer<Float>
    ) {
        for ch in 0..<c {
            var total = 0.0
            for i in 0..<n { total += SIMDLoops.dot(x + (i * c + ch) * plane, nil, plane) }
            out[ch] = Float(total)
        }
    }

    /// `out[c] = sum over n, p of a[n, c, p] * b[n, c, p]`: the gradient of a per-channel
    /// scale (scaling factors) from `a = dY` and `b = x`.
    public static func dotPerChannel(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, n: Int, c: Int, plane: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        for ch in 0..<c {
            var total = 0.0
            for i in 0..<n {
                let off = (i * c + ch) * plane
                total += SIMDLoops.dot(a + off, b + off, plane)
            }
            out[ch] = Float(total)
        }
    }

    /// `y = f(x)`.
    public static func activation(
        _ f: Activation, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int
    ) {
        f.apply(x, y, count: count)
    }

    /// `dX = dY * f'(x)` from the saved input `x`.
    public static func activationBackward(
        _ f: Activation, input x: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        into dX: UnsafeMutablePointer<Float>, count: Int
    ) {
        f.backward(input: x, dY: dY, dX: dX, count: count)
    }

    /// `dX = dY * f'(x)` from the saved output `y = f(x)`; requires
    /// `f.derivativeFollowsFromOutput` (use it after a conv with a fused activation).
    public static func activationBackward(
        _ f: Activation, output y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        into dX: UnsafeMutablePointer<Float>, count: Int
    ) {
        f.backward(output: y, dY: dY, dX: dX, count: count)
    }
}
