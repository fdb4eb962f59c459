/// The rewrite passes in order, over whole models.
public enum Pipeline {
    /// BatchNorm folded, then every eligible layer split by SVD (scaling factors all 1).
    public static func split(_ model: Model) throws(PassError) -> (model: Model, layers: [SplitLayer]) {
        var result = model
        let (graph, layers) = try BasisSplit.run(FoldBatchNorm.run(model.graph))
        result.graph = graph
        return (result, layers)
    }

    /// The split model with each layer's factors folded, removed bases dropped and, with
    /// `remerge`, layers that would not shrink turned back into one layer.
    public static func export(_ split: Model, layers: [SplitLayer], choices: [String: BasisExport.Choice], remerge: Bool = true) throws(PassError) -> Model {
        var result = split
        result.graph = try BasisExport.run(split.graph, layers: layers, choices: choices, remerge: remerge)
        return result
    }
}
