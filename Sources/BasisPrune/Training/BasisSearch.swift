import Foundation

/// One candidate the search evaluated.
public struct PruningRound: Sendable, Codable, Equatable {
    public var round: Int
    public var keptBases: Int
    public var layerParameters: Int
    public var validationAccuracy: Double
    public var accepted: Bool
    /// The certified bound on the accuracy drop (points) this candidate's validation
    /// discordance predicts; nil for the filter stage's round 0 (the input model). The basis
    /// stage's round 0 (trained factors, nothing removed) has one although it is no candidate.
    public var predictedBound: Double?
    /// Conv/Gemm/MatMul weights and biases of the whole model this candidate is (for a basis
    /// round, `layerParameters` plus the layers the split left alone), as the searches count
    /// them before export; nil in a report written before the key existed.
    public var parameters: Int?

    public init(round: Int, keptBases: Int, layerParameters: Int, validationAccuracy: Double, accepted: Bool, predictedBound: Double? = nil) {
        self.round = round
        self.keptBases = keptBases
        self.layerParameters = layerParameters
        self.validationAccuracy = validationAccuracy
        self.accepted = accepted
        self.predictedBound = predictedBound
    }

    enum CodingKeys: String, CodingKey {
        case round, accepted, parameters
        case keptBases = "kept_bases", layerParameters = "layer_parameters", validationAccuracy = "validation_accuracy"
        case predictedBound = "predicted_bound"
    }
}

/// What the search found.
public struct BasisSearchResult: Sendable {
    public var state: ScalingState
    public var baselineValidationAccuracy: Double
    public var validationAccuracy: Double
    public var history: [PruningRound]
    /// The accepted candidates that removed bases, least pruned first (the last is `state`).
    public var candidates: [ScalingState]
    /// Seconds per phase, in order.
    public var phases: [PhaseClock.Phase]
    /// Whether the search ended at `PruningOptions.basisRounds` rather than by itself.
    public var stoppedAtRoundLimit = false
}

/// Trains the scaling factors, ranks bases by Taylor importance, and removes as many as the
/// accuracy budget allows, in rounds (remove a fraction of the remaining, retrain on part of
/// the training data, re-rank); a failed round is retried with half the fraction (halved
/// again while that rounds to a removal that has already failed).
public struct BasisSearch: Sendable {
    public let executor: Executor
    public let layers: [SplitLayer]
    public let train: Preprocessor
    public let trainIndices: [Int]
    public let validation: Preprocessor
    public let validationIndices: [Int]
    public var options: PruningOptions
    /// The input model's per-image correctness on the validation images (nil: this split
    /// model's, measured before training).
    public var reference: [Bool]?
    /// Images the result will be certified on (nil: as many as the validation images).
    public var certificationImages: Int?
    public var reporter: any Reporter
    /// The split model `executor` runs. When given, each round retrains and validates its
    /// candidate on this model with the removed bases taken out of the layers
    /// `options.compaction` names (`CompactSplit`), which costs less; on the masked full split
    /// otherwise.
    public var split: Model?

    public init(executor: Executor, layers: [SplitLayer], train: Preprocessor, trainIndices: [Int], validation: Preprocessor,
                validationIndices: [Int], options: PruningOptions, reference: [Bool]? = nil, certificationImages: Int? = nil,
                reporter: any Reporter = SilentReporter(), split: Model? = nil) {
        self.split = split
        self.reference = reference
        self.certificationImages = certificationImages
        self.executor = executor
        self.layers = layers
        self.train = train
        self.trainIndices = trainIndices
        self.validation = validation
        self.validationIndices = validationIndices
        // The micro-batch that fits the memory plan with every basis kept.
        self.options = options.sizingMicroBatch(for: executor, imageShape: train.imageShape, parameters: ScalingState(layers: layers).parameters())
        self.reporter = reporter
    }

    /// `state`'s per-image correctness on the validation images, run on `executor` (the
    /// search's own when nil).
    func evaluate(_ state: ScalingState, phase: String, on executor: Executor? = nil) throws(EngineError) -> EvaluationResult {
        try (executor ?? self.executor).evaluate(validation, indices: validationIndices, batchSize: options.evaluationBatch, reporter: PhaseReporter(base: reporter, phase: phase),
                              parameters: state.parameters(), sharing: options.sharing)
    }

    /// `trainIndices` shuffled by the seed for `stream`.
    func shuffled(_ stream: UInt64) -> [Int] {
        var random = SeededRandom(seed: options.seed, stream: stream)
        var order = trainIndices
        order.seededShuffle(using: &random)
        return order
    }

    /// Candidates are judged by `BudgetRule` against `reference` (the input model's, when this
    /// model is already the result of an earlier stage), or against the split model as it is.
    /// `accepted` sees every accepted candidate as soon as it is, in order; when it returns
    /// false the search ends there (the job's certification has failed that candidate, so no
    /// later one can be the result). With `requireTrainedWithinBudget`, a model whose trained
    /// factors alone (round 0) fail the budget rule is not searched: the result has no
    /// candidates and round 0 is recorded as not accepted (the job then starts over from a less
    /// pruned filter candidate).
    public func run(requireTrainedWithinBudget: Bool = false,
                    accepted isWanted: (ScalingState, PruningRound) -> Bool = { _, _ in true }) throws(EngineError) -> BasisSearchResult {
        var clock = PhaseClock()
        let trainer = ScalingFactorTrainer(executor: executor, data: train, batchSize: options.batchSize, targets: options.factorTargets, reporter: reporter, sharing: options.sharing)
        var state = ScalingState(layers: layers)
        let reference: [Bool]
        if let known = self.reference { reference = known } else {
            reference = try evaluate(state, phase: "validate input model").correctness
            clock.lap("validate input model")
        }
        let rule = BudgetRule(options: options, certificationImages: certificationImages, reference: reference)
        let baseline = rule.referenceAccuracy

        var optimizer: Optimizer? = Optimizer(method: options.optimizer, learningRate: options.learningRate)
        var importance: [String: [Double]] = [:]
        for epoch in 0..<options.epochs {
            importance = try trainer.pass(Array(shuffled(UInt64(epoch)).prefix(options.epochImages ?? trainIndices.count)), state: &state, optimizer: &optimizer,
                                          phase: "train factors (epoch \(epoch + 1)/\(options.epochs))",
                                          importanceImages: epoch + 1 == options.epochs ? options.importanceImages : 0).importance
        }
        if options.epochs == 0 {
            var none: Optimizer? = nil
            importance = try trainer.pass(Array(shuffled(0).prefix(options.retrainImages)), state: &state, optimizer: &none, phase: "importance").importance
        }
        clock.lap("train factors")
        var accepted = state
        // With `--retrain-optimizer carried`, each round's retrain starts from this.
        var acceptedOptimizer = optimizer
        var acceptedResult = try validateWritten(state, phase: "validate trained factors")
        // Round 0 is no candidate, but its bound says how far training the factors alone moved
        // the answers (on reduced runs whose round 0 was over the budget, every round failed).
        let trained = rule.judge(acceptedResult.correctness)
        var history = [PruningRound(round: 0, keptBases: state.keptCount, layerParameters: state.layerParameters,
                                    validationAccuracy: acceptedResult.accuracy, accepted: true,
                                    predictedBound: 100 * trained.predictedBound)]
        var candidates: [ScalingState] = []
        if requireTrainedWithinBudget && !trained.accepted {
            history[0].accepted = false
            return BasisSearchResult(state: accepted, baselineValidationAccuracy: baseline, validationAccuracy: acceptedResult.accuracy,
                                 history: history, candidates: [], phases: clock.phases)
        }
        let floors = Self.floors(layers, options: options)
        let target = floors.map { $0.values.reduce(0, +) } ?? options.pruneRatio.map { Int((Double(state.rankTotal) * (1 - $0)).rounded()) }
        var loop = RoundLoop(options: options, skipRepeatedFailures: true, maximumRounds: options.basisRounds)
        try loop.run(alive: { accepted.keptCount }, limit: { alive in target.map { alive - max($0, layers.count) } },
                     propose: { count -> (state: ScalingState, count: Int)? in
                         var candidate = accepted
                         remove(count, from: &candidate, importance: importance, floors: floors)
                         return candidate.keptCount == accepted.keptCount ? nil : (candidate, count)
                     }, key: { $0.state.kept }, attempt: { (proposed, round) throws(EngineError) in
                         var candidate = proposed.state
                         var roundOptimizer = options.retrainOptimizer == .carried ? acceptedOptimizer : nil
                         let (candidateResult, candidateImportance) = try retrain(&candidate, removed: proposed.count, round: round, trainer: trainer,
                                                                                  optimizer: &roundOptimizer)
                         let judged = rule.judge(candidateResult.correctness)
                         let ok = target != nil || judged.accepted
                         history.append(PruningRound(round: round, keptBases: candidate.keptCount, layerParameters: candidate.layerParameters,
                                                     validationAccuracy: candidateResult.accuracy, accepted: ok, predictedBound: 100 * judged.predictedBound))
                         guard ok else { return .rejected }
                         accepted = candidate
                         acceptedOptimizer = roundOptimizer
                         acceptedResult = candidateResult
                         candidates.append(candidate)
                         importance = Self.blend(importance, candidateImportance, memory: options.importanceMemory)
                         return .accepted(goOn: isWanted(candidate, history[history.count - 1]))
                     })
        clock.lap("prune in rounds")
        return BasisSearchResult(state: accepted, baselineValidationAccuracy: baseline, validationAccuracy: acceptedResult.accuracy,
                                 history: history, candidates: candidates, phases: clock.phases, stoppedAtRoundLimit: loop.stoppedAtLimit)
    }

    /// Round `round`'s retrain of `candidate` (which removed `removed` more bases) and its
    /// validation; the retrained factors are left in `candidate`. The round runs on the split
    /// with the removed bases taken out of the layers `options.compaction` names, when the
    /// search has its split model.
    /// `optimizer` is the state to start from (nil: a fresh one); it is left as the retrain ends.
    func retrain(_ candidate: inout ScalingState, removed: Int, round: Int, trainer: ScalingFactorTrainer,
                 optimizer: inout Optimizer?) throws(EngineError) -> (EvaluationResult, [String: [Double]]) {
        if optimizer == nil { optimizer = Optimizer(method: options.optimizer, learningRate: options.learningRate) }
        let retrain = Array(shuffled(UInt64(options.epochs) + UInt64(round)).prefix(options.retrainImages))
        let compact = split.flatMap { options.compaction == .off ? nil : CompactSplit(split: $0, layers: layers, state: candidate,
                                                                                       compacting: options.compaction.compacts) }
        var roundTrainer = trainer
        var roundState = candidate
        if let compact {
            // The full split's plans wait while the compacted one trains.
            executor.releasePlans()
            roundTrainer.executor = try Executor(model: compact.model)
            roundState = compact.state(candidate)
        }
        let measured = try roundTrainer.pass(retrain, state: &roundState, optimizer: &optimizer,
                                             phase: "round \(round): retrain after removing \(removed) bases",
                                             importanceImages: options.importanceImages).importance
        if let compact {
            compact.merge(roundState, into: &candidate)
            roundTrainer.executor.releasePlans()
        } else {
            candidate = roundState
        }
        let phase = "round \(round): validate"
        let result = try validateWritten(candidate, phase: phase)
        return (result, compact?.expand(measured) ?? measured)
    }

    /// `state` validated as the model it would be written as (`Pipeline.export`: factors
    /// folded, layers re-merged where the split saves nothing), as certification runs it (on
    /// the search's executor when it was not given its split model). The written model runs at about the input
    /// model's speed, the split about half that (a split 1x1 layer runs its basis and its
    /// scaling conv: at 224x224, 33 img/s against 95-138).
    func validateWritten(_ state: ScalingState, phase: String) throws(EngineError) -> EvaluationResult {
        guard let split else { return try evaluate(state, phase: phase) }
        let written: Model
        do { written = try Pipeline.export(split, layers: layers, choices: state.choices) } catch {
            throw EngineError(node: error.node, opType: "", reason: "\(error.pass): \(error.reason)")
        }
        return try Executor(model: written).evaluate(validation, indices: validationIndices, batchSize: options.evaluationBatch,
                                                     reporter: PhaseReporter(base: reporter, phase: phase), sharing: options.sharing)
    }

    /// `measured` with `memory` of `previous` carried into it, basis by basis (removed bases
    /// have no importance in `measured` and keep none).
    public static func blend(_ previous: [String: [Double]], _ measured: [String: [Double]], memory: Double) -> [String: [Double]] {
        guard memory > 0 else { return measured }
        var blended = measured
        for (name, now) in measured {
            guard let before = previous[name], before.count == now.count else { continue }
            blended[name] = zip(now, before).map { now, before in now == 0 ? 0 : memory * before + (1 - memory) * now }
        }
        return blended
    }

    /// With a fixed ratio of every layer (`PruneScope.layer`): the bases each layer keeps, by
    /// factors name; nil otherwise.
    public static func floors(_ layers: [SplitLayer], options: PruningOptions) -> [String: Int]? {
        guard let ratio = options.pruneRatio, options.pruneScope == .layer else { return nil }
        let alignment = ChannelAlignment(multiple: options.channelMultiple)
        return Dictionary(uniqueKeysWithValues: layers.map { ($0.factors, alignment.keptWidth(full: $0.rank, removable: $0.rank - 1, ratio: ratio)) })
    }

    /// Removes about `count` of the remaining bases, lowest score first; every layer keeps one
    /// (or its `floors` entry).
    /// With a channel multiple above 1, each layer's kept bases are then rounded to the nearest
    /// legal width (a multiple, or the layer's rank): removing more of its lowest-scoring
    /// bases, or keeping back this round's highest-scoring removals. If that leaves nothing
    /// removed, the layer of the lowest-scoring basis loses one block, so every round moves.
    /// The accuracy-driven search (no `pruneRatio`) makes no removal that saves nothing
    /// (`onlySaving` below); a fixed ratio removes what it is asked to.
    func remove(_ count: Int, from state: inout ScalingState, importance: [String: [Double]], floors: [String: Int]? = nil) {
        var scores: [String: [Double]] = [:]
        for layer in state.layers {
            let theta = importance[layer.factors] ?? Array(repeating: 0, count: layer.rank)
            let total = theta.reduce(0, +)
            scores[layer.factors] = theta.map { t in
                var score = t
                if options.normalizeImportance == .layer { score = total > 0 ? score / total : 0 }
                if options.ranking == .perCost { score /= Double(max(layer.basisCost(options.objective), 1)) }
                return score
            }
        }
        Self.remove(count, from: &state, scores: scores, multiple: options.channelMultiple, floors: floors, onlySaving: options.pruneRatio == nil)
    }

    /// `remove` on given scores per layer (lowest removed first).
    /// With `onlySaving`, a removal that saves nothing is not made: when every layer it takes
    /// bases from would still be re-merged by the export (`SplitLayer.remerges`), those layers
    /// keep them and the count is taken from the others, until some layer gets cheaper or no
    /// layer is left (then nothing is removed). Such a removal changes the model's answers for
    /// nothing, and the accuracy-driven search would spend a retrain and budget on it. Removals
    /// that leave a layer re-merged are still made beside one that saves: they are the steps
    /// by which a layer gets below its re-merge width over several rounds.
    public static func remove(_ count: Int, from state: inout ScalingState, scores: [String: [Double]], multiple: Int,
                              floors: [String: Int]? = nil, onlySaving: Bool = false) {
        let floor = state.layers.map { floors?[$0.factors] ?? 1 }
        var candidates: [(score: Double, layer: Int, basis: Int)] = []
        for (l, layer) in state.layers.enumerated() {
            for i in 0..<layer.rank where state.kept[layer.factors]![i] {
                candidates.append((scores[layer.factors]?[i] ?? 0, l, i))
            }
        }
        // Ties break by layer and basis order, so the result is the same on every machine.
        candidates.sort { ($0.score, $0.layer, $0.basis) < ($1.score, $1.layer, $1.basis) }
        let before = state.layers.map { state.kept[$0.factors]!.filter { $0 }.count }
        let byLayer = Dictionary(grouping: candidates.indices, by: { candidates[$0].layer })
        let alignment = ChannelAlignment(multiple: multiple)
        let layers = state.layers

        /// The candidates to remove when the layers in `excluded` keep all of theirs.
        func plan(excluding excluded: Set<Int>) -> (removed: Set<Int>, kept: [Int]) {
            var keptPerLayer = before
            var removedNow = Set<Int>()
            for (index, c) in candidates.enumerated() where removedNow.count < count {
                guard keptPerLayer[c.layer] > floor[c.layer], !excluded.contains(c.layer) else { continue }
                keptPerLayer[c.layer] -= 1
                removedNow.insert(index)
            }
            guard alignment.multiple > 1 else { return (removedNow, keptPerLayer) }
            for (l, layer) in layers.enumerated() where !alignment.isLegal(keptPerLayer[l], full: layer.rank) {
                let own = byLayer[l] ?? []
                let (down, up) = alignment.neighbours(keptPerLayer[l], before: before[l], full: layer.rank)
                if let down, down >= floor[l], keptPerLayer[l] - down < up - keptPerLayer[l] {
                    for index in own where !removedNow.contains(index) && keptPerLayer[l] > down {
                        removedNow.insert(index)
                        keptPerLayer[l] -= 1
                    }
                } else {
                    for index in own.reversed() where removedNow.contains(index) && keptPerLayer[l] < up {
                        removedNow.remove(index)
                        keptPerLayer[l] += 1
                    }
                }
            }
            if removedNow.isEmpty, let first = candidates.indices.first(where: { i in
                let l = candidates[i].layer
                return !excluded.contains(l) && (alignment.nextBelow(before[l], full: layers[l].rank).map { $0 >= floor[l] } ?? false)
            }) {
                let l = candidates[first].layer
                let target = alignment.nextBelow(before[l], full: layers[l].rank)!
                for index in byLayer[l]! where keptPerLayer[l] > target {
                    removedNow.insert(index)
                    keptPerLayer[l] -= 1
                }
            }
            return (removedNow, keptPerLayer)
        }

        var excluded = Set<Int>()
        var removedNow: Set<Int>
        while true {
            let planned = plan(excluding: excluded)
            removedNow = planned.removed
            guard onlySaving, !removedNow.isEmpty else { break }
            let changed = layers.indices.filter { planned.kept[$0] < before[$0] }
            if changed.contains(where: { !layers[$0].remerges(kept: planned.kept[$0]) }) { break }
            excluded.formUnion(changed)
        }
        for index in removedNow.sorted() {
            let c = candidates[index]
            state.kept[state.layers[c.layer].factors]![c.basis] = false
        }
    }
}
