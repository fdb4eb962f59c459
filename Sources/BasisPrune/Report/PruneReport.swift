import Foundation

/// What the main command reports, per layer and in total (the `--report` JSON and the table).
public struct PruneReport: Sendable, Codable {
    public struct Layer: Sendable, Codable, Equatable {
        public var name: String
        public var op: String
        public var rank: Int
        public var kept: Int
        public var remerged: Bool
        public var parametersBefore: Int
        public var parametersAfter: Int
        public var macsBefore: Int?
        public var macsAfter: Int?

        enum CodingKeys: String, CodingKey {
            case name, op, rank, kept, remerged
            case parametersBefore = "parameters_before", parametersAfter = "parameters_after"
            case macsBefore = "macs_before", macsAfter = "macs_after"
        }
    }

    public struct Accuracy: Sendable, Codable, Equatable {
        public var validation: Double?
        public var test: Double?

        public init(validation: Double?, test: Double?) {
            self.validation = validation
            self.test = test
        }
    }

    public struct Phase: Sendable, Codable, Equatable {
        public var name: String
        public var seconds: Double

        public init(name: String, seconds: Double) {
            self.name = name
            self.seconds = seconds
        }
    }

    public var schema = "onnx-basisprune/prune"
    public var schemaVersion = 1
    public var input: String
    public var output: String
    public var layers: [Layer]
    /// Conv/Gemm/MatMul weights and biases of the whole model, before and after.
    public var parametersBefore: Int
    public var parametersAfter: Int
    public var macsBefore: Int?
    public var macsAfter: Int?
    public var inputAccuracy: Accuracy
    public var outputAccuracy: Accuracy
    public var maxAccuracyDrop: Double
    public var withinBudget: Bool
    public var history: [PruningRound]
    public var phases: [Phase]
    /// With `--verify`: the written file reloaded and run beside the input model on the validation images.
    public var verify: Verification?

    enum CodingKeys: String, CodingKey {
        case schema, input, output, layers, history, phases, verify
        case schemaVersion = "schema_version", parametersBefore = "parameters_before", parametersAfter = "parameters_after"
        case macsBefore = "macs_before", macsAfter = "macs_after", inputAccuracy = "input_accuracy"
        case outputAccuracy = "output_accuracy", maxAccuracyDrop = "max_accuracy_drop", withinBudget = "within_budget"
    }

    public init(
        input: String, output: String, layers: [Layer], parametersBefore: Int, parametersAfter: Int, macsBefore: Int?,
        macsAfter: Int?, inputAccuracy: Accuracy, outputAccuracy: Accuracy, maxAccuracyDrop: Double, withinBudget: Bool,
        history: [PruningRound], phases: [Phase]
    ) {
        self.input = input
        self.output = output
        self.layers = layers
        self.parametersBefore = parametersBefore
        self.parametersAfter = parametersAfter
        self.macsBefore = macsBefore
        self.macsAfter = macsAfter
        self.inputAccuracy = inputAccuracy
        self.outputAccuracy = outputAccuracy
        self.maxAccuracyDrop = maxAccuracyDrop
        self.withinBudget = withinBudget
        self.history = history
        self.phases = phases
    }

    /// Per-layer rows from the split layers and the input model's per-layer MACs.
    public static func layers(_ state: ScalingState, original: GraphSummary) -> [Layer] {
        let macsByName = Dictionary(original.layers.map { ($0.name, $0.macs) }, uniquingKeysWith: { a, _ in a })
        return state.layers.map { layer in
            let kept = state.kept[layer.factors]!.filter { $0 }.count
            let positions = macsByName[layer.name].flatMap { $0 }.map { $0 / max(layer.inputLength * layer.outputChannels, 1) }
            let weightsAfter = min(kept * layer.basisCost, layer.inputLength * layer.outputChannels)
            return Layer(name: layer.name, op: layer.original.opType, rank: layer.rank, kept: kept, remerged: layer.remerges(kept: kept),
                         parametersBefore: layer.originalParameters, parametersAfter: layer.parameters(kept: kept),
                         macsBefore: macsByName[layer.name] ?? nil, macsAfter: positions.map { $0 * weightsAfter })
        }
    }

    /// The summary table for people.
    public func table() -> String {
        var table = TextTable(header: ["layer", "op", "rank", "kept", "params before", "params after", "MACs before", "MACs after"],
                              rightAligned: [2, 3, 4, 5, 6, 7])
        for l in layers {
            table.append([l.name, l.op + (l.remerged ? " (merged)" : ""), "\(l.rank)", "\(l.kept)", grouped(l.parametersBefore),
                          grouped(l.parametersAfter), l.macsBefore.map(grouped) ?? "?", l.macsAfter.map(grouped) ?? "?"])
        }
        func percent(_ after: Int, _ before: Int) -> String {
            before > 0 ? String(format: "%.1f %% fewer", 100 * (1 - Double(after) / Double(before))) : "-"
        }
        var out = table.render()
        out += "\nmodel totals (Conv/Gemm/MatMul weights and biases, MACs per image):\n"
        out += "  parameters  \(grouped(parametersBefore)) -> \(grouped(parametersAfter))  (\(percent(parametersAfter, parametersBefore)))\n"
        if let before = macsBefore, let after = macsAfter {
            out += "  MACs        \(grouped(before)) -> \(grouped(after))  (\(percent(after, before)))\n"
        }
        func acc(_ v: Double?) -> String { v.map { String(format: "%.2f %%", 100 * $0) } ?? "-" }
        out += "\naccuracy          input model   output model\n"
        out += "  validation      \(acc(inputAccuracy.validation).padding(toLength: 14, withPad: " ", startingAt: 0))\(acc(outputAccuracy.validation))\n"
        if inputAccuracy.test != nil || outputAccuracy.test != nil {
            out += "  test            \(acc(inputAccuracy.test).padding(toLength: 14, withPad: " ", startingAt: 0))\(acc(outputAccuracy.test))\n"
        }
        if let verify {
            out += "\nverify (\(output) reloaded from disk, on the validation images): \(verify.passed ? "passed" : "FAILED")\n"
            out += String(format: "  accuracy %.2f %% (input model %.2f %%), top-1 agreement with the input model %.2f %%\n",
                          100 * verify.accuracy, 100 * verify.referenceAccuracy, 100 * verify.agreement)
        }
        out += "\ntime\n"
        for phase in phases { out += "  \(phase.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%7.1f s", phase.seconds))\n" }
        out += "  \("total".padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%7.1f s", phases.reduce(0) { $0 + $1.seconds }))\n"
        return out
    }
}
