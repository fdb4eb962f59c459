internal import Foundation

/// Pow with multidirectional broadcasting: float32 base; the exponent may be float, double,
/// int32 or int64 (read as float32). A scalar exponent of 2, 1 or 0.5 takes an exact fast path.
struct PowOp: Operator {
    let node: Node

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let a = try node.required(inputs, 0)
        try a.requireFloat(node, "base")
        let e = try exponent(try node.required(inputs, 1))
        guard let shape = ShapeInference.broadcast(a.shape, e.shape) else {
            throw EngineError(node, "shapes \(a.shape) and \(e.shape) do not broadcast")
        }
        if e.count == 1, a.shape == shape {
            let p = e.floats[0]
            return [a.mapFloats { x, y, count in
                switch p {
                case 2: SIMDLoops.map(x, y, count) { $0 * $0 }
                case 1: SIMDLoops.map(x, y, count) { $0 }
                case 0.5: SIMDLoops.map(x, y, count) { $0.squareRoot() }
                default: for i in 0..<count { y[i] = Foundation.pow(x[i], p) }
                }
            }]
        }
        guard let ea = Broadcast.expand(a, to: shape), let eb = Broadcast.expand(e, to: shape) else {
            throw EngineError(node, "shapes \(a.shape) and \(e.shape) do not broadcast")
        }
        return [ea.mapFloats { x, y, count in
            eb.withElements(as: Float.self) { p in for i in 0..<count { y[i] = Foundation.pow(x[i], p[i]) } }
        }]
    }

    /// The exponent as float32 (shares storage when it already is).
    func exponent(_ b: Value) throws(EngineError) -> Value {
        switch b.dataType {
        case .float: return b
        case .double: return Value(shape: b.shape, floats: b.withElements(as: Double.self) { $0.map { Float($0) } })
        case .int32, .int64: return Value(shape: b.shape, floats: b.integers()!.map { Float($0) })
        default: throw EngineError(node, "exponent of type \(b.dataType) is not supported")
        }
    }
}

/// Sqrt, Erf, Exp and Reciprocal over float32.
struct UnaryMathOp: Operator {
    enum Function: Sendable { case sqrt, erf, exp, reciprocal }

    let node: Node
    let function: Function

    init(node: Node) throws(EngineError) {
        self.node = node
        switch node.opType {
        case "Sqrt": function = .sqrt
        case "Erf": function = .erf
        case "Exp": function = .exp
        case "Reciprocal": function = .reciprocal
        default: throw EngineError(node, "not a unary math op")
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        try x.requireFloat(node)
        return [x.mapFloats { x, y, count in
            switch function {
            case .sqrt: SIMDLoops.map(x, y, count) { $0.squareRoot() }
            case .reciprocal: SIMDLoops.map(x, y, count) { 1 / $0 }
            case .erf: for i in 0..<count { y[i] = Foundation.erf(x[i]) }
            case .exp: for i in 0..<count { y[i] = Foundation.exp(x[i]) }
            }
        }]
    }
}
