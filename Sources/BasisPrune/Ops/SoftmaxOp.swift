import Foundation

/// Softmax and LogSoftmax over float, double and float16, stable (the maximum is subtracted).
/// Before opset 13 the input is coerced to 2-D at `axis` (default 1) and normalized over each
/// row; from 13 it is normalized along `axis` alone (default -1).
struct SoftmaxOp: Operator {
    let node: Node
    let axis: Int
    let coerceTo2D: Bool
    let logarithm: Bool

    init(node: Node, context: BuildContext, logarithm: Bool) {
        self.node = node
        coerceTo2D = context.opset < 13
        axis = node.int("axis", default: coerceTo2D ? 1 : -1)!
        self.logarithm = logarithm
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let rank = x.shape.count
        let outer: Int, n: Int, inner: Int
        if coerceTo2D {
            guard axis >= -rank, axis <= rank else { throw EngineError(node, "axis \(axis) is out of range for rank \(rank)") }
            let a = axis < 0 ? axis + rank : axis
            (outer, n, inner) = (x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *), 1)
        } else {
            let a = try node.normalizedAxis(axis, rank: max(rank, 1))
            guard rank > 0 else { throw EngineError(node, "the input must have rank 1 or more") }
            (outer, n, inner) = (x.shape[..<a].reduce(1, *), x.shape[a], x.shape[(a + 1)...].reduce(1, *))
        }
        let y = Value(uninitialized: x.dataType, shape: x.shape)
        switch x.dataType {
        case .float: softmax(Float.self, Float.self, x, y, outer, n, inner, logarithm)
        case .double: softmax(Double.self, Double.self, x, y, outer, n, inner, logarithm)
        case .float16: softmax(Float16.self, Float.self, x, y, outer, n, inner, logarithm)
        default: throw EngineError(node, "\(node.opType) of \(x.dataType) is not supported")
        }
        return [y]
    }
}

/// Softmax of each of the `outer * inner` lines of `n` elements (stride `inner`), computed in `C`.
private func softmax<T: BinaryFloatingPoint, C: BinaryFloatingPoint & ElementaryFunctionsShim>(
    _: T.Type, _: C.Type, _ x: Value, _ y: Value, _ outer: Int, _ n: Int, _ inner: Int, _ logarithm: Bool
) {
    guard n > 0, inner > 0 else { return }
    var maxima = [C](repeating: 0, count: inner), sums = [C](repeating: 0, count: inner)
    x.withElements(as: T.self) { input in
        y.withMutableElements(as: T.self) { output in
            for o in 0..<outer {
                let base = o * n * inner
                for i in 0..<inner { maxima[i] = C(input[base + i]) }
                for j in 1..<n {
                    let line = base + j * inner
                    for i in 0..<inner { maxima[i] = max(maxima[i], C(input[line + i])) }
                }
                for i in 0..<inner { sums[i] = 0 }
                for j in 0..<n {
                    let line = base + j * inner
                    for i in 0..<inner { sums[i] += C.exponential(C(input[line + i]) - maxima[i]) }
                }
                for j in 0..<n {
                    let line = base + j * inner
                    for i in 0..<inner {
                        let shifted = C(input[line + i]) - maxima[i]
                        output[line + i] = T(logarithm ? shifted - C.logarithm(sums[i]) : C.exponential(shifted) / sums[i])
                    }
                }
            }
        }
    }
}

/// exp and log for the types softmax computes in.
protocol ElementaryFunctionsShim {
    static func exponential(_ x: Self) -> Self
    static func logarithm(_ x: Self) -> Self
}

extension Float: ElementaryFunctionsShim {
    static func exponential(_ x: Float) -> Float { Foundation.exp(x) }
    static func logarithm(_ x: Float) -> Float { Foundation.log(x) }
}

extension Double: ElementaryFunctionsShim {
    static func exponential(_ x: Double) -> Double { Foundation.exp(x) }
    static func logarithm(_ x: Double) -> Double { Foundation.log(x) }
}
