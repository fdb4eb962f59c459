import BasisPrune

enum EvalCommand {
    static let header = """
        USAGE: onnx-basisprune eval MODEL --data SPEC [--limit N] [--batch-size B] [--json]
               mpirun -n N onnx-basisprune eval MODEL --data SPEC ...   (batch b on rank b % N)

        Runs MODEL with this tool's CPU engine on labelled images and reports top-1 accuracy,
        mean cross-entropy, and images per second. The first graph output is read as logits
        [batch, classes] in the label order of the data.

        ARGUMENTS:
          MODEL                 the .onnx file

        """

    static let defaultBatch = 256

    static var table: OptionTable<Void> {
        OptionTable(sections: [.init(title: "OPTIONS", options: DataOptions.options() + [
            Option("--limit", "N", "evaluate only the first N images of the selection"),
            Option("--batch-size", "B", "images per forward pass (default \(defaultBatch))"),
            Option("--json", nil, "print {\"accuracy\" (a fraction), \"loss\", \"images_per_second\" (compiling the plan on the first batch left out), \"count\", \"correct\"} as JSON instead of text"),
            Option("--quiet", nil, "no progress on stderr"),
        ] + Ranks.options() + [
            Option("-h, --help", nil, "show this help"),
        ])])
    }

    static var help: String { header + "\n" + table.help(tuning: false) + "\n" + exitCodesHelp + "\n" }

    static func run(_ argv: [String]) throws(CLIError) -> String {
        let args = try Arguments(argv, command: "eval", valueOptions: table.valueOptions, flagOptions: table.flagOptions)
        if args.has("--help") { return help }
        guard args.positional.count == 1 else { throw .usage("eval takes exactly one MODEL (see onnx-basisprune eval --help)") }
        let path = args.positional[0]
        let batchSize = try positiveInt(args, "--batch-size", default: defaultBatch)
        let limit = try args.values["--limit"].map { _ throws(CLIError) in try positiveInt(args, "--limit", default: 1) }
        guard args.values["--data"] != nil else { throw .usage("eval needs --data SPEC (see onnx-basisprune eval --help)") }
        let sharing = try Ranks.setUp(args)
        let (data, executor) = try Ranks.agree(sharing) { () throws(CLIError) in
            let model = try loadModel(path)
            let data = try DataOptions.preprocessor(args, model: model, modelPath: path)
            do { return (data, try Executor(model: model)) } catch { throw .usage("\(path): \(error)") }
        }
        let count = min(limit ?? data.images.count, data.images.count)
        let result: EvaluationResult
        do {
            result = try executor.evaluate(data, indices: Array(0..<count), batchSize: batchSize,
                                           reporter: TerminalReporter(quiet: args.has("--quiet") || !Ranks.leads), sharing: sharing)
        } catch { throw Ranks.error(error, prefix: "\(path): ") }
        if args.has("--json") { return try encodeJSON(result) }
        return """
            model        \(path)
            data         \(data.images.source) (\(count) images)
            accuracy     \(String(format: "%.2f", 100 * result.accuracy)) % (\(result.correct) of \(result.count))
            loss         \(String(format: "%.4f", result.loss))
            throughput   \(String(format: "%.0f", result.imagesPerSecond)) images/s

            """
    }
}
