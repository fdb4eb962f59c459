/// Gather: picks slices of the data along `axis` by int32 or int64 indices (negative counts
/// from the end); output shape = data[..<axis] + indices + data[(axis+1)...]. Byte-generic.
struct GatherOp: Operator {
    let node: Node
    let axis: Int

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        axis = node.int("axis", default: 0)!
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let data = try node.required(inputs, 0), indices = try node.required(inputs, 1)
        let size = try node.elementSize(of: data)
        let a = try node.normalizedAxis(axis, rank: data.shape.count)
        guard indices.dataType == .int64 || indices.dataType == .int32, let picks = indices.integers() else {
            throw EngineError(node, "indices must be int32 or int64, got \(indices.dataType)")
        }
        let n = data.shape[a]
        var rows: [Int] = []
        rows.reserveCapacity(picks.count)
        for i in picks {
            guard i >= -n, i < n else { throw EngineError(node, "index \(i) is out of range for axis \(a) of size \(n)") }
            rows.append(i < 0 ? i + n : i)
        }
        let shape = Array(data.shape[..<a]) + indices.shape + Array(data.shape[(a + 1)...])
        let outer = data.shape[..<a].reduce(1, *), block = data.shape[(a + 1)...].reduce(1, *) * size
        let y = Value(uninitialized: data.dataType, shape: shape)
        data.storage.withUnsafeBytes { source in
            y.storage.withUnsafeMutableBytes { destination in
                guard block > 0, let s = source.baseAddress, var d = destination.baseAddress else { return }
                for o in 0..<outer {
                    for r in rows {
                        d.copyMemory(from: s + (o * n + r) * block, byteCount: block)
                        d += block
                    }
                }
            }
        }
        return [y]
    }
}
