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

    /// The name users know the layer by.
    public var name: String { original.displayName }

    /// Weight and bias elements of the original layer.
    public var originalParameters: Int { inputLength * outputChannels + (hasBias ? outputChannels : 0) }

    /// Weight and bias elements with `kept` bases: split, or re-merged when that is smaller.
    public func parameters(kept: Int) -> Int {
        min(kept * (inputLength + outputChannels), inputLength * outputChannels) + (hasBias ? outputChannels : 0)
    }

    /// Whether `kept` bases are exported as one layer again (the split would not be smaller).
    public func remerges(kept: Int) -> Bool { kept * (inputLength + outputChannels) >= inputLength * outputChannels }

    /// Parameters one basis costs in the split form (`n + Cout`).
    public var basisCost: Int { inputLength + outputChannels }
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
            guard let plan = try splitPlan(node, graph) else {
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
    static func splitPlan(_ node: Node, _ graph: Graph) throws(PassError) -> Plan? {
        guard let weightName = node.input(1), let weight = graph.floatInitializer(weightName) else { return nil }
        let w = weight.floats.map(Double.init)
        switch node.opType {
        case "Conv":
            guard node.int("group", default: 1) == 1, weight.dims.count >= 3 else { return nil }
            let n = weight.dims.dropFirst().reduce(1, *)
            guard n > 1 else { return nil }
            if let b = node.input(2), graph.floatInitializer(b) == nil { return nil }
            return Plan(kind: .conv, matrix: w, cout: weight.dims[0], n: n, weightDims: weight.dims)
        case "Gemm":
            guard weight.dims.count == 2 else { return nil }
            if let c = node.input(2), graph.floatInitializer(c) == nil { return nil }
            if node.int("transB", default: 0)! != 0 {
                return Plan(kind: .gemm, matrix: w, cout: weight.dims[0], n: weight.dims[1], weightDims: weight.dims)
            }
            return Plan(kind: .gemm, matrix: transpose(w, rows: weight.dims[0], columns: weight.dims[1]), cout: weight.dims[1], n: weight.dims[0], weightDims: weight.dims)
        case "MatMul":
            guard weight.dims.count == 2 else { return nil }
            return Plan(kind: .matmul, matrix: transpose(w, rows: weight.dims[0], columns: weight.dims[1]), cout: weight.dims[1], n: weight.dims[0], weightDims: weight.dims)
        default:
            return nil
        }
    }
}

/// The transpose of a row-major `rows` x `columns` matrix.
func transpose<T>(_ m: [T], rows: Int, columns: Int) -> [T] {
    (0..<(rows * columns)).map { i in m[(i % rows) * columns + i / rows] }
}
