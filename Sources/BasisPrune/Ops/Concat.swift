/// Concat: joins inputs of one type and rank along `axis` (required; default 1 in opset 1).
/// Byte-generic: each input contributes one contiguous block per outer index.
struct ConcatOp: Operator {
    let node: Node
    let axis: Int

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        guard let axis = node.int("axis", default: context.opset < 4 ? 1 : nil) else {
            throw EngineError(node, "the axis attribute is required")
        }
        self.axis = axis
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let parts = inputs.compactMap { $0 }
        guard let first = parts.first else { throw EngineError(node, "at least one input is required") }
        let size = try node.elementSize(of: first)
        let rank = first.shape.count
        let a = try node.normalizedAxis(axis, rank: rank)
        var shape = first.shape
        shape[a] = 0
        for part in parts {
            guard part.dataType == first.dataType, part.shape.count == rank,
                  part.shape.indices.allSatisfy({ $0 == a || part.shape[$0] == first.shape[$0] })
            else {
                throw EngineError(node, "inputs of shapes \(parts.map(\.shape)) and types \(parts.map(\.dataType)) do not concatenate on axis \(a)")
            }
            shape[a] += part.shape[a]
        }
        let outer = first.shape[..<a].reduce(1, *)
        let y = Value(uninitialized: first.dataType, shape: shape)
        let outputBlock = shape[a...].reduce(1, *) * size
        y.storage.withUnsafeMutableBytes { destination in
            var offset = 0
            for part in parts {
                let block = part.shape[a...].reduce(1, *) * size
                part.storage.withUnsafeBytes { source in
                    guard block > 0, let s = source.baseAddress, let d = destination.baseAddress else { return }
                    for o in 0..<outer {
                        (d + o * outputBlock + offset).copyMemory(from: s + o * block, byteCount: block)
                    }
                }
                offset += block
            }
        }
        return [y]
    }
}
