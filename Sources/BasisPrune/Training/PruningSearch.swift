import Foundation

/// The choices of the pruning search; defaults are METHOD.md's ("ours").
public struct PruningOptions: Sendable {
    /// What a fixed `pruneRatio` is a fraction of.
    public enum PruneScope: String, Sendable, Codable, CaseIterable {
        /// Of every split layer's bases and every prunable channel space's removable channels:
        /// each loses that share (at least one, as Torch-Pruning's default uniform ratio does),
        /// the lowest-ranked first.
        case layer
        /// Of all bases (all channel groups) together, the lowest-ranked first wherever they
        /// are: a layer may keep all of its own.
        case global
    }

    public enum Method: String, Sendable, Codable, CaseIterable {
        /// Basis pruning only: every layer keeps its channels.
        case basis
        /// Filter (channel) pruning only.
        case filter
        /// Filter pruning, then basis pruning of the result, sharing the budget.
        case double
    }

    public enum Normalization: String, Sendable, Codable, CaseIterable { case none, layer }
    public enum Ranking: String, Sendable, Codable, CaseIterable {
        /// Importance per unit of cost a basis or group adds under the objective (parameters:
        /// `n + Cout` per basis; MACs: that times the layer's output positions), in rounds.
        case perCost = "per-cost"
        /// Raw importance, as the paper ranks.
        case importance
    }

    /// What a removed basis or channel leaves behind.
    public enum Removal: String, Sendable, Codable, CaseIterable {
        /// Its mean over training images, folded into the next layer's bias ("mean
        /// replacement"): bases are centred (`BasisCentering`), so the factors scale the
        /// centred responses; channels are masked centred (`ChannelPruning.Mask.mean`) where
        /// their readers can take a constant into their bias. Importance is then that of the
        /// variation around the mean.
        case mean
        /// Nothing: multiplied by zero, as the paper prunes.
        case zero
    }

    public var method = Method.double
    /// What a removed basis or channel leaves behind (`--removed`).
    public var removal = Removal.mean
    /// With `double`: the multiple of the usable budget (`maxAccuracyDrop` minus the statistical
    /// slack of certification, see `BudgetRule`) the filter stage's untrained candidates may
    /// spend. Above 1 the stage overspends on purpose: training the scaling factors of its
    /// result wins most of it back, and basis pruning works down to the full budget from there
    /// (`PruneJob` certifies filter candidates only as fallbacks within half the budget).
    public var filterShare = 4.0
    public var epochs = 1
    public var learningRate: Float = 1e-2
    public var optimizer = Optimizer.Method.adam
    public var batchSize = 128
    public var seed: UInt64 = 0
    /// Largest allowed drop of validation accuracy below the input model, in points.
    public var maxAccuracyDrop = 1.0
    /// Confidence of the certified bound on the accuracy drop (and of the bound the searches
    /// predict when they decide).
    public var confidence = 0.95
    /// What the result is certified against (`CertifyMode`); the job resolves `auto` from
    /// whether its validation and certification images have labels, and the searches predict
    /// the bound of the mode they are given.
    public var certify = CertifyMode.auto
    /// With `double`: the share of `1 - confidence` spent on the filter candidates, checked as a
    /// fixed sequence of their own, so that a failed filter look does not end the basis
    /// candidates' sequence (`CertificationSequence`). 0: one sequence for both stages. 0.2 by
    /// default: on the reduced run (seeds 0-4) the results went from 42-75 % fewer to 69-76 %,
    /// on the full runs (seeds 0-2) from 73-78 % to 75.5-76.3 % (docs and CHANGELOG).
    public var fallbackAlphaShare = 0.2
    /// Search even when the certification images cannot certify the budget for any candidate
    /// (`--force`, which writes the searches' most pruned candidate); otherwise the job stops
    /// before any training and says how many images the budget needs.
    public var searchEvenIfUncertifiable = false
    /// A fixed fraction of bases to remove instead of the accuracy-driven search.
    public var pruneRatio: Double?
    /// What `pruneRatio` is a fraction of.
    public var pruneScope = PruneScope.layer
    public var normalizeImportance = Normalization.none
    public var ranking = Ranking.perCost
    /// The cost `ranking` divides importance by, and by which split layers are re-merged.
    /// Parameters by default: with distilled factors that wrote both the smallest and the fastest
    /// certified model on the full run (README "Deployment speed").
    public var objective = Objective.params
    /// Kept channels of every pruned space and kept bases of every split layer are multiples of
    /// this (or the full width); 1 turns alignment off.
    public var channelMultiple = 8
    /// Fraction of the remaining bases removed per round.
    public var roundFraction = 0.1
    /// Training images each round retrains the factors on (and ranks by).
    public var retrainImages = 10_000
    /// With a value: `retrainImages` is lowered (the job does it) to this many multiply-
    /// accumulates over the model's MACs per image, at least `minimumRetrainImages`, so a
    /// round's passes cost about the same whatever the resolution: 10,000 images of the 32x32
    /// model (7.8 M MACs each) fit 4e11, 224x224 Lite0 (385 M) gets about 1,000.
    public var retrainWork: Int?
    public static let minimumRetrainImages = 500
    /// Basis importance is measured on the last this many images of each training pass (the
    /// last factor-training epoch and every round's retrain); the batches before them only
    /// train, which with a teacher takes one backward sweep instead of two. Nil (the default):
    /// every image of the pass. Fewer is faster but not as good: on the full run 5,000 took 218 s
    /// instead of 323 s and lost more test accuracy (README "Distillation").
    /// Epochs before the last measure nothing either way: their importance is not used.
    public var importanceImages: Int?
    /// Which layers each round's retrain and validation run with the removed bases taken out
    /// (when the search is given its split model).
    public var compaction = CompactSplit.Mode.exact
    /// The search stops when a round would remove fewer bases than this fraction of the remaining.
    public var minimumRoundFraction = 0.0125
    /// What channel groups are ranked against in the filter stage (`Distillation.swift`).
    public var loss = TrainingLoss.labels
    /// What the scaling factors are trained, and bases ranked, against in the basis stage.
    /// Distillation by default: factors trained on the labels move the model's answers both ways
    /// (it gains images the input model got wrong and loses others), and every changed answer
    /// widens the certified bound on the paired drop; matching the input model's outputs keeps
    /// the answers and the bound close to the input's (README "Distillation").
    public var factorLoss = TrainingLoss.distill
    /// Softmax temperature of the distillation term: 4, where the teacher's wrong-class
    /// probabilities, which carry what distillation adds to labels, are no longer rounded
    /// away (README "Distillation").
    public var temperature = 4.0
    /// The input model's logits on the training images; needed by `distill` and `both`.
    public var teacher: TeacherOutputs?
    /// How passes over images are split into micro-batches and shared between MPI ranks.
    public var sharing = WorkSharing()
    /// Sizes the batches for a memory limit (`MemoryPlan`); nil: the fixed sizes below and
    /// `sharing.microBatch`, whatever the model.
    public var memory: MemoryPlan?
    /// Images per evaluation batch (validation, certification, teacher outputs); with `memory`
    /// the job lowers it to what fits.
    public var evaluationBatch = 256

    public init() {}
}

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
public struct PruningResult: Sendable {
    public var state: ScalingState
    public var baselineValidationAccuracy: Double
    public var validationAccuracy: Double
    public var history: [PruningRound]
    /// The accepted candidates that removed bases, least pruned first (the last is `state`).
    public var candidates: [ScalingState]
    /// Seconds per phase, in order.
    public var phases: [PhaseClock.Phase]
}

/// Trains the scaling factors, ranks bases by Taylor importance, and removes as many as the
/// accuracy budget allows, in rounds (remove a fraction of the remaining, retrain on part of
/// the training data, re-rank); a failed round is retried with half the fraction (halved
/// again while that rounds to a removal that has already failed).
public struct PruningSearch: Sendable {
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
                    accepted isWanted: (ScalingState, PruningRound) -> Bool = { _, _ in true }) throws(EngineError) -> PruningResult {
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
            importance = try trainer.pass(shuffled(UInt64(epoch)), state: &state, optimizer: &optimizer,
                                          phase: "train factors (epoch \(epoch + 1)/\(options.epochs))",
                                          importanceImages: epoch + 1 == options.epochs ? options.importanceImages : 0).importance
        }
        if options.epochs == 0 {
            var none: Optimizer? = nil
            importance = try trainer.pass(Array(shuffled(0).prefix(options.retrainImages)), state: &state, optimizer: &none, phase: "importance").importance
        }
        clock.lap("train factors")
        var accepted = state
        var acceptedResult = try evaluate(state, phase: "validate trained factors")
        // Round 0 is no candidate, but its bound says how far training the factors alone moved
        // the answers (on reduced runs whose round 0 was over the budget, every round failed).
        let trained = rule.judge(acceptedResult.correctness)
        var history = [PruningRound(round: 0, keptBases: state.keptCount, layerParameters: state.layerParameters,
                                    validationAccuracy: acceptedResult.accuracy, accepted: true,
                                    predictedBound: 100 * trained.predictedBound)]
        var candidates: [ScalingState] = []
        if requireTrainedWithinBudget && !trained.accepted {
            history[0].accepted = false
            return PruningResult(state: accepted, baselineValidationAccuracy: baseline, validationAccuracy: acceptedResult.accuracy,
                                 history: history, candidates: [], phases: clock.phases)
        }
        let floors = Self.floors(layers, options: options)
        let target = floors.map { $0.values.reduce(0, +) } ?? options.pruneRatio.map { Int((Double(state.rankTotal) * (1 - $0)).rounded()) }
        var fraction = options.roundFraction
        var round = 0
        /// The bases kept by candidates that failed since the last accepted one. A smaller
        /// fraction can round (to the channel multiple) to the same removal; retrying it would
        /// only draw another retrain and another look at the same validation images until one
        /// flatters the candidate, so the fraction is halved again instead.
        var failed: [[String: [Bool]]] = []
        while true {
            let alive = accepted.keptCount
            var count = Int((Double(alive) * fraction).rounded(.up))
            if let target { count = min(count, alive - max(target, layers.count)) }
            if count < 1 || (target == nil && fraction < options.minimumRoundFraction) { break }
            var candidate = accepted
            remove(count, from: &candidate, importance: importance, floors: floors)
            if candidate.keptCount == accepted.keptCount { break }
            let kept = candidate.kept
            if failed.contains(kept) {
                fraction /= 2
                continue
            }
            round += 1
            var optimizer: Optimizer? = Optimizer(method: options.optimizer, learningRate: options.learningRate)
            let retrain = Array(shuffled(UInt64(options.epochs) + UInt64(round)).prefix(options.retrainImages))
            // The round runs on the split with the removed bases taken out of the layers
            // `options.compaction` names, when the search has its split model.
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
                                                 phase: "round \(round): retrain after removing \(count) bases",
                                                 importanceImages: options.importanceImages).importance
            let candidateResult = try evaluate(roundState, phase: "round \(round): validate", on: roundTrainer.executor)
            let candidateImportance: [String: [Double]]
            if let compact {
                compact.merge(roundState, into: &candidate)
                candidateImportance = compact.expand(measured)
            } else {
                candidate = roundState
                candidateImportance = measured
            }
            let judged = rule.judge(candidateResult.correctness)
            let ok = target != nil || judged.accepted
            history.append(PruningRound(round: round, keptBases: candidate.keptCount, layerParameters: candidate.layerParameters,
                                        validationAccuracy: candidateResult.accuracy, accepted: ok, predictedBound: 100 * judged.predictedBound))
            if ok {
                accepted = candidate
                acceptedResult = candidateResult
                candidates.append(candidate)
                importance = candidateImportance
                failed = []
                if !isWanted(candidate, history[history.count - 1]) { break }
            } else {
                failed.append(kept)
                fraction /= 2
            }
        }
        clock.lap("prune in rounds")
        return PruningResult(state: accepted, baselineValidationAccuracy: baseline, validationAccuracy: acceptedResult.accuracy,
                             history: history, candidates: candidates, phases: clock.phases)
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
