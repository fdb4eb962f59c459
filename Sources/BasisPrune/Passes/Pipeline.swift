/// The rewrite passes in order, over whole models.
public enum Pipeline {
    /// BatchNorm folded, then every eligible layer split by SVD (scaling factors all 1).
    /// `objective` sets each layer's split overhead (what decides re-merging at export).
    public static func split(_ model: Model, objective: Objective = .params) throws(PassError) -> (model: Model, layers: [SplitLayer]) {
        var result = model
        var (graph, layers) = try BasisSplit.run(FoldBatchNorm.run(model.graph))
        result.graph = graph
        let positions = graph.outputPositions(opset: model.defaultOpsetVersion ?? 21)
        let index = Dictionary(graph.nodes.enumerated().compactMap { i, n in n.name.map { ($0, i) } }, uniquingKeysWith: { a, _ in a })
        for l in layers.indices {
            if let i = index[layers[l].basisNode], let p = positions[i] { layers[l].outputPositions = p }
            layers[l].splitOverhead = objective.splitOverhead
        }
        return (result, layers)
    }

    /// The split model with each layer's factors folded, removed bases dropped and, with
    /// `remerge`, layers that would not shrink turned back into one layer and 1x1 convs with
    /// nothing between them and the conv before multiplied into it where that is smaller
    /// (`FuseLinearConvs`; `fuse: false` keeps every layer's own nodes, as `diff` fixtures want).
    public static func export(_ split: Model, layers: [SplitLayer], choices: [String: BasisExport.Choice], remerge: Bool = true,
                              fuse: Bool = true) throws(PassError) -> Model {
        var result = split
        result.graph = try BasisExport.run(split.graph, layers: layers, choices: choices, remerge: remerge)
        if remerge && fuse { result.graph = try FuseLinearConvs.run(result.graph).graph }
        return result
    }
}
