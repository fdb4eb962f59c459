/// ConstantOfShape: a tensor of the shape given by the int64 input, every element the one
/// element of the `value` attribute (default float 0). Byte-generic.
struct ConstantOfShapeOp: Operator {
    let node: Node
    let value: Value

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        if let t = node.tensor("value") {
            guard t.elementCount == 1 else { throw EngineError(node, "value must hold one element, it holds \(t.elementCount)") }
            value = Value(t)
            _ = try node.elementSize(of: value)
        } else {
            value = Value(shape: [1], floats: [0])
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        guard let dims = try node.integers(inputs, 0, "shape") else { throw EngineError(node, "input 0 (shape) is required") }
        guard ValueFacts.count(dims) != nil else { throw EngineError(node, "invalid shape \(dims)") }
        let size = try node.elementSize(of: value)
        let y = Value(uninitialized: value.dataType, shape: dims)
        value.storage.withUnsafeBytes { element in
            y.storage.withUnsafeMutableBytes { destination in
                let total = y.count * size
                guard total > 0, let e = element.baseAddress, let d = destination.baseAddress else { return }
                // One element, then copies of what is already filled, doubling each time.
                d.copyMemory(from: e, byteCount: size)
                var filled = size
                while filled < total {
                    let n = min(filled, total - filled)
                    (d + filled).copyMemory(from: d, byteCount: n)
                    filled += n
                }
            }
        }
        return [y]
    }
}
