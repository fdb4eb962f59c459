/// Rewrites the channels-last blocks of ConvNeXt-style graphs (issue 40) into channels-first
/// ops, so the oneDNN path and the channel analysis see 1x1 convs instead of 4-D MatMuls.
///
/// PyTorch writes a block's `permute(0, 2, 3, 1)`, `LayerNorm`, `Linear`s, GELU and
/// `permute(0, 3, 1, 2)` as a Transpose, LayerNormalization, MatMul + Add, the Erf or Tanh form
/// of GELU, MatMul + Add and a Transpose back. Between the two Transposes every op acts on the
/// last axis (the channels) or elementwise, so the same function is computed in NCHW:
///
/// - MatMul by a constant `[K, M]` weight is a 1x1 Conv with weight `W'` as `[M, K, 1, 1]`,
///   named after the MatMul; an Add of a constant `[M]` that alone reads it becomes its bias;
/// - Add, Sub, Mul, Div, Pow by a constant of one element stay; by a constant `[C]` (leading
///   ones allowed) they read it as `[C, 1, 1]`;
/// - elementwise ops of one input (Erf, Tanh, Sqrt, Relu, Sigmoid, ...) and Add, Sub, Mul, Div
///   of two values of the block stay;
/// - ReduceMean over the last axis with keepdims reduces over axis 1;
/// - LayerNormalization over the last axis stays in channels last between its own pair of
///   Transposes (`NAME/to_channels_last`, `NAME/to_channels_first`), the way torchvision's
///   `LayerNorm2d` is written, which the oneDNN path runs as one normalisation over channels.
///
/// A block is rewritten only when every reader of every value between the Transposes is one of
/// these, no such value is a graph output, and it holds at least one MatMul. The values keep
/// their names (their value infos go: their shapes changed); the weights get new initializers
/// (`NAME/conv`, `NAME/channels_first`). The result is the same function up to float rounding
/// (a 1x1 conv sums in another order than MatMul).
public enum ChannelsLastToConv {
    public static let name = "ChannelsLastToConv"

    static let unary: Set<String> = ["Erf", "Tanh", "Sqrt", "Relu", "Sigmoid", "Neg", "Abs", "Exp", "Reciprocal", "Identity"]
    static let binary: Set<String> = ["Add", "Sub", "Mul", "Div", "Pow"]

    /// The graph with every qualifying block rewritten, and how many were.
    static func run(_ graph: Graph, opset: Int64) -> (graph: Graph, blocks: Int) {
        var graph = graph
        var blocks = 0
        var tried = Set<String>()
        while let entry = graph.nodes.firstIndex(where: { isTranspose($0, [0, 2, 3, 1]) && !tried.contains($0.outputs[0]) }) {
            tried.insert(graph.nodes[entry].outputs[0])
            if let rewritten = rewrite(graph, entry: entry, opset: opset) {
                graph = rewritten.removingDeadCode()
                blocks += 1
            }
        }
        return (graph, blocks)
    }

    static func isTranspose(_ node: Node, _ perm: [Int]) -> Bool {
        node.opType == "Transpose" && (node.domain ?? "").isEmpty && node.ints("perm") == perm && node.inputs.count == 1 && node.outputs.count == 1
    }

    /// The nodes between the entry Transpose and the Transposes back, in graph order, and the
    /// exits; nil when a reader is not covered or a value is a graph output.
    static func region(_ graph: Graph, entry: Int, constants: [String: Tensor]) -> (nodes: [Int], exits: [Int], values: Set<String>)? {
        let readers = graph.readers
        let outputs = Set(graph.outputs.map(\.name))
        var values: Set<String> = [graph.nodes[entry].outputs[0]]
        var work = Array(values)
        var nodes = Set<Int>(), exits = Set<Int>()
        while let v = work.popLast() {
            if outputs.contains(v) { return nil }
            for r in readers[v] ?? [] {
                let node = graph.nodes[r]
                if isTranspose(node, [0, 3, 1, 2]) {
                    exits.insert(r)
                    continue
                }
                guard covered(node, constants: constants) else { return nil }
                if nodes.insert(r).inserted {
                    for o in node.outputs where !o.isEmpty && values.insert(o).inserted { work.append(o) }
                }
            }
        }
        // Every input of a node inside is a value of the block or a constant it covers.
        for r in nodes {
            for input in graph.nodes[r].inputs where !input.isEmpty && !values.contains(input) && constants[input] == nil { return nil }
        }
        guard nodes.contains(where: { graph.nodes[$0].opType == "MatMul" }) else { return nil }
        return (nodes.sorted(), exits.sorted(), values)
    }

    /// Whether `node` acts on the last axis or elementwise in a way this pass rewrites
    /// (its constant operands checked here; that its other inputs are block values, by `region`).
    static func covered(_ node: Node, constants: [String: Tensor]) -> Bool {
        guard (node.domain ?? "").isEmpty || node.domain == "ai.onnx" else { return false }
        switch node.opType {
        case "MatMul":
            guard node.inputs.count == 2, constants[node.inputs[0]] == nil, let w = constants[node.inputs[1]] else { return false }
            return w.dims.count == 2 && w.dataType == .float
        case _ where binary.contains(node.opType):
            guard node.inputs.count == 2 else { return false }
            return node.inputs.allSatisfy { name in constants[name].map { perChannel($0) != nil } ?? true }
                && !(node.opType == "Pow" && constants[node.inputs[1]].map { $0.elementCount != 1 } ?? true)
                && !node.inputs.allSatisfy { constants[$0] != nil }
        case _ where unary.contains(node.opType):
            return node.inputs.count == 1
        case "ReduceMean":
            guard node.int("keepdims", default: 1) == 1, node.int("noop_with_empty_axes", default: 0) == 0 else { return false }
            let axes = node.ints("axes") ?? node.input(1).flatMap { constants[$0]?.doubleValues()?.map { Int($0) } }
            return axes.map { $0.count == 1 && ($0[0] == -1 || $0[0] == 3) } ?? false
        case "LayerNormalization":
            let axis = node.int("axis", default: -1)!
            return (axis == -1 || axis == 3) && node.outputs.dropFirst().allSatisfy(\.isEmpty)
                && node.inputs.dropFirst().allSatisfy { $0.isEmpty || constants[$0].map { perChannel($0) != nil } ?? false }
        default:
            return false
        }
    }

    /// A constant operand in NCHW: one element as it is; `[C]` (after leading ones) as `[C, 1, 1]`.
    static func perChannel(_ tensor: Tensor) -> [Int]? {
        if tensor.elementCount == 1 { return tensor.dims }
        let dims = Array(tensor.dims.drop { $0 == 1 })
        return dims.count == 1 ? [dims[0], 1, 1] : nil
    }

    static func rewrite(_ graph: Graph, entry: Int, opset: Int64) -> Graph? {
        let constants = graph.constantInitializers
        guard let (inside, exits, values) = region(graph, entry: entry, constants: constants) else { return nil }
        var graph = graph
        var taken = graph.usedNames
        // Readers of the entry's output read its input; readers of an exit's output, the exit's input.
        var renamed: [String: String] = [graph.nodes[entry].outputs[0]: graph.nodes[entry].inputs[0]]
        for e in exits { renamed[graph.nodes[e].outputs[0]] = graph.nodes[e].inputs[0] }
        if exits.contains(where: { e in graph.outputs.contains { $0.name == graph.nodes[e].outputs[0] } }) { return nil }
        var converted: [String: String] = [:]
        func channelsFirst(_ name: String) -> String {
            guard let c = constants[name], let dims = perChannel(c), dims != c.dims else { return name }
            if let done = converted[name] { return done }
            var t = c
            t.name = graph.freshName(name + "/channels_first", taken: &taken)
            t.dims = dims
            graph.initializers.append(t)
            converted[name] = t.name!
            return t.name!
        }
        var replacement: [Int: [Node]] = [:]
        var dropped = Set<Int>()
        let readers = graph.readers
        for i in inside where !dropped.contains(i) {
            let node = graph.nodes[i]
            switch node.opType {
            case "MatMul":
                replacement[i] = [conv(node, graph: &graph, constants: constants, readers: readers, inside: Set(inside), dropped: &dropped, taken: &taken)]
            case "LayerNormalization":
                replacement[i] = layerNorm(node, in: graph, operands: Array(node.inputs.dropFirst()), taken: &taken)
            case "ReduceMean":
                var n = node
                if n.ints("axes") != nil {
                    n.attributes = n.attributes.map { $0.name == "axes" ? Attribute(name: "axes", value: .ints([1])) : $0 }
                } else {
                    let axes = graph.freshName((node.name ?? node.outputs[0]) + "/axes", taken: &taken)
                    graph.initializers.append(Tensor(name: axes, dataType: .int64, dims: [1], storage: TensorStorage(values: [Int64(1)])))
                    n.inputs[1] = axes
                }
                replacement[i] = [n]
            default:
                var n = node
                n.inputs = n.inputs.map { channelsFirst($0) }
                replacement[i] = [n]
            }
        }
        var nodes: [Node] = []
        for (i, node) in graph.nodes.enumerated() where !dropped.contains(i) && !exits.contains(i) {
            nodes += replacement[i] ?? [node]
        }
        for i in nodes.indices { nodes[i].inputs = nodes[i].inputs.map { renamed[$0] ?? $0 } }
        graph.nodes = nodes
        graph.valueInfo.removeAll { values.contains($0.name) }
        return graph
    }

    /// MatMul `node` as a 1x1 Conv named after it, taking the bias of an Add that alone reads it.
    static func conv(_ node: Node, graph: inout Graph, constants: [String: Tensor], readers: [String: [Int]], inside: Set<Int>,
                     dropped: inout Set<Int>, taken: inout Set<String>) -> Node {
        let w = constants[node.inputs[1]]!
        let (k, m) = (w.dims[0], w.dims[1])
        let values = w.floats
        var transposed = [Float](repeating: 0, count: k * m)
        for i in 0..<k { for j in 0..<m { transposed[j * k + i] = values[i * m + j] } }
        let weight = graph.freshName(node.inputs[1] + "/conv", taken: &taken)
        graph.initializers.append(Tensor(name: weight, dims: [m, k, 1, 1], floats: transposed))
        var inputs = [node.inputs[0], weight]
        var output = node.outputs[0]
        let outputs = Set(graph.outputs.map(\.name))
        if !outputs.contains(output), let r = readers[output], r.count == 1, inside.contains(r[0]), graph.nodes[r[0]].opType == "Add" {
            let add = graph.nodes[r[0]]
            let other = add.inputs[0] == output ? add.inputs[1] : add.inputs[0]
            if add.inputs.count == 2, add.inputs.filter({ $0 == output }).count == 1, let b = constants[other], b.dataType == .float,
               b.elementCount == m, b.dims.drop(while: { $0 == 1 }).count == 1 {
                let bias = graph.freshName(other + "/conv", taken: &taken)
                graph.initializers.append(Tensor(name: bias, dims: [m], floats: b.floats))
                inputs.append(bias)
                output = add.outputs[0]
                dropped.insert(r[0])
            }
        }
        return Node(name: node.name, opType: "Conv", inputs: inputs, outputs: [output],
                    attributes: [Attribute(name: "kernel_shape", value: .ints([1, 1]))])
    }

    /// LayerNormalization `node` over channels of an NCHW value: between its own two Transposes.
    static func layerNorm(_ node: Node, in graph: Graph, operands: [String], taken: inout Set<String>) -> [Node] {
        let base = node.name ?? node.outputs[0]
        let last = graph.freshName(node.inputs[0] + "/channels_last", taken: &taken)
        let normed = graph.freshName(node.outputs[0] + "/channels_last", taken: &taken)
        var ln = node
        ln.inputs[0] = last
        ln.outputs = [normed]
        ln.attributes = ln.attributes.map { $0.name == "axis" ? Attribute(name: "axis", value: .int(-1)) : $0 }
        return [
            Node(name: graph.freshName(base + "/to_channels_last", taken: &taken), opType: "Transpose", inputs: [node.inputs[0]], outputs: [last],
                 attributes: [Attribute(name: "perm", value: .ints([0, 2, 3, 1]))]),
            ln,
            Node(name: graph.freshName(base + "/to_channels_first", taken: &taken), opType: "Transpose", inputs: [normed], outputs: [node.outputs[0]],
                 attributes: [Attribute(name: "perm", value: .ints([0, 3, 1, 2]))]),
        ]
    }
}
