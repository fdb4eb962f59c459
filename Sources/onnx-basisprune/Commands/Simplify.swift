import BasisPrune

enum SimplifyCommand {
    static let header = """
        USAGE: onnx-basisprune simplify IN.onnx OUT.onnx

        Cleans a model up for deployment without changing what it computes (what onnxsim and
        onnxslim do): constant subgraphs and shape arithmetic that does not depend on the batch
        size are folded into initializers, a zero Pad of the spatial axes is merged into the
        Convs that read it, Identity and inference-mode Dropout are removed, and dead nodes and
        unused initializers go. Node names and the names of the values that stay are kept. The
        main job and `split` run the same pass on their input first.

        """

    static var table: OptionTable<Void> {
        OptionTable(sections: [.init(title: "OPTIONS", options: [
            Option("--in-place", nil, "allow OUT to be IN (refused otherwise); the file is still replaced atomically"),
            Option("--quiet", nil, "print nothing on success"),
            Option("-h, --help", nil, "show this help"),
        ])])
    }

    static var help: String { header + "\n" + table.help(tuning: false) + "\n" + exitCodesHelp + "\n" }

    static func run(_ argv: [String]) throws(CLIError) -> String {
        let args = try Arguments(argv, command: "simplify", valueOptions: table.valueOptions, flagOptions: table.flagOptions)
        if args.has("--help") { return help }
        guard args.positional.count == 2 else { throw .usage("simplify takes IN.onnx and OUT.onnx (see onnx-basisprune simplify --help)") }
        let (input, output) = (args.positional[0], args.positional[1])
        _ = try OutputFiles(inputs: [input], [("OUT", output)], inPlace: args.has("--in-place"))
        let model = try loadModel(input)
        let statistics: Simplify.Statistics
        do {
            let (simplified, stats) = try Simplify.run(model)
            statistics = stats
            try ONNXExporter.write(simplified, to: output)
        } catch let error as PassError {
            throw .usage("\(input): \(error.description)")
        } catch {
            throw CLIError(message: "\(error)", code: .runtimeFailure)
        }
        if args.has("--quiet") { return "" }
        return """
            simplified \(input) -> \(output)
              nodes                   \(grouped(statistics.nodesBefore)) -> \(grouped(statistics.nodesAfter))
              folded into constants   \(grouped(statistics.folded))
              Pads merged into Convs  \(grouped(statistics.padsFused))
              Identity/Dropout gone   \(grouped(statistics.passThroughsRemoved))
              channels-last blocks    \(grouped(statistics.channelsLastBlocks)) (MatMuls made 1x1 Convs)
              LayerNorms made one op  \(grouped(statistics.writtenOutLayerNorms)) (written out with ReduceMean)

            """
    }
}
