/// Add, Sub, Mul, Div backward with broadcasting: each operand's gradient is summed over the
/// axes it was broadcast along. A per-channel operand of NCHW (the scaling factors) takes the
/// per-channel kernels.
extension ArithmeticOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard let dy = outputGradients[0] else { return [nil, nil] }
        let a = try node.required(inputs, 0), b = try node.required(inputs, 1)
        guard a.dataType == .float else { throw EngineError(node, "gradients of \(a.dataType) are not supported (float32 only)") }
        let shape = dy.shape
        switch op {
        case .add:
            return [needed[0] ? dy.reduced(to: a.shape) : nil, needed[1] ? dy.reduced(to: b.shape) : nil]
        case .sub:
            return [needed[0] ? dy.reduced(to: a.shape) : nil, needed[1] ? dy.reduced(to: b.shape).negated() : nil]
        case .mul:
            if Self.isPerChannel(b.shape, of: shape), a.shape == shape {
                return [needed[0] ? Self.scaled(dy, by: b, .mul) : nil, needed[1] ? Self.channelDot(dy, a, shape: b.shape) : nil]
            }
            if Self.isPerChannel(a.shape, of: shape), b.shape == shape {
                return [needed[0] ? Self.channelDot(dy, b, shape: a.shape) : nil, needed[1] ? Self.scaled(dy, by: a, .mul) : nil]
            }
            return [needed[0] ? try product(dy, b, shape).reduced(to: a.shape) : nil,
                    needed[1] ? try product(dy, a, shape).reduced(to: b.shape) : nil]
        case .div:
            // d(a/b)/da = 1/b; d(a/b)/db = -y/b.
            let y = outputs[0]
            var da: Value? = nil, db: Value? = nil
            if needed[0] { da = try quotient(dy, b, shape).reduced(to: a.shape) }
            if needed[1] { db = try quotient(try product(dy, y, shape), b, shape).reduced(to: b.shape).negated() }
            return [da, db]
        }
    }

    /// Whether `operand` is a per-channel vector ([C,1,1] or [1,C,1,1]) of NCHW `shape`.
    static func isPerChannel(_ operand: [Int], of shape: [Int]) -> Bool {
        guard shape.count >= 3, operand.count <= shape.count, operand != shape else { return false }
        let padded = Array(repeating: 1, count: shape.count - operand.count) + operand
        return padded[0] == 1 && padded[1] == shape[1] && padded.dropFirst(2).allSatisfy { $0 == 1 }
    }

    /// `dy op v[c]` over NCHW `dy`.
    static func scaled(_ dy: Value, by v: Value, _ op: BinaryOp) -> Value {
        let n = dy.shape[0], c = dy.shape[1], plane = dy.shape.dropFirst(2).reduce(1, *)
        return dy.mapFloats { g, out, _ in
            v.withElements(as: Float.self) { Elementwise.binaryPerChannel(op, g, channelValues: $0.baseAddress!, into: out, n: n, c: c, plane: plane) }
        }
    }

    /// `sum over n, p of dy * x` per channel, with the operand's `shape`.
    static func channelDot(_ dy: Value, _ x: Value, shape: [Int]) -> Value {
        let n = dy.shape[0], c = dy.shape[1], plane = dy.shape.dropFirst(2).reduce(1, *)
        let out = Value(uninitialized: .float, shape: shape)
        dy.withElements(as: Float.self) { g in
            x.withElements(as: Float.self) { xp in
                out.withMutableElements(as: Float.self) { Elementwise.dotPerChannel(g.baseAddress!, xp.baseAddress!, n: n, c: c, plane: plane, into: $0.baseAddress!) }
            }
        }
        return out
    }

    func product(_ p: Value, _ q: Value, _ shape: [Int]) throws(EngineError) -> Value { try combine(.mul, p, q, shape) }
    func quotient(_ p: Value, _ q: Value, _ shape: [Int]) throws(EngineError) -> Value { try combine(.div, p, q, shape) }

    /// `p op q` with both broadcast to `shape`.
    func combine(_ op: BinaryOp, _ p: Value, _ q: Value, _ shape: [Int]) throws(EngineError) -> Value {
        if p.shape == shape, Self.isPerChannel(q.shape, of: shape) { return Self.scaled(p, by: q, op) }
        guard let ep = Broadcast.expand(p, to: shape), let eq = Broadcast.expand(q, to: shape) else {
            throw EngineError(node, "shapes \(p.shape) and \(q.shape) do not broadcast to \(shape)")
        }
        return ep.mapFloats { x, out, count in
            eq.withElements(as: Float.self) { Elementwise.binary(op, x, $0.baseAddress!, into: out, count: count) }
        }
    }
}

/// Neg backward: `-dY`.
extension NegOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard let dy = outputGradients[0], needed[0] else { return [nil] }
        guard dy.dataType == .float else { throw EngineError(node, "gradients of \(dy.dataType) are not supported (float32 only)") }
        return [dy.negated()]
    }
}

extension Value {
    /// `-self` (float32) into new storage.
    func negated() -> Value {
        mapFloats { x, out, count in SIMDLoops.map(x, out, count) { -$0 } }
    }
}
