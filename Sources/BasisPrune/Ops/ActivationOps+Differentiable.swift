/// Activation, Clip and inference BatchNormalization backward.
extension ActivationOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard let dy = outputGradients[0], needed[0] else { return [nil] }
        let x = try node.required(inputs, 0)
        return [x.mapFloats { xp, out, count in
            dy.withElements(as: Float.self) { Elementwise.activationBackward(activation, input: xp, dY: $0.baseAddress!, into: out, count: count) }
        }]
    }
}

extension ClipOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        guard let dy = outputGradients[0] else { return result }
        if needed.dropFirst().contains(true) { throw EngineError(node, "gradients of the bounds are not implemented") }
        guard needed[0] else { return result }
        let x = try node.required(inputs, 0)
        try x.requireFloat(node)
        let bound = { (i: Int) -> Value? in i < inputs.count ? inputs[i] : nil }
        guard let (lo, hi) = ClipOp.floatBounds(node, opset: opset, input: bound) else { throw EngineError(node, "bounds must be float scalars") }
        result[0] = x.mapFloats { xp, out, count in
            dy.withElements(as: Float.self) { Elementwise.activationBackward(.clip(min: lo, max: hi), input: xp, dY: $0.baseAddress!, into: out, count: count) }
        }
        return result
    }
}

extension BatchNormOp: Differentiable {
    /// With `k = scale / sqrt(var + eps)`: dX = dY * k; dScale = sum(dY * (x - mean)) / sqrt(var + eps);
    /// dB = sum(dY); dMean = -k * sum(dY); dVar = -scale / 2 * (var + eps)^-3/2 * sum(dY * (x - mean)).
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        guard let dy = outputGradients[0] else { return result }
        let x = try node.required(inputs, 0)
        let c = x.shape[1]
        var params: [[Float]] = []
        for i in 1...4 { params.append(try node.required(inputs, i).floats) }
        let (scale, mean, variance) = (params[0], params[2], params[3])
        let inverseStd = variance.map { 1 / ($0 + epsilon).squareRoot() }
        let k = Value(shape: [c], floats: (0..<c).map { scale[$0] * inverseStd[$0] })
        if needed[0] { result[0] = ArithmeticOp.scaled(dy, by: k, .mul) }
        guard needed.dropFirst().contains(true) else { return result }
        let sumDy = ArithmeticOp.channelSum(dy).floats
        let sumDyX = ArithmeticOp.channelDot(dy, x, shape: [c]).floats
        // sum(dY * (x - mean)) per channel.
        let centered = (0..<c).map { sumDyX[$0] - mean[$0] * sumDy[$0] }
        let shapes = (1...4).map { inputs[$0]!.shape }
        if needed[1] { result[1] = Value(shape: shapes[0], floats: (0..<c).map { centered[$0] * inverseStd[$0] }) }
        if needed[2] { result[2] = Value(shape: shapes[1], floats: sumDy) }
        if needed[3] { result[3] = Value(shape: shapes[2], floats: (0..<c).map { -k.floats[$0] * sumDy[$0] }) }
        if needed[4] {
            result[4] = Value(shape: shapes[3], floats: (0..<c).map { -0.5 * scale[$0] * inverseStd[$0] * inverseStd[$0] * inverseStd[$0] * centered[$0] })
        }
        return result
    }
}

extension ArithmeticOp {
    /// `sum over n, p of dy` per channel of NCHW `dy`, as [C].
    static func channelSum(_ dy: Value) -> Value {
        let n = dy.shape[0], c = dy.shape[1], plane = dy.shape.dropFirst(2).reduce(1, *)
        let out = Value(uninitialized: .float, shape: [c])
        dy.withElements(as: Float.self) { g in
            out.withMutableElements(as: Float.self) { Elementwise.sumPerChannel(g.baseAddress!, n: n, c: c, plane: plane, into: $0.baseAddress!) }
        }
        return out
    }
}
