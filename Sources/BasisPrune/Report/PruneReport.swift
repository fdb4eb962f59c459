import Foundation

/// What the main command reports, per layer and in total (the `--report` JSON and the table).
public struct PruneReport: Sendable, Codable {
    public struct Layer: Sendable, Codable, Equatable {
        public var name: String
        public var op: String
        public var outputChannelsBefore: Int
        public var outputChannelsAfter: Int
        /// Bases after the split and bases kept; nil for a layer basis pruning did not split.
        public var rank: Int?
        public var kept: Int?
        public var remerged: Bool
        /// True when part of this layer was multiplied into a neighbouring conv at export
        /// (`FuseLinearConvs`): its row counts what is left under its own node names.
        public var fused: Bool?
        public var parametersBefore: Int
        public var parametersAfter: Int
        public var macsBefore: Int?
        public var macsAfter: Int?

        enum CodingKeys: String, CodingKey {
            case name, op, rank, kept, remerged, fused
            case outputChannelsBefore = "output_channels_before", outputChannelsAfter = "output_channels_after"
            case parametersBefore = "parameters_before", parametersAfter = "parameters_after"
            case macsBefore = "macs_before", macsAfter = "macs_after"
        }
    }

    /// A Conv/Gemm/MatMul layer a stage left alone, and why: `stage` is `split` (basis pruning
    /// did not split it) or `channels` (filter pruning can remove none of its output channels).
    public struct Skipped: Sendable, Codable, Equatable {
        public var layer: String
        public var op: String
        public var stage: String
        public var reason: String

        public init(layer: String, op: String, stage: String, reason: String) {
            self.layer = layer
            self.op = op
            self.stage = stage
            self.reason = reason
        }

        /// The layers basis splitting leaves unsplit in `graph` (BatchNorm folded).
        public static func split(_ graph: Graph) -> [Skipped] {
            BasisSplit.skippedLayers(graph).map { Skipped(layer: $0.node.displayName, op: $0.node.opType, stage: "split", reason: $0.reason) }
        }

        /// The layers none of whose output channels `analysis` of `graph` lets filter pruning remove.
        public static func channels(_ analysis: ChannelDependency, _ graph: Graph) -> [Skipped] {
            analysis.unprunableLayers(graph).map { Skipped(layer: $0.node.displayName, op: $0.node.opType, stage: "channels", reason: $0.reason) }
        }
    }

    /// The filter (channel) pruning stage of `--method filter` and `double`.
    public struct FilterStage: Sendable, Codable, Equatable {
        /// Fraction of the usable budget (the budget minus the certification slack) the stage could spend.
        public var share: Double
        /// Removable channel groups found by the dependency analysis, and how many were removed.
        public var groups: Int
        public var groupsRemoved: Int
        /// Filters (output channels of Conv, Gemm and MatMul layers) removed.
        public var filtersRemoved: Int
        public var parametersAfter: Int
        public var validationAccuracy: Double
        public var history: [PruningRound]

        public init(share: Double, groups: Int, groupsRemoved: Int, filtersRemoved: Int, parametersAfter: Int,
                    validationAccuracy: Double, history: [PruningRound]) {
            self.share = share
            self.groups = groups
            self.groupsRemoved = groupsRemoved
            self.filtersRemoved = filtersRemoved
            self.parametersAfter = parametersAfter
            self.validationAccuracy = validationAccuracy
            self.history = history
        }

        enum CodingKeys: String, CodingKey {
            case share, groups, history
            case groupsRemoved = "groups_removed", filtersRemoved = "filters_removed", parametersAfter = "parameters_after"
            case validationAccuracy = "validation_accuracy"
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

    public typealias Phase = PhaseClock.Phase

    public var schema = "onnx-basisprune/prune"
    public var schemaVersion = 2
    /// basis, filter or double.
    public var method: String
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
    /// The basis pruning search's rounds (empty for `--method filter`).
    public var history: [PruningRound]
    public var filter: FilterStage?
    public var phases: [Phase]
    /// Layers a stage left alone, with the reason (empty when every layer took part; nil only
    /// in a report decoded from a file written before the key existed).
    public var skipped: [Skipped]?
    /// With `--verify`: the written file reloaded and run beside the input model on the validation images.
    public var verify: Verification?
    /// The cost the searches ranked against (`--objective`) and the channel multiple.
    public var objective: String?
    public var channelMultiple: Int?
    public var channelMultipleFrom: String?
    /// With `--objective auto`: how the objective was chosen ("auto: 115 MACs per parameter, ...").
    public var objectiveFrom: String?
    /// Nodes of the input file and of the written file (simplified).
    public var nodesBefore: Int?
    public var nodesAfter: Int?
    /// The certified bound on the accuracy drop and the candidates checked.
    public var certification: Certification?
    /// What channel groups were ranked against (`--loss`, nil without a filter stage), what the
    /// scaling factors were trained and bases ranked against (`--factor-loss`, nil without a
    /// basis stage), and the distillation temperature (nil when neither distills).
    public var loss: String?
    public var factorLoss: String?
    public var temperature: Double?
    /// What a removed basis or channel left behind (`--removed`: mean or zero).
    public var removal: String?
    /// The processes that ran the job (MPI ranks; 1 without mpirun), the compute threads of
    /// each, and the images per unit of a training step (`WorkSharing`).
    public var ranks: Int?
    public var threads: Int?
    public var microBatch: Int?
    /// Under mpirun: the exchanges rank 0 took part in and the bytes it sent.
    public var exchanges: Int?
    public var bytesSent: Int?
    /// Under mpirun: the mean bytes rank 0 sent per training step (filter importance and
    /// scaling-factor steps: its micro-batches' loss, hits and gradients).
    public var bytesPerTrainingStep: Int?
    /// Whether OUT was written: false when nothing certified and `--force` was not given (the
    /// report then describes the searches' most pruned candidate, which was not written).
    public var outputWritten: Bool?
    /// The memory the job planned its batches for (`--memory-limit`) and the highest peak
    /// resident memory of its phases (rank 0's under mpirun), in bytes.
    public var memoryLimit: Int?
    /// Training images each round retrained on (`--retrain-images`, after `auto`).
    public var retrainImages: Int?
    /// The most rounds the basis search could try (`--basis-rounds`, after `auto`); nil: no limit.
    public var basisRounds: Int?
    /// The searches' steps in force (`PruningOptions.steps`): the fraction of what remains each
    /// round removes (`--round-fraction`); the filter stage's share is `filter.share`.
    public var roundFraction: Double?
    public var peakResidentBytes: Int?

    enum CodingKeys: String, CodingKey {
        case schema, method, input, output, layers, history, filter, phases, verify, skipped, objective, certification, loss, factorLoss = "factor_loss", temperature, removal
        case ranks, threads, exchanges, microBatch = "micro_batch", bytesSent = "bytes_sent", bytesPerTrainingStep = "bytes_per_training_step", outputWritten = "output_written"
        case memoryLimit = "memory_limit", peakResidentBytes = "peak_resident_bytes", retrainImages = "retrain_images", roundFraction = "round_fraction", basisRounds = "basis_rounds"
        case channelMultiple = "channel_multiple", channelMultipleFrom = "channel_multiple_from", objectiveFrom = "objective_from", nodesBefore = "nodes_before", nodesAfter = "nodes_after"
        case schemaVersion = "schema_version", parametersBefore = "parameters_before", parametersAfter = "parameters_after"
        case macsBefore = "macs_before", macsAfter = "macs_after", inputAccuracy = "input_accuracy"
        case outputAccuracy = "output_accuracy", maxAccuracyDrop = "max_accuracy_drop", withinBudget = "within_budget"
    }

    public init(
        method: String = "basis", input: String, output: String, layers: [Layer], parametersBefore: Int, parametersAfter: Int, macsBefore: Int?,
        macsAfter: Int?, inputAccuracy: Accuracy, outputAccuracy: Accuracy, maxAccuracyDrop: Double, withinBudget: Bool,
        history: [PruningRound], filter: FilterStage? = nil, skipped: [Skipped] = [], phases: [Phase]
    ) {
        self.skipped = skipped
        self.method = method
        self.filter = filter
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

    /// Per-layer rows: every Conv/Gemm/MatMul layer of the input model, measured again in the
    /// output model (under its own name, or as its `/basis` and `/scaling` parts when it stayed split).
    public static func layers(original: GraphSummary, after: GraphSummary, state: ScalingState?) -> [Layer] {
        let afterByName = Dictionary(after.layers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let splitByName = Dictionary((state?.layers ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        return original.layers.map { l in
            var parts = [afterByName[l.name]].compactMap { $0 }
            var rank: Int?, kept: Int?, remerged = false, expected = 1
            if let state, let split = splitByName[l.name] {
                rank = split.rank
                kept = state.kept[split.factors]!.filter { $0 }.count
                remerged = split.remerges(kept: kept!)
                if !remerged {
                    parts = [afterByName[split.basisNode], afterByName[split.scalingNode]].compactMap { $0 }
                    expected = 2
                }
            }
            let macs = parts.map(\.macs)
            return Layer(name: l.name, op: l.op, outputChannelsBefore: l.outputChannels, outputChannelsAfter: parts.last?.outputChannels ?? 0,
                         rank: rank, kept: kept, remerged: remerged, fused: parts.count < expected ? true : nil, parametersBefore: l.parameters,
                         parametersAfter: parts.reduce(0) { $0 + $1.parameters }, macsBefore: l.macs,
                         macsAfter: macs.contains { $0 == nil } ? nil : macs.reduce(0) { $0 + $1! })
        }
    }

    /// One line for stderr when layers were skipped: how many per stage and which (the first few), or nil.
    public func skippedSummary() -> String? {
        let skipped = self.skipped ?? []
        guard !skipped.isEmpty else { return nil }
        var parts: [String] = []
        for (stage, what) in [("split", "not split"), ("channels", "with no prunable output channel")] {
            let names = skipped.filter { $0.stage == stage }.map(\.layer)
            guard !names.isEmpty else { continue }
            let shown = names.prefix(4).joined(separator: ", ") + (names.count > 4 ? ", ..." : "")
            parts.append("\(names.count) \(names.count == 1 ? "layer" : "layers") \(what) (\(shown))")
        }
        return "skipped: " + parts.joined(separator: "; ") + "; the reasons are listed under 'skipped' in the summary and the --report JSON"
    }

    /// The summary table for people.
    public func table() -> String {
        var table = TextTable(header: ["layer", "op", "channels", "rank", "kept", "params before", "params after", "MACs before", "MACs after"],
                              rightAligned: [2, 3, 4, 5, 6, 7, 8])
        for l in layers {
            let channels = l.outputChannelsAfter == l.outputChannelsBefore ? "\(l.outputChannelsBefore)" : "\(l.outputChannelsBefore) -> \(l.outputChannelsAfter)"
            table.append([l.name, l.op + (l.remerged ? " (merged)" : "") + (l.fused == true ? " (fused)" : ""), channels, l.rank.map { "\($0)" } ?? "-", l.kept.map { "\($0)" } ?? "-",
                          grouped(l.parametersBefore), grouped(l.parametersAfter), l.macsBefore.map(grouped) ?? "?", l.macsAfter.map(grouped) ?? "?"])
        }
        func percent(_ after: Int, _ before: Int) -> String {
            before > 0 ? String(format: "%.1f %% fewer", 100 * (1 - Double(after) / Double(before))) : "-"
        }
        var out = table.render()
        if layers.contains(where: { $0.fused == true }) {
            out += "(fused): a 1x1 conv with nothing between it and the conv before it was multiplied into that conv at export "
                + "(the same function with fewer parameters); the row counts the nodes left under the layer's own names\n"
        }
        if let skipped, !skipped.isEmpty {
            var skippedTable = TextTable(header: ["skipped layer", "op", "stage", "reason"], rightAligned: [])
            for s in skipped { skippedTable.append([s.layer, s.op, s.stage, s.reason]) }
            out += "\n" + skippedTable.render()
        }
        if let filter {
            out += "\nfilter pruning (--method \(method)): removed \(filter.groupsRemoved) of \(filter.groups) channel groups "
                + "(\(filter.filtersRemoved) filters); validation accuracy "
                + String(format: "%.2f %%", 100 * filter.validationAccuracy) + ", parameters \(grouped(filter.parametersAfter))\n"
        }
        let losses = [loss.map { "--loss \($0) (channel groups)" }, factorLoss.map { "--factor-loss \($0) (scaling factors and bases)" }].compactMap { $0 }
        if !losses.isEmpty {
            out += "\ntrained and ranked against: " + losses.joined(separator: ", ")
                + (temperature.map { ", temperature \(String(format: "%g", $0))" } ?? "")
                + (retrainImages.map { ", \(grouped($0)) training images per round" } ?? "") + "\n"
        }
        if let objective {
            out += "importance per --objective \(objective) cost" + (objectiveFrom.map { " (\($0))" } ?? "") + "\n"
        }
        if let removal {
            out += removal == "mean" ? "removed bases and channels leave their means in the next layer's bias (--removed mean)\n"
                                     : "removed bases and channels leave nothing (--removed zero)\n"
        }
        out += "\nmodel totals (Conv/Gemm/MatMul weights and biases, MACs per image):\n"
        if let before = nodesBefore, let after = nodesAfter {
            out += "  nodes       \(grouped(before)) -> \(grouped(after))  (graph simplified)\n"
        }
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
        if let certification {
            out += "\ncertification: " + certification.summary + "\n"
        }
        if let verify {
            out += "\nverify (\(output) reloaded from disk, on the validation images): \(verify.passed ? "passed" : "FAILED")\n"
            out += String(format: "  accuracy %.2f %% (input model %.2f %%), top-1 agreement with the input model %.2f %%\n",
                          100 * verify.accuracy, 100 * verify.referenceAccuracy, 100 * verify.agreement)
        }
        func gigabytes(_ bytes: Int?) -> String { bytes.map { String(format: "%8.2f GiB", Double($0) / 1_073_741_824) } ?? "" }
        out += "\ntime                            seconds   peak memory\n"
        for phase in phases {
            out += "  \(phase.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%7.1f s", phase.seconds))  \(gigabytes(phase.peakResidentBytes))\n"
        }
        out += "  \("total".padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%7.1f s", phases.reduce(0) { $0 + $1.seconds }))  \(gigabytes(peakResidentBytes))\n"
        if let memoryLimit { out += "  (batches planned for a memory limit of \(String(format: "%.2f GiB", Double(memoryLimit) / 1_073_741_824)))\n" }
        return out
    }
}
