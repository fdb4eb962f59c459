/// Identity, Dropout, Reshape, Flatten, Squeeze and Unsqueeze backward: the output gradient
/// viewed with the input's shape (storage shared); shape and axes inputs get none.
extension PassThrough: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        if needed[0], let dy = outputGradients[0] { result[0] = dy }
        return result
    }
}

extension ReshapeOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        try reshapedGradient(node, inputs, outputGradients, needed)
    }
}

extension FlattenOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        try reshapedGradient(node, inputs, outputGradients, needed)
    }
}

extension SqueezeOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        try reshapedGradient(node, inputs, outputGradients, needed)
    }
}

extension UnsqueezeOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        try reshapedGradient(node, inputs, outputGradients, needed)
    }
}

/// The gradient of an op that only changes the shape of input 0.
private func reshapedGradient(_ node: Node, _ inputs: [Value?], _ outputGradients: [Value?], _ needed: [Bool]) throws(EngineError) -> [Value?] {
    var result = [Value?](repeating: nil, count: inputs.count)
    guard needed[0], let dy = outputGradients[0] else { return result }
    result[0] = try dy.reshaped(node.required(inputs, 0).shape)
    return result
}

/// Transpose backward: the output gradient transposed by the inverse permutation.
extension TransposeOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard needed[0], let dy = outputGradients[0] else { return [nil] }
        let x = try node.required(inputs, 0)
        let rank = x.shape.count
        let perm = self.perm ?? Array((0..<rank).reversed())
        var inverse = Array(repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        let dyStrides = rowMajorStrides(dy.shape)
        let dx = Value(uninitialized: .float, shape: x.shape)
        dy.storage.withUnsafeBytes { source in
            dx.storage.withUnsafeMutableBytes { destination in
                guard let s = source.baseAddress, let d = destination.baseAddress else { return }
                stridedCopy(from: s, base: 0, strides: inverse.map { dyStrides[$0] }, shape: x.shape, to: d, elementSize: 4)
            }
        }
        return [dx]
    }
}
