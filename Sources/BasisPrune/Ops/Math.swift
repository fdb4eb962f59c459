internal import Foundation

/// Pow with multidirectional broadcasting: a float32 base (vectorised; a scalar exponent of 2,
/// 1 or 0.5 takes an exact fast path) or an int32/int64 base (computed in double, truncated);
/// the exponent may be any float or integer type.
struct PowOp: Operator {
    let node: Node

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let a = try node.required(inputs, 0)
        if a.dataType == .int32 || a.dataType == .int64 { return [try integerPower(a, try node.required(inputs, 1))] }
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
        Value(shape: b.shape, floats: try doubles(b, "exponent").map { Float($0) })
    }

    /// The elements of a float, double or integer value as Double.
    func doubles(_ v: Value, _ what: String) throws(EngineError) -> [Double] {
        switch v.dataType {
        case .float: return v.withElements(as: Float.self) { $0.map { Double($0) } }
        case .double: return v.withElements(as: Double.self) { Array($0) }
        default:
            guard let ints = v.integers() else { throw EngineError(node, "\(what) of type \(v.dataType) is not supported") }
            return ints.map { Double($0) }
        }
    }

    /// An integer base: `pow` in double precision per element, truncated to the base's type.
    func integerPower(_ a: Value, _ b: Value) throws(EngineError) -> Value {
        guard let shape = ShapeInference.broadcast(a.shape, b.shape), let ea = Broadcast.expand(a, to: shape),
              let eb = Broadcast.expand(b, to: shape) else {
            throw EngineError(node, "shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let base = try doubles(ea, "base"), power = try doubles(eb, "exponent")
        // Out of range (or NaN) results become 0 rather than trapping.
        let values = zip(base, power).map { Int64(exactly: Foundation.pow($0, $1).rounded(.towardZero)) ?? 0 }
        if a.dataType == .int64 { return Value(shape: shape, int64s: values) }
        let y = Value(uninitialized: .int32, shape: shape)
        y.withMutableElements(as: Int32.self) { out in for i in out.indices { out[i] = Int32(truncatingIfNeeded: values[i]) } }
        return y
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
