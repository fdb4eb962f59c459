/// LayerNormalization (opset 17): each row of the axes `axis..<rank` (default the last) is
/// normalized to zero mean and unit variance, `y = (x - mean) / sqrt(var + epsilon) * Scale + B`,
/// with Scale and B broadcast to those axes. Statistics are accumulated in double precision
/// whatever `stash_type` says; the optional Mean and InvStdDev outputs have the input's shape
/// with the normalized axes set to 1. Float32 only.
///
/// An input 3 that ONNX does not have, used only in filter pruning's masked graphs
/// (`ChannelPruning.insertMasks`): channel weights, one per element of a row, each 0 or 1. The
/// mean and variance are then over the elements of weight 1 only, as the LayerNormalization
/// computes them once the others are removed; every element is still written.
struct LayerNormalizationOp: Operator {
    let node: Node
    let axis: Int
    let epsilon: Float

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        axis = node.int("axis", default: -1)!
        epsilon = node.float("epsilon", default: 1e-5)!
    }

    /// The normalized axis of `x`, the number of rows and the row length.
    func geometry(_ x: Value) throws(EngineError) -> (axis: Int, rows: Int, length: Int) {
        let a = try node.normalizedAxis(axis, rank: x.shape.count)
        return (a, x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *))
    }

    /// Input `index` (Scale or B) repeated to the normalized shape of `x`.
    func perElement(_ inputs: [Value?], _ index: Int, _ x: Value, axis: Int) throws(EngineError) -> Value? {
        guard index < inputs.count, let v = inputs[index] else { return nil }
        try v.requireFloat(node, "input \(index)")
        guard let e = Broadcast.expand(v, to: Array(x.shape[axis...])) else {
            throw EngineError(node, "input \(index) of shape \(v.shape) does not broadcast to the normalized shape \(Array(x.shape[axis...]))")
        }
        return e
    }

    /// The channel weights (input 3), one per element of a row; nil without.
    func weights(_ inputs: [Value?], length: Int) throws(EngineError) -> [Float]? {
        guard inputs.count > 3, let w = inputs[3] else { return nil }
        try w.requireFloat(node, "input 3")
        guard w.count == length else { throw EngineError(node, "input 3 (channel weights) has \(w.count) values for rows of \(length)") }
        return w.floats
    }

    /// Mean and 1 / sqrt(var + epsilon) of every row (over the elements of weight 1 with `weights`).
    func statistics(_ x: UnsafePointer<Float>, rows: Int, length: Int, weights: [Float]? = nil) -> (mean: [Float], inverseStd: [Float]) {
        var mean = [Float](repeating: 0, count: rows), inverse = [Float](repeating: 0, count: rows)
        let count = weights.map { $0.reduce(0.0) { $0 + Double($1) } } ?? Double(length)
        for r in 0..<rows {
            let row = x + r * length
            var v = 0.0, m = 0.0
            if let weights {
                for j in 0..<length { m += Double(weights[j]) * Double(row[j]) }
                m /= count
                for j in 0..<length {
                    let d = Double(row[j]) - m
                    v += Double(weights[j]) * d * d
                }
            } else {
                m = SIMDLoops.dot(row, nil, length) / count
                for j in 0..<length {
                    let d = Double(row[j]) - m
                    v += d * d
                }
            }
            mean[r] = Float(m)
            inverse[r] = Float(1 / (v / count + Double(epsilon)).squareRoot())
        }
        return (mean, inverse)
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        try x.requireFloat(node)
        let (a, rows, length) = try geometry(x)
        guard let scale = try perElement(inputs, 1, x, axis: a) else { throw EngineError(node, "input 1 (Scale) is required") }
        let bias = try perElement(inputs, 2, x, axis: a)
        let w = try weights(inputs, length: length)
        let y = Value(uninitialized: .float, shape: x.shape)
        var stats: (mean: [Float], inverseStd: [Float]) = ([], [])
        x.withElements(as: Float.self) { xb in
            scale.withElements(as: Float.self) { sb in
                y.withMutableElements(as: Float.self) { yb in
                    guard rows * length > 0 else { return }
                    let (xp, s, out) = (xb.baseAddress!, sb.baseAddress!, yb.baseAddress!)
                    stats = statistics(xp, rows: rows, length: length, weights: w)
                    for r in 0..<rows {
                        let m = stats.mean[r], k = stats.inverseStd[r], offset = r * length
                        for j in 0..<length { out[offset + j] = (xp[offset + j] - m) * k * s[j] }
                    }
                    bias?.withElements(as: Float.self) { bb in
                        for r in 0..<rows { Elementwise.binary(.add, out + r * length, bb.baseAddress!, into: out + r * length, count: length) }
                    }
                }
            }
        }
        var outputs = [y]
        if node.outputs.count > 1 {
            let statShape = Array(x.shape[..<a]) + Array(repeating: 1, count: x.shape.count - a)
            outputs.append(Value(shape: statShape, floats: stats.mean.isEmpty ? Array(repeating: 0, count: rows) : stats.mean))
            if node.outputs.count > 2 {
                outputs.append(Value(shape: statShape, floats: stats.inverseStd.isEmpty ? Array(repeating: 0, count: rows) : stats.inverseStd))
            }
        }
        return outputs
    }
}

/// LayerNormalization backward, with `x̂ = (x - mean) k`, `k = 1 / sqrt(var + epsilon)` and
/// `g = dY * Scale` per row of length n: dX = k (g - mean(g) - x̂ mean(g x̂)); dScale = Σ_rows dY x̂;
/// dB = Σ_rows dY (each then summed over the axes Scale and B were broadcast along). With channel
/// weights w (statistics over the n' elements of weight 1): dX = k (g - w (Σg + x̂ Σ(g x̂)) / n'),
/// the sums over the whole row; the weights are held fixed (their gradient is zero).
extension LayerNormalizationOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        if outputGradients.dropFirst().contains(where: { $0 != nil }) {
            throw EngineError(node, "gradients through the Mean and InvStdDev outputs are not implemented")
        }
        guard let dy = outputGradients[0] else { return result }
        let x = try node.required(inputs, 0)
        let (a, rows, length) = try geometry(x)
        guard let scale = try perElement(inputs, 1, x, axis: a) else { throw EngineError(node, "input 1 (Scale) is required") }
        let normalizedShape = Array(x.shape[a...])
        let w = try weights(inputs, length: length)
        let count = w.map { $0.reduce(0.0) { $0 + Double($1) } } ?? Double(length)
        let dx = Value(uninitialized: .float, shape: x.shape)
        var dScale = [Float](repeating: 0, count: length), dBias = [Float](repeating: 0, count: length)
        x.withElements(as: Float.self) { xb in
            dy.withElements(as: Float.self) { gb in
                scale.withElements(as: Float.self) { sb in
                    dx.withMutableElements(as: Float.self) { ob in
                        guard rows * length > 0 else { return }
                        let (xp, g, s, out) = (xb.baseAddress!, gb.baseAddress!, sb.baseAddress!, ob.baseAddress!)
                        let (mean, inverse) = statistics(xp, rows: rows, length: length, weights: w)
                        var xhat = [Float](repeating: 0, count: length)
                        for r in 0..<rows {
                            let offset = r * length, k = inverse[r]
                            var sumG = 0.0, sumGX = 0.0
                            for j in 0..<length {
                                let h = (xp[offset + j] - mean[r]) * k
                                xhat[j] = h
                                let gj = g[offset + j] * s[j]
                                sumG += Double(gj)
                                sumGX += Double(gj * h)
                                dScale[j] += g[offset + j] * h
                                dBias[j] += g[offset + j]
                            }
                            let m1 = Float(sumG / count), m2 = Float(sumGX / count)
                            if let w {
                                for j in 0..<length { out[offset + j] = k * (g[offset + j] * s[j] - w[j] * (m1 + xhat[j] * m2)) }
                            } else {
                                for j in 0..<length { out[offset + j] = k * (g[offset + j] * s[j] - m1 - xhat[j] * m2) }
                            }
                        }
                    }
                }
            }
        }
        if needed[0] { result[0] = dx }
        if needed.count > 1, needed[1], let s = inputs[1] { result[1] = Value(shape: normalizedShape, floats: dScale).reduced(to: s.shape) }
        if needed.count > 2, needed[2], let b = inputs[2] { result[2] = Value(shape: normalizedShape, floats: dBias).reduced(to: b.shape) }
        if needed.count > 3, needed[3], let weights = inputs[3] { result[3] = Value(shape: weights.shape, floats: [Float](repeating: 0, count: weights.count)) }
        return result
    }
}
