/// Constant: one of value, value_float(s), value_int(s) (value_string(s) and sparse_value are
/// not numeric and not supported).
struct ConstantOp: Operator {
    let value: Value

    init(node: Node, context: BuildContext) throws(EngineError) {
        if let t = node.tensor("value") {
            guard t.dataType != .string else { throw EngineError(node, "string constants are not supported") }
            value = Value(t)
        } else if let f = node.float("value_float") {
            value = Value(shape: [], floats: [f])
        } else if let i = node.int("value_int") {
            value = Value(shape: [], int64s: [Int64(i)])
        } else if let v = node.ints("value_ints") {
            value = Value(shape: [v.count], int64s: v.map(Int64.init))
        } else if case .floats(let v)? = node.attribute("value_floats")?.value {
            value = Value(shape: [v.count], floats: v)
        } else {
            throw EngineError(node, "no numeric value attribute (value, value_float(s), value_int(s))")
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] { [value] }
}

/// Identity, and Dropout in inference mode: the input passes through unchanged (Dropout's
/// optional mask output is all true).
struct PassThrough: Operator {
    var isDropout = false
    var dropoutMask = false

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        guard let x = inputs.first ?? nil else { throw EngineError(node: "", opType: "Identity", reason: "input 0 is required") }
        // Training mode drops at random unless the ratio is 0 (default 0.5).
        if isDropout, inputs.count > 2, let training = inputs[2], training.integers()?.first != 0,
           (inputs[1]?.tensor(name: nil).doubleValues()?.first ?? 0.5) != 0 {
            throw EngineError(node: "", opType: "Dropout", reason: "training mode with a non-zero ratio (random dropout) is not supported")
        }
        guard dropoutMask else { return [x] }
        let mask = Value(uninitialized: .bool, shape: x.shape)
        mask.withMutableElements(as: UInt8.self) { $0.update(repeating: 1) }
        return [x, mask]
    }
}
