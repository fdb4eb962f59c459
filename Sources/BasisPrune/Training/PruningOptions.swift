import Foundation

/// The choices of the main job and its searches; the defaults were chosen by measurement
/// (docs/method.md, docs/experiments.md).
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
    /// spend; nil: `Steps.of(certify)`'s. Above 1 the stage overspends on purpose: training the
    /// scaling factors of its result wins most of it back, and basis pruning works down to the
    /// full budget from there (`PruneJob` certifies filter candidates only as fallbacks within
    /// half the budget).
    public var filterShare: Double?
    public var epochs = 1
    public var learningRate: Float = 1e-2
    public var optimizer = Optimizer.Method.adam
    /// What each basis round's retrain starts from: `fresh`, a new optimizer (Adam's first
    /// steps then move every factor by about the learning rate, whatever its gradient), or
    /// `carried`, the state (Adam's moment estimates) of the last accepted round's.
    public var retrainOptimizer = OptimizerStart.fresh
    public enum OptimizerStart: String, Sendable, Codable, CaseIterable { case fresh, carried }
    /// The share of the ranking the basis search carries from one accepted round to the next:
    /// each round ranks by `memory * previous + (1 - memory) * measured` per kept basis (an
    /// exponential average over rounds), 0 ranks by each round's own measurement.
    public var importanceMemory = 0.0
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
    /// Failed looks each certification sequence survives: a sequence ends at its
    /// `lookRetries + 1`-th failed look, and each look is tested at `1 / (lookRetries + 1)` of
    /// the sequence's share of `1 - confidence` (a false claim needs one of the first
    /// `lookRetries + 1` candidates over the budget to pass its test: Bonferroni over those).
    /// Nil (`auto`): the job sets it (`PruneJob.resolvingLookRetries`); 0 until then.
    public var lookRetries: Int?
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
    /// `--objective auto` (the command line's default; the library's is `objective` as set):
    /// `PruneJob` sets `objective` by `Objective.auto` from the input model's MACs and
    /// parameters when the job starts, and `objectiveFrom` says how.
    public var objectiveAuto = false
    public var objectiveFrom: String?
    /// Kept channels of every pruned space and kept bases of every split layer are multiples of
    /// this (or the full width); 1 turns alignment off.
    public var channelMultiple = 8
    /// How `channelMultiple` was chosen when not given as a number (`--channel-multiple auto`:
    /// "auto: avx512f"), for the report.
    public var channelMultipleFrom: String?
    /// Fraction of what remains (bases, channel groups) each round removes; nil:
    /// `Steps.of(certify)`'s.
    public var roundFraction: Double?

    /// The search's steps when `filterShare` and `roundFraction` are not set: they depend on
    /// how candidates are certified. With labels, training the factors wins back most of what
    /// the filter stage overspends (a filter result 1.08 points down came back to 0.08 above the
    /// input model), so the filter stage spends 4 times the usable budget. By agreement every
    /// changed answer counts and training does not change them back (after a filter stage at
    /// 1 times the budget, 14 of 2,500 validation answers changed before training and 10
    /// after), so the filter stage spends half the budget, leaving the basis stage room, and
    /// both take steps of 5 % so that candidates lie close below the budget
    /// (docs/certification.md, "Steps by agreement").
    public struct Steps: Sendable, Equatable {
        public var filterShare: Double
        public var roundFraction: Double
        public static let labels = Steps(filterShare: 4, roundFraction: 0.1)
        public static let agreement = Steps(filterShare: 0.5, roundFraction: 0.05)
        /// The steps of a certification mode (`auto` unresolved: as with labels).
        public static func of(_ mode: CertifyMode) -> Steps { mode == .agreement ? agreement : labels }
    }

    /// The steps in force: those set, else those of `certify`.
    public var steps: Steps {
        let defaults = Steps.of(certify)
        return Steps(filterShare: filterShare ?? defaults.filterShare, roundFraction: roundFraction ?? defaults.roundFraction)
    }
    /// Training images each round retrains the factors on (and ranks by).
    public var retrainImages = 10_000
    /// With a value: `retrainImages` is lowered (the job does it) to this many multiply-
    /// accumulates over the model's MACs per image, at least `minimumRetrainImages`, so a
    /// round's passes cost about the same whatever the resolution: 10,000 images of the 32x32
    /// model (7.8 M MACs each) fit 4e11, 224x224 Lite0 (385 M) gets about 1,000.
    public var retrainWork: Int?
    public static let minimumRetrainImages = 500
    /// Training images the factor-training epochs run over (the first of each epoch's
    /// shuffled order); nil: all of them. The job sets it from `retrainWork` (half as much
    /// again as a round's retrain, never fewer than a round's images): every training image of
    /// the 32x32 model (7.8 M MACs each), about 1,600 of 224x224 Lite0 (385 M).
    public var epochImages: Int?
    /// The most rounds the basis search tries (accepted or not); nil: no limit. Each round
    /// retrains and validates its candidate; at 224x224 a round costs about 70 s on 2 cores,
    /// and late rounds remove a few bases each (docs/benchmarks.md, "Native resolution").
    public var basisRounds: Int? = 10
    /// With a value: `basisRounds` is set (the job does it) so that the rounds' retrains cost
    /// about this many multiply-accumulates in all, `basisRoundsWork / (retrainImages * MACs
    /// per image)`, between `basisRoundsRange`: 10 for Lite0 at 224x224 (about 1,000 images
    /// of 385 M MACs per round), 30 at 32x32 (10,000 of 7.8 M), where the 10 that bound the
    /// 224 search's time ended searches that still had budget (docs/certification.md).
    public var basisRoundsWork: Int? = 4_000_000_000_000
    public static let basisRoundsRange = 10...30
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

    /// The options with `retrainImages` and `epochImages` sized for a model of `macs`
    /// multiply-accumulates per image under `retrainWork` (as they are without it or without
    /// `macs`), `retrainImages` at most `trainImages`, and `basisRounds` from
    /// `basisRoundsWork`.
    public func sizingPasses(macsPerImage macs: Int?, trainImages: Int) -> PruningOptions {
        var options = self
        if let work = retrainWork, let macs, macs > 0 {
            options.retrainImages = min(retrainImages, max(Self.minimumRetrainImages, work / macs))
            options.epochImages = max(options.retrainImages, work * 3 / 2 / macs)
        }
        options.retrainImages = min(options.retrainImages, trainImages)
        if let work = basisRoundsWork, let macs, macs > 0 {
            let rounds = work / max(options.retrainImages * macs, 1)
            options.basisRounds = min(max(rounds, Self.basisRoundsRange.lowerBound), Self.basisRoundsRange.upperBound)
        }
        return options
    }
}
