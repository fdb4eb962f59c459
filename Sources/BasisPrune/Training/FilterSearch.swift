import Foundation

/// What the filter search found: the channel groups to remove.
public struct FilterPruningResult: Sendable {
    public var removed: Set<Int>
    public var baselineValidationAccuracy: Double
    public var validationAccuracy: Double
    /// Rounds; `keptBases` counts the removable channel groups kept.
    public var history: [PruningRound]
    /// The accepted candidates that removed groups, least pruned first (the last is `removed`).
    public var candidates: [Set<Int>]
    public var phases: [PhaseClock.Phase]
}

/// Filter pruning without fine-tuning: ranks channel groups by first-order Taylor importance
/// (per batch `|sum over the group's sinks of m_c * dL/dm_c|` for unit masks where the layers
/// that sum over the channels read them, summed over batches), and removes the least important
/// in rounds within the accuracy floor; a failed round is retried with half the fraction.
/// Nothing is trained: a candidate is the input model with its removed channels masked, which
/// is the model with them removed (up to float rounding where a LayerNormalization's statistics
/// leave them out through its channel weights, `ChannelPruning.Mask.statistics`).
public struct FilterSearch: Sendable {
    /// Runs the masked graph (the importance passes, which need the mask gradients).
    public let executor: Executor
    /// Runs the masked graph with the masks folded into the weights where they can be
    /// (`ChannelPruning.MaskFolding`): the same numbers with fewer operations, for validation.
    let validator: Executor
    let folding: ChannelPruning.MaskFolding
    /// The graph the analysis is of (without masks), for counting parameters.
    public let graph: Graph
    public let analysis: ChannelDependency
    public let masks: [ChannelPruning.Mask]
    /// With mean replacement (`PruningOptions.removal`): per masked tensor whose readers can
    /// take them (`ChannelPruning.takesMeans`), its channels' means over training images; a
    /// removed channel leaves its mean there, and `ChannelPruning.remove` must be given these.
    public let means: [String: [Float]]
    /// Per mask, the group of each of its channels (nil where the channel is in no removable group).
    let maskGroups: [[Int?]]
    public let train: Preprocessor
    public let trainIndices: [Int]
    public let validation: Preprocessor
    public let validationIndices: [Int]
    public var options: PruningOptions
    /// Fraction of the usable budget (see `BudgetRule`) this stage may spend.
    public var share: Double
    /// The input model's per-image correctness on the validation images (nil: measured here).
    public var reference: [Bool]?
    /// Images the result will be certified on (nil: as many as the validation images).
    public var certificationImages: Int?
    public var reporter: any Reporter
    /// Output positions per image of each layer of `graph` (for MAC costs).
    let positions: [Int: Int]

    public init(graph: Graph, model: Model, analysis: ChannelDependency, train: Preprocessor, trainIndices: [Int], validation: Preprocessor,
                validationIndices: [Int], options: PruningOptions, share: Double = 1, reference: [Bool]? = nil, certificationImages: Int? = nil,
                reporter: any Reporter = SilentReporter()) throws(EngineError) {
        self.reference = reference
        self.certificationImages = certificationImages
        let means = options.removal == .mean
            ? try Self.channelMeans(graph, model: model, analysis: analysis, train: train, trainIndices: trainIndices, options: options) : [:]
        self.means = means
        let (masked, masks) = ChannelPruning.insertMasks(graph, analysis, means: means)
        var m = model
        m.graph = masked
        executor = try Executor(model: m)
        folding = ChannelPruning.MaskFolding(masked: masked, masks: masks)
        m.graph = folding.graph
        validator = try Executor(model: m)
        self.graph = graph
        positions = graph.outputPositions(opset: model.defaultOpsetVersion ?? 21)
        self.analysis = analysis
        self.masks = masks
        maskGroups = masks.map { m in (0..<m.channels).map { analysis.groupOf[ChannelDependency.Channel(space: m.space, channel: $0)] } }
        self.train = train
        self.trainIndices = trainIndices
        self.validation = validation
        self.validationIndices = validationIndices
        // The micro-batch that fits the memory plan when every channel is kept.
        self.options = options.sizingMicroBatch(for: executor, imageShape: train.imageShape,
                                                parameters: ChannelPruning.maskValues(masks, analysis, removed: []))
        self.share = share
        self.reporter = reporter
    }

    /// The channel means of every tensor a mask would go on whose readers all take means into
    /// their biases, over `options.retrainImages` training images drawn with the seed.
    public static func channelMeans(_ graph: Graph, model: Model, analysis: ChannelDependency, train: Preprocessor, trainIndices: [Int],
                             options: PruningOptions) throws(EngineError) -> [String: [Float]] {
        let initializers = graph.initializersByName, readers = graph.readers
        let tensors = ChannelPruning.insertMasks(graph, analysis).masks.filter { !$0.statistics }.map(\.tensor).filter { tensor in
            let sinks = analysis.spaces.flatMap(\.sinks).filter { $0.tensor == tensor }
            return !sinks.isEmpty && sinks.allSatisfy { sink in
                let node = graph.nodes[sink.node]
                return ChannelPruning.takesMeans(node, initializers) && node.input(1).map { readers[$0]?.count == 1 } == true
            }
        }
        guard !tensors.isEmpty else { return [:] }
        var probe = model
        probe.graph = graph
        let means = try TrainingMeans.of(tensors, in: probe, train: train, trainIndices: trainIndices, options: options, stream: 1 << 35)
        return means.mapValues { $0.map { Float($0) } }
    }

    func evaluate(_ removed: Set<Int>, phase: String) throws(EngineError) -> EvaluationResult {
        try validator.evaluate(validation, indices: validationIndices, batchSize: options.evaluationBatch, reporter: PhaseReporter(base: reporter, phase: phase),
                               parameters: folding.parameters(ChannelPruning.maskValues(masks, analysis, removed: removed)), sharing: options.sharing)
    }

    /// Taylor importance of every group with `removed` masked, over `images` training images.
    func importance(_ removed: Set<Int>, stream: UInt64, phase: String) throws(EngineError) -> [Double] {
        var random = SeededRandom(seed: options.seed, stream: (1 << 40) + stream)
        var order = trainIndices
        order.seededShuffle(using: &random)
        let images = Array(order.prefix(options.retrainImages))
        let parameters = ChannelPruning.maskValues(masks, analysis, removed: removed)
        // The sink masks' gradients (a statistics mask has none).
        let names = masks.filter { !$0.statistics }.map(\.initializer)
        var total = [Double](repeating: 0, count: analysis.groups.count)
        var batchSum = [Double](repeating: 0, count: analysis.groups.count)
        let start = Date()
        var begin = 0
        while begin < images.count {
            let batch = images[begin..<min(begin + options.batchSize, images.count)]
            begin += batch.count
            let result = try executor.sharedLossAndGradients(batch, data: train, targets: options.targets, parameters: parameters,
                                                             names: names, importanceOnly: true, sharing: options.sharing)
            for i in batchSum.indices { batchSum[i] = 0 }
            for (k, m) in masks.enumerated() where !m.statistics {
                guard let g = result.importanceGradients[m.initializer]?.floats else { continue }
                for c in 0..<m.channels { if let group = maskGroups[k][c] { batchSum[group] += Double(g[c]) } }
            }
            for i in total.indices where !removed.contains(i) { total[i] += abs(batchSum[i]) * Double(batch.count) }
            let rate = Double(begin) / max(Date().timeIntervalSince(start), 1e-9)
            reporter.progress(phase: phase, done: begin, total: images.count, detail: String(format: "loss %.4f, %.0f img/s", result.loss, rate))
        }
        return total
    }

    /// `accepted` sees every accepted candidate (the groups removed) as soon as it is, in
    /// order; when it returns false the search ends there (as `BasisSearch.run`).
    public func run(accepted isWanted: (Set<Int>, PruningRound) -> Bool = { _, _ in true }) throws(EngineError) -> FilterPruningResult {
        var clock = PhaseClock()
        let reference: [Bool]
        if let known = self.reference { reference = known } else {
            reference = try evaluate([], phase: "validate input model").correctness
            clock.lap("validate input model")
        }
        let rule = BudgetRule(options: options, certificationImages: certificationImages, share: share, reference: reference)
        let baseline = rule.referenceAccuracy
        let costs = ChannelPruning.groupCosts(graph, analysis, positions: options.objective == .params ? nil : positions)
        var removed = Set<Int>()
        var importance = try importance(removed, stream: 0, phase: "filter importance")
        clock.lap("filter importance")
        var acceptedAccuracy = baseline
        var history = [PruningRound(round: 0, keptBases: analysis.groups.count, layerParameters: ChannelPruning.layerParameters(graph, analysis, removed: []),
                                    validationAccuracy: baseline, accepted: true)]
        var candidates: [Set<Int>] = []
        let floors = Self.floors(analysis, options: options)
        let target = floors != nil ? nil : options.pruneRatio.map { Int((Double(analysis.groups.count) * $0).rounded()) }
        let fixed = options.pruneRatio != nil
        var loop = RoundLoop(options: options, skipRepeatedFailures: false)
        try loop.run(alive: { analysis.groups.count - removed.count }, limit: { _ in target.map { $0 - removed.count } },
                     propose: { count in
                         let candidate = removed.union(choose(count, removed: removed, importance: importance, costs: costs, floors: floors))
                         return candidate.count == removed.count ? nil : candidate
                     }, key: { $0 }, attempt: { (candidate, round) throws(EngineError) in
                         let candidateResult = try evaluate(candidate, phase: "filter round \(round): validate without \(candidate.count - removed.count) more channels")
                         let judged = rule.judge(candidateResult.correctness)
                         let ok = fixed || judged.accepted
                         history.append(PruningRound(round: round, keptBases: analysis.groups.count - candidate.count,
                                                     layerParameters: ChannelPruning.layerParameters(graph, analysis, removed: candidate),
                                                     validationAccuracy: candidateResult.accuracy, accepted: ok, predictedBound: 100 * judged.predictedBound))
                         guard ok else { return .rejected }
                         removed = candidate
                         candidates.append(candidate)
                         acceptedAccuracy = candidateResult.accuracy
                         if !isWanted(candidate, history[history.count - 1]) { return .accepted(goOn: false) }
                         importance = try self.importance(removed, stream: UInt64(round), phase: "filter round \(round): importance")
                         return .accepted(goOn: true)
                     })
        clock.lap("filter pruning in rounds")
        return FilterPruningResult(removed: removed, baselineValidationAccuracy: baseline, validationAccuracy: acceptedAccuracy,
                                   history: history, candidates: candidates, phases: clock.phases)
    }

    /// About `count` of the lowest-scoring groups not yet removed, leaving every space at least
    /// one channel. With a channel multiple above 1, each space's kept channels are then rounded
    /// to the nearest legal width (a multiple, or the space's full width), by removing more of
    /// its lowest-scoring groups or keeping back this round's highest-scoring choices; a group
    /// in several spaces (through Concat) may upset another space, so this repeats, and what
    /// still does not fit is kept back. If that leaves nothing, the space of the lowest-scoring
    /// group loses one block, so every round moves.
    func choose(_ count: Int, removed: Set<Int>, importance: [Double], costs: [Int], floors: [Int]? = nil) -> Set<Int> {
        let scores = analysis.groups.indices.map { g in
            options.ranking == .perCost ? importance[g] / Double(max(costs[g], 1)) : importance[g]
        }
        return Self.choose(count, removed: removed, scores: scores, analysis: analysis, multiple: options.channelMultiple, floors: floors)
    }

    /// With a fixed ratio of every layer (`PruneScope.layer`): the channels each space keeps;
    /// nil otherwise.
    public static func floors(_ analysis: ChannelDependency, options: PruningOptions) -> [Int]? {
        guard let ratio = options.pruneRatio, options.pruneScope == .layer else { return nil }
        let alignment = ChannelAlignment(multiple: options.channelMultiple)
        return analysis.spaces.indices.map { s in
            alignment.keptWidth(full: analysis.spaces[s].channels, removable: analysis.spaces[s].channels - analysis.fixedChannels[s], ratio: ratio)
        }
    }

    /// `choose` on given scores (lowest removed first); every space keeps one channel (or its
    /// `floors` entry).
    public static func choose(_ count: Int, removed: Set<Int>, scores score: [Double], analysis: ChannelDependency, multiple: Int,
                              floors: [Int]? = nil) -> Set<Int> {
        let floor = floors ?? Array(repeating: 1, count: analysis.spaces.count)
        var alive = analysis.spaces.map(\.channels)
        for g in removed { for c in analysis.groups[g] { alive[c.space] -= 1 } }
        let before = alive
        var order = analysis.groups.indices.filter { !removed.contains($0) }
        order.sort { (score[$0], $0) < (score[$1], $1) }
        var chosen = Set<Int>()
        func need(_ g: Int) -> [Int: Int] {
            var need: [Int: Int] = [:]
            for c in analysis.groups[g] { need[c.space, default: 0] += 1 }
            return need
        }
        func take(_ g: Int) {
            for (s, k) in need(g) { alive[s] -= k }
            chosen.insert(g)
        }
        func giveBack(_ g: Int) {
            for (s, k) in need(g) { alive[s] += k }
            chosen.remove(g)
        }
        for g in order where chosen.count < count {
            guard need(g).allSatisfy({ alive[$0.key] - $0.value >= floor[$0.key] }) else { continue }
            take(g)
        }
        let alignment = ChannelAlignment(multiple: multiple)
        guard alignment.multiple > 1 else { return chosen }
        var groupsOf = [[Int]](repeating: [], count: analysis.spaces.count)
        for g in order { for s in Set(analysis.groups[g].map(\.space)) { groupsOf[s].append(g) } }
        let full = analysis.spaces.map(\.channels)
        func illegal() -> [Int] { analysis.spaces.indices.filter { !alignment.isLegal(alive[$0], full: full[$0]) } }
        for _ in 0..<8 {
            let spaces = illegal()
            if spaces.isEmpty { break }
            for s in spaces where !alignment.isLegal(alive[s], full: full[s]) {
                let (down, up) = alignment.neighbours(alive[s], before: before[s], full: full[s])
                if let down, down >= floor[s], alive[s] - down < up - alive[s] {
                    for g in groupsOf[s] where !chosen.contains(g) && alive[s] > down
                        && need(g).allSatisfy({ alive[$0.key] - $0.value >= floor[$0.key] }) { take(g) }
                } else {
                    for g in groupsOf[s].reversed() where chosen.contains(g) && alive[s] < up { giveBack(g) }
                }
            }
        }
        // What still does not fit goes back, down to the (legal) state before this round.
        while let s = illegal().first(where: { groupsOf[$0].contains(where: chosen.contains) }) {
            for g in groupsOf[s] where chosen.contains(g) { giveBack(g) }
        }
        if chosen.isEmpty, let g = order.first(where: { g in
            guard let s = need(g).first?.key, need(g).count == 1 else { return false }
            return alignment.nextBelow(before[s], full: full[s]).map { $0 >= floor[s] } ?? false
        }) {
            let s = need(g).first!.key
            let target = alignment.nextBelow(before[s], full: full[s])!
            for h in groupsOf[s] where alive[s] > target && need(h).count == 1 { take(h) }
            if !alignment.isLegal(alive[s], full: full[s]) { for h in groupsOf[s] where chosen.contains(h) { giveBack(h) } }
        }
        return chosen
    }
}
