/// One layer split into basis and scaling parts, with the names of what the split created.
public struct SplitLayer: Sendable {
    public enum Kind: String, Sendable, Codable { case conv, gemm, matmul }

    /// The original node, as it was before the split (re-merging restores it).
    public var original: Node
    public var kind: Kind
    /// Length of one basis vector: `Cin/g * kh * kw` for a conv, `K` for Gemm and MatMul.
    public var inputLength: Int
    public var outputChannels: Int
    /// Bases after the split (non-zero singular values).
    public var rank: Int
    public var hasBias: Bool
    public var singularValues: [Double]
    public var basisNode: String
    public var scaleNode: String
    public var scalingNode: String
    public var basisWeight: String
    /// The initializer holding the scaling factors `s` (ones after the split).
    public var factors: String
    public var scalingWeight: String
    /// The basis op's bias after `BasisCentering` (minus each basis's mean response), nil
    /// before: the basis op then has none.
    public var basisBias: String?
    /// Output positions per image (`H * W` of a conv's output, 1 for a Gemm); `Pipeline.split`
    /// sets it from static shape inference.
    public var outputPositions = 1

    /// The name users know the layer by.
    public var name: String { original.displayName }

    /// Weight and bias elements of the original layer.
    public var originalParameters: Int { inputLength * outputChannels + (hasBias ? outputChannels : 0) }

    /// Weight and bias elements with `kept` bases: split, or re-merged.
    public func parameters(kept: Int) -> Int {
        (remerges(kept: kept) ? inputLength * outputChannels : kept * (inputLength + outputChannels)) + (hasBias ? outputChannels : 0)
    }

    /// MACs per image a split layer's second Conv costs beyond its multiply-accumulates
    /// (`Objective.splitOverhead`; 0 unless the objective is latency).
    public var splitOverhead = 0

    /// Whether `kept` bases are exported as one layer again: the split would not be smaller
    /// (in parameters, which is the same as in MACs), or, with a split overhead, would not save
    /// more MACs than the second Conv's fixed cost.
    public func remerges(kept: Int) -> Bool {
        kept * (inputLength + outputChannels) * outputPositions + splitOverhead >= inputLength * outputChannels * outputPositions
    }

    /// Parameters one basis costs in the split form (`n + Cout`).
    public var basisCost: Int { inputLength + outputChannels }

    /// What one basis costs under `objective`: its parameters, or its MACs per image
    /// (`(n + Cout) * positions`; the merged layer costs `n * Cout * positions`, so the
    /// re-merge rule is the same under both).
    public func basisCost(_ objective: Objective) -> Int {
        switch objective {
        case .params: basisCost
        case .macs, .latency: basisCost * outputPositions
        }
    }
}

/// Splits every Conv with one group and more than one input per output (not depthwise), and
/// every Gemm or MatMul with a constant 2-D weight, by SVD of its weight `A = P S Q^T`
/// (computed in double precision) into
///
///     X/basis    the same op with weight Q^T: r orthonormal basis filters, no bias
///     X/scale    Mul by the scaling factors s (initializer X/scaling.factors, ones)
///     X/scaling  a 1x1 Conv (or Gemm, MatMul) with weight P S and the original bias
///
/// The three compute the original function up to rounding. BatchNorm must be folded first.
public enum BasisSplit {
    public static let name = "BasisSplit"

    public static func run(_ graph: Graph) throws(PassError) -> (graph: Graph, layers: [SplitLayer]) {
        var graph = graph
        var taken = graph.usedNames
        var nodes: [Node] = []
        var layers: [SplitLayer] = []
        var added: [Tensor] = []
        for node in graph.nodes {
            guard let plan = splitPlan(node, graph) else {
                nodes.append(node)
                continue
            }
            let base = node.name.flatMap { $0.isEmpty ? nil : $0 } ?? node.outputs[0]
            let nonFinite = plan.matrix.count { !$0.isFinite }
            guard nonFinite == 0 else {
                throw PassError(pass: name, node: node.displayName,
                                reason: "weight '\(node.input(1)!)' has \(nonFinite) NaN or infinite values of \(plan.matrix.count); such a layer cannot be split")
            }
            let svd: (u: [Double], s: [Double], vt: [Double])
            do { svd = try SVD.thin(plan.matrix, rows: plan.cout, columns: plan.n) } catch {
                throw PassError(pass: name, node: node.displayName, reason: error.description)
            }
            let rank = svd.s.filter { $0 > 0 }.count
            guard rank > 0 else {
                nodes.append(node)
                continue
            }
            let k = min(plan.cout, plan.n)
            // Basis filters: the first `rank` rows of Q^T; scaling weight: P S as [Cout, rank].
            let basis = (0..<rank).flatMap { i in (0..<plan.n).map { Float(svd.vt[i * plan.n + $0]) } }
            var scaling = [Float](repeating: 0, count: plan.cout * rank)
            for c in 0..<plan.cout { for i in 0..<rank { scaling[c * rank + i] = Float(svd.u[c * k + i] * svd.s[i]) } }
            let names = (
                basisNode: graph.freshName(base + "/basis", taken: &taken), scaleNode: graph.freshName(base + "/scale", taken: &taken),
                scalingNode: graph.freshName(base + "/scaling", taken: &taken),
                basisWeight: graph.freshName(base + "/basis.weight", taken: &taken),
                factors: graph.freshName(base + "/scaling.factors", taken: &taken),
                scalingWeight: graph.freshName(base + "/scaling.weight", taken: &taken),
                basisOutput: graph.freshName(base + "/basis.output", taken: &taken),
                scaled: graph.freshName(base + "/scaled", taken: &taken))
            let bias = node.input(2)
            var basisNode = node
            basisNode.name = names.basisNode
            basisNode.outputs = [names.basisOutput]
            var scalingNode = Node(name: names.scalingNode, opType: node.opType, inputs: [names.scaled, names.scalingWeight] + (bias.map { [$0] } ?? []),
                                   outputs: node.outputs)
            switch node.opType {
            case "Conv":
                basisNode.inputs = [node.inputs[0], names.basisWeight]
                added.append(Tensor(name: names.basisWeight, dims: [rank] + Array(plan.weightDims.dropFirst()), floats: basis))
                // A 1x1 (or, for Conv1d, size-1) kernel: as many ones as the weight has spatial axes.
                let ones = Array(repeating: 1, count: plan.weightDims.count - 2)
                added.append(Tensor(name: names.scalingWeight, dims: [plan.cout, rank] + ones, floats: scaling))
                added.append(Tensor(name: names.factors, dims: [1, rank] + ones, floats: Array(repeating: 1, count: rank)))
                scalingNode.attributes = [Attribute(name: "kernel_shape", value: .ints(ones.map(Int64.init)))]
            case "Gemm":
                basisNode.inputs = [node.inputs[0], names.basisWeight]
                basisNode.attributes = node.attributes.filter { $0.name == "alpha" || $0.name == "transA" } + [Attribute(name: "transB", value: .int(1))]
                added.append(Tensor(name: names.basisWeight, dims: [rank, plan.n], floats: basis))
                added.append(Tensor(name: names.scalingWeight, dims: [plan.cout, rank], floats: scaling))
                added.append(Tensor(name: names.factors, dims: [rank], floats: Array(repeating: 1, count: rank)))
                scalingNode.attributes = node.attributes.filter { $0.name == "beta" } + [Attribute(name: "transB", value: .int(1))]
            default:  // MatMul: x[..., K] B[K, Cout] = (x Q) (S P^T)
                basisNode.inputs = [node.inputs[0], names.basisWeight]
                added.append(Tensor(name: names.basisWeight, dims: [plan.n, rank], floats: transpose(basis, rows: rank, columns: plan.n)))
                added.append(Tensor(name: names.scalingWeight, dims: [rank, plan.cout], floats: transpose(scaling, rows: plan.cout, columns: rank)))
                added.append(Tensor(name: names.factors, dims: [rank], floats: Array(repeating: 1, count: rank)))
            }
            let scaleNode = Node(name: names.scaleNode, opType: "Mul", inputs: [names.basisOutput, names.factors], outputs: [names.scaled])
            nodes += [basisNode, scaleNode, scalingNode]
            layers.append(SplitLayer(
                original: node, kind: plan.kind, inputLength: plan.n, outputChannels: plan.cout, rank: rank, hasBias: bias != nil,
                singularValues: Array(svd.s.prefix(rank)), basisNode: names.basisNode, scaleNode: names.scaleNode,
                scalingNode: names.scalingNode, basisWeight: names.basisWeight, factors: names.factors, scalingWeight: names.scalingWeight))
        }
        graph.nodes = nodes
        graph.initializers += added
        return (graph.removingDeadCode(), layers)
    }

    struct Plan {
        var kind: SplitLayer.Kind
        /// The weight as a row-major `cout` x `n` matrix, in double precision.
        var matrix: [Double]
        var cout: Int
        var n: Int
        var weightDims: [Int]
    }

    /// How `node` splits, or nil when it is not a layer this pass splits.
    static func splitPlan(_ node: Node, _ graph: Graph) -> Plan? {
        if case .split(let plan)? = decision(node, graph) { return plan }
        return nil
    }

    /// Why each Conv, Gemm and MatMul of `graph` (BatchNorm folded) that this pass leaves as it
    /// is stays unsplit, in graph order.
    public static func skippedLayers(_ graph: Graph) -> [(node: Node, reason: String)] {
        graph.nodes.compactMap { node in
            if case .skip(let reason)? = decision(node, graph) { return (node, reason) }
            return nil
        }
    }

    enum Decision {
        case split(Plan)
        case skip(String)
    }

    /// The split of a Conv, Gemm or MatMul, or why it is not split; nil for other ops.
    static func decision(_ node: Node, _ graph: Graph) -> Decision? {
        guard ["Conv", "Gemm", "MatMul"].contains(node.opType) else { return nil }
        guard let weightName = node.input(1) else { return .skip("no weight input") }
        guard let weight = graph.floatInitializer(weightName) else { return .skip(notConstant("weight", weightName, graph)) }
        if weight.floats.allSatisfy({ $0 == 0 }) { return .skip("the weight is all zeros") }
        let w = weight.floats.map(Double.init)
        switch node.opType {
        case "Conv":
            let group = node.int("group", default: 1)!
            guard group == 1 else {
                return .skip(weight.dims.count >= 2 && weight.dims[1] == 1 ? "depthwise conv (one input channel per filter): kept as it is" : "grouped conv (group \(group)) is not split")
            }
            guard weight.dims.count >= 3 else { return .skip("weight of shape \(weight.dims) is not a conv kernel") }
            let n = weight.dims.dropFirst().reduce(1, *)
            guard n > 1 else { return .skip("one input per filter (1x1 conv of one channel): nothing to split") }
            if let b = node.input(2), graph.floatInitializer(b) == nil { return .skip(notConstant("bias", b, graph)) }
            return .split(Plan(kind: .conv, matrix: w, cout: weight.dims[0], n: n, weightDims: weight.dims))
        case "Gemm":
            guard weight.dims.count == 2 else { return .skip("weight of shape \(weight.dims) is not a matrix") }
            if let c = node.input(2), graph.floatInitializer(c) == nil { return .skip(notConstant("bias", c, graph)) }
            if node.int("transB", default: 0)! != 0 {
                return .split(Plan(kind: .gemm, matrix: w, cout: weight.dims[0], n: weight.dims[1], weightDims: weight.dims))
            }
            return .split(Plan(kind: .gemm, matrix: transpose(w, rows: weight.dims[0], columns: weight.dims[1]), cout: weight.dims[1], n: weight.dims[0], weightDims: weight.dims))
        default:
            guard weight.dims.count == 2 else { return .skip("weight of shape \(weight.dims) is not a matrix") }
            return .split(Plan(kind: .matmul, matrix: transpose(w, rows: weight.dims[0], columns: weight.dims[1]), cout: weight.dims[1], n: weight.dims[0], weightDims: weight.dims))
        }
    }

    /// Why input `name` (the weight or bias) is not a float32 initializer: what computes it.
    static func notConstant(_ role: String, _ name: String, _ graph: Graph) -> String {
        if let producer = graph.nodes.first(where: { $0.outputs.contains(name) }) {
            return "\(role) '\(name)' is computed by \(producer.opType) '\(producer.displayName)', not a constant initializer"
        }
        if graph.inputs.contains(where: { $0.name == name }) { return "\(role) '\(name)' is a graph input" }
        if let t = graph.initializers.first(where: { $0.name == name }) { return "\(role) '\(name)' is \(t.dataType), not float32" }
        return "\(role) '\(name)' is not a constant initializer"
    }
}

/// The transpose of a row-major `rows` x `columns` matrix.
func transpose<T>(_ m: [T], rows: Int, columns: Int) -> [T] {
    (0..<(rows * columns)).map { i in m[(i % rows) * columns + i / rows] }
}
