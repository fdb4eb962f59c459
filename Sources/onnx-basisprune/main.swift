import Foundation
import BasisPrune

/// Dispatches to a subcommand, prints its output, and maps errors to exit codes.
let topLevelHelp = """
    onnx-basisprune: makes transfer-learned CNNs smaller by basis pruning, without fine-tuning weights.

    USAGE: onnx-basisprune IN.onnx OUT.onnx --data SPEC [options]   prune (see `onnx-basisprune prune --help`)
           onnx-basisprune COMMAND [ARGUMENTS] [OPTIONS]

    COMMANDS:
      prune IN OUT --data SPEC
                          the main job (the word `prune` may be left out): split, train the
                          scaling factors, remove bases within the accuracy budget, write OUT
      inspect MODEL       producer, opsets, inputs and outputs, op counts, parameters, and a
                          per-layer table of Conv/Gemm/MatMul layers with MACs
      diff A B            what changed between two models, layer by layer (split layers as
                          one entry with their rank change), and in total
      simplify IN OUT     fold constants and shape arithmetic, merge Pads into Convs, drop
                          Identity/Dropout and dead nodes (the same function, a cleaner graph)
      split IN OUT        fold BatchNorm and split every layer into basis and scaling parts
                          (no data, no pruning: the same function, for inspection)
      eval MODEL --data SPEC
                          top-1 accuracy, loss and images/s of a classifier on labelled images

    Run `onnx-basisprune COMMAND --help` for a command's arguments and options,
    `onnx-basisprune --version` for the version.

    \(exitCodesHelp)

    """

func runCommand(_ argv: [String]) throws(CLIError) -> String {
    guard let command = argv.first else { throw .usage("no command given\n" + topLevelHelp) }
    let rest = Array(argv.dropFirst())
    switch command {
    case "inspect": return try InspectCommand.run(rest)
    case "diff": return try DiffCommand.run(rest)
    case "eval": return try EvalCommand.run(rest)
    case "split": return try SplitCommand.run(rest)
    case "simplify": return try SimplifyCommand.run(rest)
    case "prune": return try PruneCommand.run(rest)
    case "help", "--help", "-h": return topLevelHelp
    case "--version", "version": return "onnx-basisprune \(basisPruneVersion)\n"
    default:
        // The main job needs no command word: `onnx-basisprune IN.onnx OUT.onnx --data SPEC`.
        if command.hasSuffix(".onnx") { return try PruneCommand.run(argv) }
        throw .usage("unknown command '\(command)' (see onnx-basisprune --help)")
    }
}

AtomicFile.removeTemporariesOnSignals()
// Under mpirun rank 0 prints the summary and the errors every rank meets alike; a rank prints
// an error only it met; MPI ends on every path.
do {
    let output = try runCommand(Array(CommandLine.arguments.dropFirst()))
    if Ranks.leads { FileHandle.standardOutput.write(Data(output.utf8)) }
    Ranks.finish()
    exit(ExitCode.success.rawValue)
} catch {
    if !error.silent && (Ranks.leads || !error.everyRank) {
        if Ranks.leads { FileHandle.standardOutput.write(Data(error.output.utf8)) }
        FileHandle.standardError.write(Data("onnx-basisprune: \(error.message)\n".utf8))
    }
    Ranks.finish(code: error.code.rawValue)
    exit(error.code.rawValue)
}
