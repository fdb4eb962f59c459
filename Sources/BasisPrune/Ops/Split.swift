/// Split: cuts the input along `axis` into the node's outputs. The sizes come from the split
/// attribute (before opset 13) or the optional split input (from 13); without them the parts
/// are equal, and from opset 18 (num_outputs) the last part may be smaller.
struct SplitOp: Operator {
    let node: Node
    let opset: Int64
    let axis: Int
    let attributeSplit: [Int]?
    let parts: Int

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        opset = context.opset
        axis = node.int("axis", default: 0)!
        attributeSplit = context.opset < 13 ? node.ints("split") : nil
        parts = node.outputs.count
        if let split = attributeSplit, split.count != parts {
            throw EngineError(node, "split \(split) has \(split.count) sizes for \(parts) outputs")
        }
        if let n = node.int("num_outputs"), context.opset >= 18, n != parts {
            throw EngineError(node, "num_outputs \(n) differs from the \(parts) outputs")
        }
        guard parts > 0 else { throw EngineError(node, "the node has no outputs") }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let size = try node.elementSize(of: x)
        let a = try node.normalizedAxis(axis, rank: x.shape.count)
        let n = x.shape[a]
        let sizes: [Int]
        if let split = try opset < 13 ? attributeSplit : node.integers(inputs, 1, "split") {
            guard split.count == parts, split.allSatisfy({ $0 >= 0 }), split.reduce(0, +) == n else {
                throw EngineError(node, "split \(split) does not cut a dim of \(n) into \(parts) parts")
            }
            sizes = split
        } else if n % parts == 0 {
            sizes = Array(repeating: n / parts, count: parts)
        } else if opset >= 18 {
            let chunk = (n + parts - 1) / parts
            sizes = (0..<parts).map { max(0, min(chunk, n - $0 * chunk)) }
        } else {
            throw EngineError(node, "a dim of \(n) does not split into \(parts) equal parts")
        }
        let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *) * size
        var outputs: [Value] = []
        var start = 0
        x.storage.withUnsafeBytes { source in
            for s in sizes {
                var shape = x.shape
                shape[a] = s
                let y = Value(uninitialized: x.dataType, shape: shape)
                let block = s * inner
                y.storage.withUnsafeMutableBytes { destination in
                    guard block > 0, let src = source.baseAddress, let d = destination.baseAddress else { return }
                    for o in 0..<outer {
                        (d + o * block).copyMemory(from: src + o * n * inner + start * inner, byteCount: block)
                    }
                }
                outputs.append(y)
                start += s
            }
        }
        return outputs
    }
}
