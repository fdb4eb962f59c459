internal import Foundation

/// A pointwise activation, fusable into a convolution's output pass.
///
/// Parameters use ONNX names and defaults: `Clip(min, max)` (ReLU6 is `clip(min: 0, max: 6)`),
/// `LeakyRelu(alpha = 0.01)`, `HardSigmoid(alpha = 0.2, beta = 0.5)`, `HardSwish` (x * HardSigmoid
/// with alpha 1/6, beta 0.5).
public enum Activation: Sendable, Equatable {
    case none
    case relu
    case clip(min: Float, max: Float)
    case leakyRelu(alpha: Float)
    case sigmoid
    case hardSigmoid(alpha: Float, beta: Float)
    case hardSwish
    case tanh

    /// Whether `backward(output:...)` is exact: the derivative is a function of the output.
    /// True for all but `hardSwish` and `leakyRelu` with `alpha <= 0`.
    public var derivativeFollowsFromOutput: Bool {
        switch self {
        case .hardSwish: return false
        case .leakyRelu(let alpha): return alpha > 0
        default: return true
        }
    }
}

extension Activation {
    typealias V = SIMD8<Float>

    /// `y = f(x + bias)` over `count` elements; `y` may equal `x`.
    @inline(__always)
    func apply(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, bias: Float = 0
    ) {
        let b = V(repeating: bias)
        switch self {
        case .none:
            if bias == 0 {
                if UnsafePointer(y) != x { y.update(from: x, count: count) }
            } else {
                SIMDLoops.map(x, y, count) { $0 + b }
            }
        case .relu:
            SIMDLoops.map(x, y, count) { Activation.clamp($0 + b, lo: V()) }
        case .clip(let lo, let hi):
            let l = V(repeating: lo), h = V(repeating: hi)
            SIMDLoops.map(x, y, count) { Activation.clamp($0 + b, lo: l, hi: h) }
        case .leakyRelu(let alpha):
            let a = V(repeating: alpha)
            SIMDLoops.map(x, y, count) { v in
                let t = v + b
                return t.replacing(with: t * a, where: t .< 0)
            }
        case .hardSigmoid(let alpha, let beta):
            let a = V(repeating: alpha), c = V(repeating: beta), one = V(repeating: 1)
            SIMDLoops.map(x, y, count) { Activation.clamp(($0 + b) * a + c, lo: V(), hi: one) }
        case .hardSwish:
            let a = V(repeating: 1.0 / 6.0), c = V(repeating: 0.5), one = V(repeating: 1)
            SIMDLoops.map(x, y, count) { v in
                let t = v + b
                return t * Activation.clamp(t * a + c, lo: V(), hi: one)
            }
        case .sigmoid:
            for i in 0..<count { y[i] = Activation.sigmoid(x[i] + bias) }
        case .tanh:
            for i in 0..<count { y[i] = Foundation.tanh(x[i] + bias) }
        }
    }

    /// Lane-wise clamp by compare-and-select: the stdlib's `pointwiseMin`/`pointwiseMax` handle
    /// NaN lane by lane and measured 6x slower.
    @inline(__always)
    static func clamp(_ v: V, lo: V, hi: V? = nil) -> V {
        var t = v
        t.replace(with: lo, where: t .< lo)
        if let hi { t.replace(with: hi, where: t .> hi) }
        return t
    }

    @inline(__always)
    static func sigmoid(_ v: Float) -> Float {
        v >= 0 ? 1 / (1 + exp(-v)) : { let e = exp(v); return e / (1 + e) }()
    }

    /// `dX = dY * f'(x)` from the saved input `x`; `dX` may equal `dY`.
    func backward(
        input x: UnsafePointer<Float>, dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        switch self {
        case .none:
            if UnsafePointer(dX) != dY { dX.update(from: dY, count: count) }
        case .relu:
            SIMDLoops.zip(x, dY, dX, count) { v, g in g.replacing(with: 0, where: v .<= 0) }
        case .clip(let lo, let hi):
            let l = V(repeating: lo), h = V(repeating: hi)
            SIMDLoops.zip(x, dY, dX, count) { v, g in
                g.replacing(with: 0, where: (v .<= l) .| (v .>= h))
            }
        case .leakyRelu(let alpha):
            let a = V(repeating: alpha)
            SIMDLoops.zip(x, dY, dX, count) { v, g in g.replacing(with: g * a, where: v .<= 0) }
        case .hardSigmoid(let alpha, let beta):
            let a = V(repeating: alpha), c = V(repeating: beta)
            SIMDLoops.zip(x, dY, dX, count) { v, g in
                let t = v * a + c
                return (g * a).replacing(with: 0, where: (t .<= 0) .| (t .>= 1))
            }
        case .hardSwish:
            let three = V(repeating: 3), sixth = V(repeating: 1.0 / 6.0), half = V(repeating: 0.5)
            SIMDLoops.zip(x, dY, dX, count) { v, g in
                // d/dx x*relu6(x+3)/6 = (2x+3)/6 inside (-3, 3), 0 below, 1 above.
                var d = v * sixth * 2 + half
                d.replace(with: 0, where: v .<= -three)
                d.replace(with: 1, where: v .>= three)
                return g * d
            }
        case .sigmoid:
            for i in 0..<count {
                let s = Activation.sigmoid(x[i])
                dX[i] = dY[i] * s * (1 - s)
            }
        case .tanh:
            for i in 0..<count {
                let t = Foundation.tanh(x[i])
                dX[i] = dY[i] * (1 - t * t)
            }
        }
    }

    /// `dX = dY * f'(x)` from the saved output `y = f(x)`; requires `derivativeFollowsFromOutput`.
    func backward(
        output y: UnsafePointer<Float>, dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        precondition(derivativeFollowsFromOutput, "Activation: \(self) needs its input for backward")
        switch self {
        case .none:
            backward(input: y, dY: dY, dX: dX, count: count)
        case .hardSwish:
            preconditionFailure("unreachable: hardSwish was rejected above")
        case .relu:
            SIMDLoops.zip(y, dY, dX, count) { v, g in g.replacing(with: 0, where: v .<= 0) }
        case .clip, .hardSigmoid:
            // Inside the linear segment the output is strictly between the bounds.
            let (lo, hi, slope): (Float, Float, Float) = {
                if case .clip(let l, let h) = self { return (l, h, 1) }
                if case .hardSigmoid(let a, _) = self { return (0, 1, a) }
                return (0, 0, 0)
            }()
            let l = V(repeating: lo), h = V(repeating: hi), s = V(repeating: slope)
            SIMDLoops.zip(y, dY, dX, count) { v, g in
                (g * s).replacing(with: 0, where: (v .<= l) .| (v .>= h))
            }
        case .leakyRelu(let alpha):
            let a = V(repeating: alpha)
            SIMDLoops.zip(y, dY, dX, count) { v, g in g.replacing(with: g * a, where: v .<= 0) }
        case .sigmoid:
            SIMDLoops.zip(y, dY, dX, count) { s, g in g * s * (1 - s) }
        case .tanh:
            SIMDLoops.zip(y, dY, dX, count) { t, g in g * (1 - t * t) }
        }
    }
}
