/// Add, Sub, Mul, Div with multidirectional broadcasting, for float32 (vectorised, with a
/// per-channel fast path) and every other numeric type (integers wrap; integer division by
/// zero is an error). Neg for float and signed integers.
struct ArithmeticOp: Operator {
    let node: Node
    let op: BinaryOp

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let a = try node.required(inputs, 0), b = try node.required(inputs, 1)
        guard a.dataType == b.dataType else { throw EngineError(node, "input types \(a.dataType) and \(b.dataType) differ") }
        guard let shape = ShapeInference.broadcast(a.shape, b.shape) else {
            throw EngineError(node, "shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        if a.dataType == .float, let y = perChannel(a, b, shape) { return [y] }
        guard let ea = Broadcast.expand(a, to: shape), let eb = Broadcast.expand(b, to: shape) else {
            throw EngineError(node, "shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let y = Value(uninitialized: a.dataType, shape: shape)
        switch a.dataType {
        case .float:
            ea.withElements(as: Float.self) { x in
                eb.withElements(as: Float.self) { z in
                    y.withMutableElements(as: Float.self) { Elementwise.binary(op, x.baseAddress!, z.baseAddress!, into: $0.baseAddress!, count: $0.count) }
                }
            }
        case .double: apply(Double.self, ea, eb, y, +, -, *, /)
        case .int64: try integer(Int64.self, ea, eb, y)
        case .int32: try integer(Int32.self, ea, eb, y)
        case .int16: try integer(Int16.self, ea, eb, y)
        case .int8: try integer(Int8.self, ea, eb, y)
        case .uint64: try integer(UInt64.self, ea, eb, y)
        case .uint32: try integer(UInt32.self, ea, eb, y)
        case .uint16: try integer(UInt16.self, ea, eb, y)
        case .uint8: try integer(UInt8.self, ea, eb, y)
        default: throw EngineError(node, "inputs of type \(a.dataType) are not supported")
        }
        return [y]
    }

    /// `x op v[c]` for NCHW `x` and `v` of shape [C, 1, 1] or [1, C, 1, 1] (bias-like operands).
    func perChannel(_ a: Value, _ b: Value, _ shape: [Int]) -> Value? {
        guard a.shape == shape, shape.count >= 3 else { return nil }
        let padded = Array(repeating: 1, count: shape.count - b.shape.count) + b.shape
        guard padded[0] == 1, padded[1] == shape[1], padded.dropFirst(2).allSatisfy({ $0 == 1 }) else { return nil }
        let y = Value(uninitialized: .float, shape: shape)
        a.withElements(as: Float.self) { x in
            b.withElements(as: Float.self) { v in
                y.withMutableElements(as: Float.self) {
                    Elementwise.binaryPerChannel(op, x.baseAddress!, channelValues: v.baseAddress!, into: $0.baseAddress!,
                                                 n: shape[0], c: shape[1], plane: shape.dropFirst(2).reduce(1, *))
                }
            }
        }
        return y
    }

    func apply<T>(_: T.Type, _ a: Value, _ b: Value, _ y: Value, _ add: @escaping (T, T) -> T, _ sub: @escaping (T, T) -> T,
                  _ mul: @escaping (T, T) -> T, _ div: @escaping (T, T) -> T) {
        let f: (T, T) -> T
        switch op {
        case .add: f = add
        case .sub: f = sub
        case .mul: f = mul
        case .div: f = div
        }
        a.withElements(as: T.self) { x in
            b.withElements(as: T.self) { z in
                y.withMutableElements(as: T.self) { out in
                    for i in 0..<out.count { out[i] = f(x[i], z[i]) }
                }
            }
        }
    }

    func integer<T: FixedWidthInteger>(_ type: T.Type, _ a: Value, _ b: Value, _ y: Value) throws(EngineError) {
        if op == .div, b.withElements(as: T.self, { $0.contains(0) }) { throw EngineError(node, "integer division by zero") }
        apply(T.self, a, b, y, { $0 &+ $1 }, { $0 &- $1 }, { $0 &* $1 }, { $0 / $1 })
    }
}

/// Neg: `-x` for float, double and signed integers (wrapping).
struct NegOp: Operator {
    let node: Node

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let y = Value(uninitialized: x.dataType, shape: x.shape)
        func negate<T>(_: T.Type, _ f: (T) -> T) {
            x.withElements(as: T.self) { src in y.withMutableElements(as: T.self) { for i in 0..<$0.count { $0[i] = f(src[i]) } } }
        }
        switch x.dataType {
        case .float: negate(Float.self) { -$0 }
        case .double: negate(Double.self) { -$0 }
        case .int64: negate(Int64.self) { 0 &- $0 }
        case .int32: negate(Int32.self) { 0 &- $0 }
        case .int16: negate(Int16.self) { 0 &- $0 }
        case .int8: negate(Int8.self) { 0 &- $0 }
        default: throw EngineError(node, "inputs of type \(x.dataType) are not supported")
        }
        return [y]
    }
}
