internal import Foundation

/// Softmax and LogSoftmax backward from the saved output, along the normalized axis (float32).
extension SoftmaxOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard needed[0], let dy = outputGradients[0] else { return [nil] }
        let y = outputs[0]
        try y.requireFloat(node)
        let rank = y.shape.count
        let outer: Int, n: Int, inner: Int
        if coerceTo2D {
            let a = axis < 0 ? axis + rank : axis
            (outer, n, inner) = (y.shape[..<a].reduce(1, *), y.shape[a...].reduce(1, *), 1)
        } else {
            let a = try node.normalizedAxis(axis, rank: rank)
            (outer, n, inner) = (y.shape[..<a].reduce(1, *), y.shape[a], y.shape[(a + 1)...].reduce(1, *))
        }
        let dx = Value(uninitialized: .float, shape: y.shape)
        y.withElements(as: Float.self) { yp in
            dy.withElements(as: Float.self) { g in
                dx.withMutableElements(as: Float.self) { out in
                    let (y, g, out) = (yp.baseAddress!, g.baseAddress!, out.baseAddress!)
                    if inner == 1 {
                        if logarithm {
                            Softmax.logSoftmaxBackward(output: y, gradOutput: g, gradInput: out, rows: outer, cols: n)
                        } else {
                            Softmax.backward(output: y, gradOutput: g, gradInput: out, rows: outer, cols: n)
                        }
                        return
                    }
                    // Lines of stride `inner`: softmax dX = y (dY - sum(dY y)); log: dX = dY - exp(y) sum(dY).
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let base = o * n * inner + i
                            var s: Float = 0
                            for j in 0..<n { s += logarithm ? g[base + j * inner] : g[base + j * inner] * y[base + j * inner] }
                            for j in 0..<n {
                                let e = base + j * inner
                                out[e] = logarithm ? g[e] - exp(y[e]) * s : y[e] * (g[e] - s)
                            }
                        }
                    }
                }
            }
        }
        return [dx]
    }
}
