/// Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh and Clip over float32 (Clip also over
/// integers), with the spec's attribute names and defaults. The executor may fuse these into
/// the Conv before them.
struct ActivationOp: Operator {
    let node: Node
    let activation: Activation

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        switch node.opType {
        case "Relu": activation = .relu
        case "LeakyRelu": activation = .leakyRelu(alpha: node.float("alpha", default: 0.01)!)
        case "Sigmoid": activation = .sigmoid
        case "HardSigmoid": activation = .hardSigmoid(alpha: node.float("alpha", default: 0.2)!, beta: node.float("beta", default: 0.5)!)
        case "HardSwish": activation = .hardSwish
        case "Tanh": activation = .tanh
        default: throw EngineError(node, "not an activation")
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        try x.requireFloat(node)
        let y = Value(uninitialized: .float, shape: x.shape)
        x.withElements(as: Float.self) { src in
            y.withMutableElements(as: Float.self) { Elementwise.activation(activation, src.baseAddress!, into: $0.baseAddress!, count: $0.count) }
        }
        return [y]
    }
}

/// Clip: bounds from the min/max attributes (opset < 11) or the optional min/max inputs.
struct ClipOp: Operator {
    let node: Node
    let opset: Int64
    /// The bounds when they are constant, for fusing into a Conv.
    let constantBounds: (min: Float, max: Float)?

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        opset = context.opset
        // A bound given by a non-constant input cannot be fused.
        constantBounds = Self.floatBounds(node, opset: opset) { node.input($0).flatMap { context.constants[$0] } }
    }

    /// The float bounds of a Clip: its min/max attributes (opset < 11), or its optional min and
    /// max inputs as `input(i)` gives them, where an absent input leaves that side open; nil
    /// when a given bound is not a float scalar (`input` has no value for it). The one reading
    /// of Clip's bounds for the reference kernels, their gradients and the oneDNN lowering.
    static func floatBounds(_ node: Node, opset: Int64, input: (Int) -> Value?) -> (min: Float, max: Float)? {
        if opset < 11 { return (node.float("min", default: -.infinity)!, node.float("max", default: .infinity)!) }
        var bounds: [Float] = [-.infinity, .infinity]
        for i in 1...2 where node.input(i) != nil {
            guard let v = input(i), v.dataType == .float, v.count == 1 else { return nil }
            bounds[i - 1] = v.floats[0]
        }
        return (bounds[0], bounds[1])
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let bound = { (i: Int) -> Value? in i < inputs.count ? inputs[i] : nil }
        if opset >= 11 {
            for i in 1...2 {
                if let b = bound(i), b.dataType != x.dataType || b.count != 1 {
                    throw EngineError(node, "bound \(i) must be a scalar of the input's type")
                }
            }
        }
        let y = Value(uninitialized: x.dataType, shape: x.shape)
        func clip<T: Comparable>(_: T.Type, _ lowest: T, _ highest: T, attr: (Float) -> T) {
            let lo: T = opset < 11 ? attr(node.float("min", default: -.greatestFiniteMagnitude)!) : bound(1)?.withElements(as: T.self) { $0[0] } ?? lowest
            let hi: T = opset < 11 ? attr(node.float("max", default: .greatestFiniteMagnitude)!) : bound(2)?.withElements(as: T.self) { $0[0] } ?? highest
            x.withElements(as: T.self) { src in
                y.withMutableElements(as: T.self) { out in for i in 0..<out.count { out[i] = min(max(src[i], lo), hi) } }
            }
        }
        switch x.dataType {
        case .float:
            guard let (lo, hi) = Self.floatBounds(node, opset: opset, input: bound) else { throw EngineError(node, "bounds must be float scalars") }
            x.withElements(as: Float.self) { src in
                y.withMutableElements(as: Float.self) { Elementwise.activation(.clip(min: lo, max: hi), src.baseAddress!, into: $0.baseAddress!, count: $0.count) }
            }
        case .double: clip(Double.self, -.infinity, .infinity) { Double($0) }
        case .int64: clip(Int64.self, .min, .max) { Int64($0) }
        case .int32: clip(Int32.self, .min, .max) { Int32($0) }
        case .int8: clip(Int8.self, .min, .max) { Int8(clamping: Int($0)) }
        case .uint8: clip(UInt8.self, .min, .max) { UInt8(clamping: Int($0)) }
        default: throw EngineError(node, "inputs of type \(x.dataType) are not supported")
        }
        return [y]
    }
}

/// BatchNormalization in inference mode: `y = (x - mean) / sqrt(var + epsilon) * scale + B`,
/// folded once per call into a per-channel scale and shift.
struct BatchNormOp: Operator {
    let node: Node
    let epsilon: Float

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        epsilon = node.float("epsilon", default: 1e-5)!
        if node.int("training_mode", default: 0)! != 0 || node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw EngineError(node, "training mode (running statistics outputs) is not supported")
        }
        if context.opset < 9, node.int("spatial", default: 1)! == 0 {
            throw EngineError(node, "spatial = 0 is not supported")
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        try x.requireFloat(node)
        guard x.shape.count >= 2 else { throw EngineError(node, "input shape \(x.shape) has no channels") }
        let c = x.shape[1]
        var params: [[Float]] = []
        for i in 1...4 {
            let p = try node.required(inputs, i)
            try p.requireFloat(node, "input \(i)")
            guard p.count == c else { throw EngineError(node, "input \(i) has \(p.count) values for \(c) channels") }
            params.append(p.floats)
        }
        let scale = (0..<c).map { params[0][$0] / (params[3][$0] + epsilon).squareRoot() }
        let shift = (0..<c).map { params[1][$0] - params[2][$0] * scale[$0] }
        let n = x.shape[0], plane = x.shape.dropFirst(2).reduce(1, *)
        let y = Value(uninitialized: .float, shape: x.shape)
        x.withElements(as: Float.self) { src in
            y.withMutableElements(as: Float.self) { out in
                scale.withUnsafeBufferPointer { s in
                    Elementwise.binaryPerChannel(.mul, src.baseAddress!, channelValues: s.baseAddress!, into: out.baseAddress!, n: n, c: c, plane: plane)
                }
                shift.withUnsafeBufferPointer { b in
                    Elementwise.binaryPerChannel(.add, out.baseAddress!, channelValues: b.baseAddress!, into: out.baseAddress!, n: n, c: c, plane: plane)
                }
            }
        }
        return [y]
    }
}
