/// ReduceMean and ReduceSum backward: each input element receives the gradient of the output
/// element it was reduced into (divided by the reduced count for the mean).
extension ReduceOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        guard needed[0], let dy = outputGradients[0] else { return result }
        let x = try node.required(inputs, 0)
        try x.requireFloat(node)
        let rank = x.shape.count
        guard let axes = try axes(inputs, rank: rank) else {
            result[0] = dy
            return result
        }
        let divisor = isMean ? axes.reduce(1) { $0 * x.shape[$1] } : 1
        let factor = 1 / Float(max(divisor, 1))
        var keptShape = x.shape
        for a in axes { keptShape[a] = 1 }
        // Trailing axes (global pooling): each output gradient fills one contiguous run.
        if axes == Array((rank - axes.count)..<rank) {
            let run = axes.reduce(1) { $0 * x.shape[$1] }
            let dx = Value(uninitialized: .float, shape: x.shape)
            dy.withElements(as: Float.self) { g in
                dx.withMutableElements(as: Float.self) { out in
                    guard let o = out.baseAddress else { return }
                    for i in 0..<g.count { (o + i * run).update(repeating: g[i] * factor, count: run) }
                }
            }
            result[0] = dx
            return result
        }
        guard let expanded = Broadcast.expand(dy.reshaped(keptShape), to: x.shape) else {
            throw EngineError(node, "the output gradient \(dy.shape) does not broadcast to the input \(x.shape)")
        }
        result[0] = divisor == 1 ? expanded : expanded.mapFloats { g, out, count in SIMDLoops.map(g, out, count) { $0 * factor } }
        return result
    }
}
