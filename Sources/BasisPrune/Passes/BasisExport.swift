/// Turns a split graph with trained scaling factors and chosen bases into the output graph:
/// each layer's factors are folded into its scaling weights, removed bases drop one basis
/// filter and one scaling input channel, and a layer whose kept bases would not make it smaller
/// than the original becomes one layer again with weight `(P S diag(s))_K Q^T_K`.
public enum BasisExport {
    public static let name = "BasisExport"

    /// What to do with one split layer.
    public struct Choice: Sendable {
        /// The scaling factors `s`, one per basis.
        public var factors: [Float]
        /// Which bases stay; at least one must.
        public var kept: [Bool]

        public init(factors: [Float], kept: [Bool]) {
            self.factors = factors
            self.kept = kept
        }
    }

    /// - Parameters:
    ///   - choices: by `SplitLayer.factors` name; a layer without a choice keeps every basis
    ///     with the factors in the graph.
    ///   - remerge: merge layers whose kept bases do not save parameters (false keeps every
    ///     layer split, for `split`).
    public static func run(_ graph: Graph, layers: [SplitLayer], choices: [String: Choice], remerge: Bool = true) throws(PassError) -> Graph {
        var graph = graph
        var taken = graph.usedNames
        var replacement: [String: [Node]] = [:]
        var added: [Tensor] = []
        var replaced = Set<String>()
        for layer in layers {
            guard let basis = graph.floatInitializer(layer.basisWeight), let scaling = graph.floatInitializer(layer.scalingWeight),
                  let stored = graph.floatInitializer(layer.factors),
                  let basisNode = graph.nodes.first(where: { $0.name == layer.basisNode }),
                  let scalingNode = graph.nodes.first(where: { $0.name == layer.scalingNode }) else {
                throw PassError(pass: name, node: layer.name, reason: "the split graph lacks this layer's basis, scale or scaling parts")
            }
            let choice = choices[layer.factors] ?? Choice(factors: stored.floats, kept: Array(repeating: true, count: layer.rank))
            guard choice.factors.count == layer.rank, choice.kept.count == layer.rank else {
                throw PassError(pass: name, node: layer.name, reason: "\(choice.factors.count) factors and \(choice.kept.count) flags for rank \(layer.rank)")
            }
            let kept = choice.kept.indices.filter { choice.kept[$0] }
            guard !kept.isEmpty else { throw PassError(pass: name, node: layer.name, reason: "every basis was removed; a layer keeps at least one") }
            let n = layer.inputLength, cout = layer.outputChannels, r = layer.rank
            let b = basis.floats, w = scaling.floats, s = choice.factors
            // Basis vector i as a row of length n; scaling entry (c, i) = P S for output c.
            let basisRow: (Int) -> ArraySlice<Float>
            let scale: (Int, Int) -> Float
            switch layer.kind {
            case .conv, .gemm:
                basisRow = { i in b[(i * n)..<((i + 1) * n)] }
                scale = { c, i in w[c * r + i] }
            case .matmul:
                let rows = transpose(b, rows: n, columns: r)
                basisRow = { i in rows[(i * n)..<((i + 1) * n)] }
                scale = { c, i in w[i * cout + c] }
            }
            // A centred layer (`BasisCentering`): the kept bases' means move into the scaling
            // bias, written under a new name, and the exported basis op has no bias.
            var centredBias: String?
            if let basisBiasName = layer.basisBias {
                guard let basisBias = graph.floatInitializer(basisBiasName), basisBias.elementCount == r,
                      let biasName = scalingNode.input(2), let bias = graph.floatInitializer(biasName), bias.elementCount == cout else {
                    throw PassError(pass: name, node: layer.name, reason: "the centred split graph lacks this layer's basis or scaling bias")
                }
                let fresh = graph.freshName(biasName, taken: &taken)
                added.append(Tensor(name: fresh, dims: [cout], floats: BasisCentering.exportedBias(
                    centred: bias.floats, basisBias: basisBias.floats, kept: kept, factors: s, scale: scale)))
                centredBias = fresh
            }
            func withBias(_ node: Node) -> Node {
                guard let centredBias else { return node }
                var node = node
                node.inputs = Array(node.inputs.prefix(2)) + [centredBias]
                return node
            }
            if remerge && layer.remerges(kept: kept.count) {
                var merged = [Double](repeating: 0, count: cout * n)
                for c in 0..<cout {
                    for i in kept {
                        let factor = Double(scale(c, i)) * Double(s[i])
                        let row = basisRow(i)
                        var j = c * n
                        for v in row {
                            merged[j] += factor * Double(v)
                            j += 1
                        }
                    }
                }
                var node = layer.original
                let weightName = graph.freshName(layer.original.inputs[1], taken: &taken)
                node.inputs[1] = weightName
                let floats = merged.map { Float($0) }
                switch layer.kind {
                case .conv: added.append(Tensor(name: weightName, dims: [cout] + Array(basis.dims.dropFirst()), floats: floats))
                case .gemm:
                    let transB = layer.original.int("transB", default: 0)! != 0
                    added.append(transB ? Tensor(name: weightName, dims: [cout, n], floats: floats)
                                        : Tensor(name: weightName, dims: [n, cout], floats: transpose(floats, rows: cout, columns: n)))
                case .matmul: added.append(Tensor(name: weightName, dims: [n, cout], floats: transpose(floats, rows: cout, columns: n)))
                }
                replacement[layer.basisNode] = [withBias(node)]
                replacement[layer.scaleNode] = []
                replacement[layer.scalingNode] = []
                continue
            }
            let k = kept.count
            // The pruned weights replace the split ones under the same names.
            let basisName = layer.basisWeight, scalingName = layer.scalingWeight
            replaced.formUnion([basisName, scalingName])
            let keptBasis = kept.flatMap { basisRow($0) }
            var keptScaling = [Float](repeating: 0, count: cout * k)
            for c in 0..<cout { for (j, i) in kept.enumerated() { keptScaling[c * k + j] = scale(c, i) * s[i] } }
            switch layer.kind {
            case .conv:
                added.append(Tensor(name: basisName, dims: [k] + Array(basis.dims.dropFirst()), floats: keptBasis))
                added.append(Tensor(name: scalingName, dims: [cout, k] + Array(repeating: 1, count: basis.dims.count - 2), floats: keptScaling))
            case .gemm:
                added.append(Tensor(name: basisName, dims: [k, n], floats: keptBasis))
                added.append(Tensor(name: scalingName, dims: [cout, k], floats: keptScaling))
            case .matmul:
                added.append(Tensor(name: basisName, dims: [n, k], floats: transpose(keptBasis, rows: k, columns: n)))
                added.append(Tensor(name: scalingName, dims: [k, cout], floats: transpose(keptScaling, rows: cout, columns: k)))
            }
            var newBasis = basisNode
            newBasis.inputs = [basisNode.inputs[0], basisName]
            var newScaling = withBias(scalingNode)
            newScaling.inputs[0] = basisNode.outputs[0]
            newScaling.inputs[1] = scalingName
            replacement[layer.basisNode] = [newBasis]
            replacement[layer.scaleNode] = []
            replacement[layer.scalingNode] = [newScaling]
        }
        graph.nodes = graph.nodes.flatMap { node in node.name.flatMap { replacement[$0] } ?? [node] }
        graph.initializers = graph.initializers.filter { !replaced.contains($0.name ?? "") } + added
        return graph.removingDeadCode()
    }
}
