import BasisPrune

enum SplitCommand {
    static let header = """
        USAGE: onnx-basisprune split IN.onnx OUT.onnx [--in-place]

        Simplifies the graph (see `simplify --help`), folds BatchNormalization into the layer
        before it and splits every Conv with one group and more than one input per filter, and
        every Gemm or MatMul with a constant weight, by SVD into a basis layer (orthonormal
        filters, named X/basis) and a 1x1 scaling layer (X/scaling) that maps the bases back to
        the original outputs. No data, no training, no
        pruning: every basis is kept and every layer stays split, so OUT computes the same
        function as IN (up to float rounding) and shows the method's starting point. Layers
        left unsplit (depthwise or grouped convs, weights that are not constants) are listed
        with the reason.

        """

    static var table: OptionTable<Void> {
        OptionTable(sections: [.init(title: "OPTIONS", options: [
            Option("--in-place", nil, "allow OUT to be IN (the same file by any path or hard link) and replace it; without it such a run is refused (exit 2). Still written atomically"),
            Option("--quiet", nil, "print nothing on success"),
            Option("-h, --help", nil, "show this help"),
        ])])
    }

    static var help: String { header + "\n" + table.help(tuning: false) + "\n" + exitCodesHelp + "\n" }

    static func run(_ argv: [String]) throws(CLIError) -> String {
        let args = try Arguments(argv, command: "split", valueOptions: table.valueOptions, flagOptions: table.flagOptions)
        if args.has("--help") { return help }
        guard args.positional.count == 2 else { throw .usage("split takes IN.onnx and OUT.onnx (see onnx-basisprune split --help)") }
        let (input, output) = (args.positional[0], args.positional[1])
        _ = try OutputFiles(inputs: [input], [("OUT", output)], inPlace: args.has("--in-place"))
        let model = try loadModel(input)
        let split: Model, layers: [SplitLayer], skipped: [PruneReport.Skipped]
        do {
            let simplified = try Simplify.run(model).model
            (split, layers) = try Pipeline.split(simplified)
            skipped = PruneReport.Skipped.split(try FoldBatchNorm.run(simplified.graph))
            try ONNXExporter.write(Pipeline.export(split, layers: layers, choices: [:], remerge: false), to: output)
        } catch let error as PassError {
            throw .usage("\(input): \(error.description)")
        } catch {
            throw CLIError(message: "\(error)", code: .runtimeFailure)
        }
        if args.has("--quiet") { return "" }
        var table = TextTable(header: ["layer", "op", "n", "out", "rank", "params before", "params split"], rightAligned: [2, 3, 4, 5, 6])
        for layer in layers {
            table.append([layer.name, layer.original.opType, "\(layer.inputLength)", "\(layer.outputChannels)", "\(layer.rank)",
                          grouped(layer.originalParameters), grouped(layer.rank * layer.basisCost + (layer.hasBias ? layer.outputChannels : 0))])
        }
        var out = "split \(layers.count) layers of \(input) into \(output)\n\n" + table.render()
        if !skipped.isEmpty {
            var notSplit = TextTable(header: ["not split", "op", "reason"])
            for s in skipped { notSplit.append([s.layer, s.op, s.reason]) }
            out += "\n" + notSplit.render()
        }
        return out
    }
}
