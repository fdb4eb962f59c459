import Foundation

/// The main job as one call: simplify, filter and/or basis pruning searched on validation
/// images, certification of the result on images no search saw, export, and the report.
/// Options in, outcome out; it reads and writes no files (a front end loads the model and the
/// data and writes what it returns) and reports progress only through `reporter`.
public struct PruneJob: Sendable {
    /// The images the job works on. `certification` must not overlap `validation`; `test`, if
    /// given, is only reported on.
    public struct Data: Sendable {
        public var train: Preprocessor
        public var trainIndices: [Int]
        public var validation: Preprocessor
        public var validationIndices: [Int]
        public var certification: Preprocessor
        public var certificationIndices: [Int]
        public var test: Preprocessor?

        public init(train: Preprocessor, trainIndices: [Int], validation: Preprocessor, validationIndices: [Int],
                    certification: Preprocessor, certificationIndices: [Int], test: Preprocessor? = nil) {
            self.train = train
            self.trainIndices = trainIndices
            self.validation = validation
            self.validationIndices = validationIndices
            self.certification = certification
            self.certificationIndices = certificationIndices
            self.test = test
        }

        /// Splits `indices` into validation and certification images: `fraction` of them,
        /// drawn with `seed`, certify; both keep their original order.
        public static func carve(_ indices: [Int], certificationFraction fraction: Double, seed: UInt64) -> (validation: [Int], certification: [Int]) {
            var random = SeededRandom(seed: seed, stream: 1 << 33)
            var order = indices
            order.seededShuffle(using: &random)
            let count = min(max(1, Int((Double(order.count) * fraction).rounded())), order.count - 1)
            return (Array(order.dropFirst(count)).sorted(), Array(order.prefix(count)).sorted())
        }
    }

    /// What the job produced.
    public struct Outcome: Sendable {
        /// The output model: the certified candidate, or (when nothing certified) the searches'
        /// last, which a front end writes only when asked to.
        public var model: Model
        public var report: PruneReport
        /// The input model as the job saw it (simplified), to compare the output with.
        public var input: Model
        /// The validation images as the job judged them: under `--certify agreement`, labelled
        /// with the input model's answers (what `--verify` compares against).
        public var validation: Preprocessor
        public var certified: Bool { report.certification?.certified ?? false }
        /// Whether the output is the job's result to write: certified, or searched with
        /// certification off by choice (`CertifyMode.off`).
        public var accepted: Bool { certified || report.certification?.mode == CertifyMode.off.rawValue }
    }

    public var model: Model
    public var options: PruningOptions
    /// Names of the input and output for the report.
    public var inputName: String
    public var outputName: String
    public var reporter: any Reporter

    public init(model: Model, options: PruningOptions, inputName: String, outputName: String, reporter: any Reporter = SilentReporter()) {
        self.model = model
        self.options = options
        self.inputName = inputName
        self.outputName = outputName
        self.reporter = reporter
    }

    /// A pruned candidate the certification checks: which stage and round produced it, and how
    /// it is built (certification runs the model as it would be written).
    struct Candidate {
        var stage: String
        var round: Int
        var parameters: Int
        /// The certified bound the search predicted from the validation images, in points.
        var predictedBound: Double?
        var build: () throws -> Built
    }

    typealias Built = (model: Model, state: ScalingState?, removed: Set<Int>?)

    /// What every stage works with once the input model is judged.
    struct Context {
        var model: Model
        var original: GraphSummary
        var options: PruningOptions
        var data: Data
        /// The input model's per-image correctness on the validation images (under agreement,
        /// against its own answers: all true), which the searches' budget rule compares with.
        var reference: [Bool]
        var certificationImages: Int { data.certificationIndices.count }
    }

    /// What the searches leave for the result and the report.
    struct Stages {
        /// The searches' most pruned candidate: what a forced run writes when nothing certifies.
        var lastCandidate: Candidate?
        /// The model the basis stage starts from, and the channel groups the filter stage removed.
        var start: Model
        var removedByFilter: Set<Int>?
        var filterRecord: ((Set<Int>) -> PruneReport.FilterStage)?
        /// With `double`: less pruned filter candidates, most pruned first, to start the basis
        /// stage from again (each built only if it does).
        var filterFallbacks: [Candidate] = []
        var skipped: [PruneReport.Skipped] = []
        var basisResult: BasisSearchResult?
        /// The training micro-batch of each stage that ran (sized for the memory plan).
        var microBatches: [Int] = []
    }

    /// `--look-retries auto` (nil) resolved: one retry when the result is certified with labels
    /// (whose paired drop goes down as well as up from one look to the next, so a failed look
    /// is often followed by passing ones; by agreement a changed answer stays changed and the
    /// looks grow) and the certification images can afford it (a candidate that changes no
    /// answer, at the retried confidence, is bounded within a quarter of the budget: 2,500
    /// images are, the 180 of a small transfer set are not); none otherwise.
    public static func resolvingLookRetries(_ options: PruningOptions, certificationImages: Int) -> PruningOptions {
        guard options.lookRetries == nil else { return options }
        var resolved = options
        resolved.lookRetries = 1
        let smallest = 100 * options.certify.smallestBound(images: max(certificationImages, 1), confidence: CertificationSequence.confidences(resolved)[0])
        if options.certify != .labels || options.pruneRatio != nil || smallest > options.maxAccuracyDrop / 4 { resolved.lookRetries = 0 }
        return resolved
    }

    public func run(_ data: Data) throws -> Outcome {
        var clock = PhaseClock()
        let model = try Simplify.run(self.model).model
        let original = try GraphSummary(model: model)
        var (options, data, estimateOnValidation) = try Self.prepared(options, data)
        options = Self.resolvingLookRetries(options, certificationImages: data.certificationIndices.count)
        // What the certification images can certify at best, before any work.
        if options.certify != .off {
            let power = Certification.Power(images: data.certificationIndices.count, mode: options.certify,
                                            budget: options.maxAccuracyDrop, confidence: CertificationSequence.confidences(options)[0])
            if !power.sufficient && !options.searchEvenIfUncertifiable {
                clock.lap("power check")
                return try Self.uncertifiable(model, original: original, power: power, data: data, options: options, phases: clock.phases,
                                              inputName: inputName, outputName: outputName)
            }
        }
        let input = try Executor(model: model)
        options = options.sizingEvaluation(for: input, imageShape: data.train.imageShape)
        let labelledValidation = data.validation
        let judged = try judgeInput(input, model: model, data: &data, options: options, estimateOnValidation: estimateOnValidation)
        clock.lap("validate input model")
        options = options.sizingPasses(macsPerImage: original.layerMACs, trainImages: data.trainIndices.count)
        if options.objectiveAuto, let macs = original.layerMACs {
            (options.objective, options.objectiveFrom) = Objective.auto(macsPerImage: macs, parameters: original.layerParameters)
        }
        if options.needsTeacher {
            // The input model teaches both stages (with double, not the filter-pruned model).
            options.teacher = try TeacherOutputs(executor: input, data: data.train, indices: data.trainIndices, batchSize: options.evaluationBatch,
                                                 reporter: reporter, sharing: options.sharing)
            clock.lap("teacher outputs")
        }
        let context = Context(model: model, original: original, options: options, data: data, reference: judged.validation.correctness)
        let sequence = CertificationSequence(options: options, inputParameters: original.layerParameters,
                                             certificationImages: data.certificationIndices.count) { candidate in
            let built = try candidate.build()
            let correctness = try Executor(model: built.model).evaluate(
                data.certification, indices: data.certificationIndices, batchSize: options.evaluationBatch,
                reporter: PhaseReporter(base: reporter, phase: "certify \(candidate.stage) round \(candidate.round)"), sharing: options.sharing).correctness
            return (built, PairedDrop(reference: judged.certification, candidate: correctness))
        }
        var stages = Stages(start: model)
        if options.method != .basis { try filterStage(context, sequence, &stages, &clock) }
        if options.method != .filter && !sequence.resultOpen {
            // Kept short: the text summary gives a phase 28 columns. The looks say which failed.
            clock.note("basis stage not run")
        } else if options.method != .filter {
            try basisStage(context, sequence, &stages, &clock)
        }
        try sequence.finish(last: stages.lastCandidate)
        // When nothing certifies, the searches' last candidate is what a forced run writes.
        var written = sequence.chosen
        // The statement's bound is at the confidence of the written candidate's own sequence.
        var confidence = sequence.chosenConfidence
        if written == nil, let last = stages.lastCandidate {
            written = try sequence.check(last)
            confidence = sequence.confidence(last.stage)
        }
        clock.lap("certify")
        var certification = Self.statement(written?.drop, context: context, looks: sequence.looks, certified: sequence.chosen != nil,
                                           confidence: confidence, estimateOnValidation: estimateOnValidation)
        if sequence.split {
            certification.procedure = String(format: "two fixed sequences, Bonferroni: the filter candidates at %g %% confidence (--fallback-alpha %g), the basis candidates at %g %%; each least pruned first, each look smaller than the one before in its sequence; the result is the basis sequence's last passed candidate, else the filter sequence's",
                                              100 * sequence.confidence("filter"), options.fallbackAlphaShare, 100 * sequence.confidence("basis"))
        }
        if let retries = options.lookRetries, retries > 0 {
            certification.procedure += String(format: "; each sequence survives %d failed look%@ and ends at the next (--look-retries %d: each look at 1/%d of its sequence's 1 - confidence, Bonferroni over the first %d candidates over the budget it looks at); its result is its last passed candidate",
                                              retries, retries == 1 ? "" : "s", retries, retries + 1, retries + 1)
        }
        let built = written?.built ?? (model: model, state: nil, removed: nil)
        var report = try evaluated(built, input: input, labelledValidation: labelledValidation,
                                   inputValidationAccuracy: labelledValidation.images.labelled ? judged.validation.accuracy : nil,
                                   context: context, stages: stages, clock: &clock)
        report.certification = certification
        report.withinBudget = certification.certified || (options.certify == .off && certification.drop <= options.maxAccuracyDrop)
        return Outcome(model: built.model, report: report, input: model, validation: data.validation)
    }

    /// The options with `--certify auto` resolved for the data, the data checked for the labels
    /// the options need, and (with certification off and no images set aside for it) the
    /// validation images in place of certification images, where the estimate is measured.
    static func prepared(_ options: PruningOptions, _ data: Data) throws -> (PruningOptions, Data, estimateOnValidation: Bool) {
        var options = options, data = data
        options.certify = options.certify.resolved(labelled: data.validation.images.labelled && data.certification.images.labelled)
        if options.certify == .labels {
            for (images, role) in [(data.validation.images, "validation"), (data.certification.images, "certification")] where !images.labelled {
                throw DataError.incompatible(source: images.source, reason: "has no labels, and \(role) images need them under --certify labels (agreement does not)")
            }
        }
        if !data.train.images.labelled, let (flag, loss) = options.stageLosses.first(where: { $0.loss.needsLabels }) {
            throw DataError.incompatible(source: data.train.images.source, reason: "has no labels, and \(flag) \(loss.rawValue) trains on labels (distill does not)")
        }
        let estimateOnValidation = options.certify == .off && data.certificationIndices.isEmpty
        if estimateOnValidation { (data.certification, data.certificationIndices) = (data.validation, data.validationIndices) }
        return (options, data, estimateOnValidation)
    }

    /// The input model on the validation and certification images. Judged by agreement
    /// (`--certify agreement`, or unlabeled validation images with certification off), the
    /// input model's answers become the labels of `data`'s validation and certification
    /// images, so it is right on every image and a candidate's paired drop is the rate its
    /// answers differ.
    func judgeInput(_ input: Executor, model: Model, data: inout Data, options: PruningOptions,
                    estimateOnValidation: Bool) throws -> (validation: EvaluationResult, certification: [Bool]) {
        let labelledValidation = data.validation.images.labelled
        var validation = try input.evaluate(data.validation, indices: data.validationIndices, batchSize: options.evaluationBatch,
                                            reporter: PhaseReporter(base: reporter, phase: "validate input model"), sharing: options.sharing)
        let certification = estimateOnValidation ? validation.correctness
            : try input.evaluate(data.certification, indices: data.certificationIndices, batchSize: options.evaluationBatch,
                                 reporter: PhaseReporter(base: reporter, phase: "certification images: input model"), sharing: options.sharing).correctness
        guard options.certify == .agreement || (options.certify == .off && !labelledValidation) else { return (validation, certification) }
        let classes = Self.classCount(model, answers: validation.predictions)
        data.validation = try Self.relabel(data.validation, data.validationIndices, validation.predictions, classes: classes)
        let answers = try input.evaluate(data.certification, indices: data.certificationIndices, batchSize: options.evaluationBatch,
                                         reporter: PhaseReporter(base: reporter, phase: "certification images: input model answers"),
                                         sharing: options.sharing).predictions
        data.certification = try Self.relabel(data.certification, data.certificationIndices, answers, classes: classes)
        validation.correctness = Array(repeating: true, count: data.validationIndices.count)
        validation.correct = data.validationIndices.count
        validation.accuracy = 1
        return (validation, Array(repeating: true, count: data.certificationIndices.count))
    }

    /// Filter pruning in rounds (`FilterSearch`), each accepted candidate offered to `sequence`;
    /// leaves in `stages` the model the basis stage starts from and what the report needs.
    func filterStage(_ context: Context, _ sequence: CertificationSequence, _ stages: inout Stages, _ clock: inout PhaseClock) throws {
        let (model, data) = (context.model, context.data)
        var options = context.options
        options.confidence = sequence.confidence("filter")
        var folded = model
        folded.graph = try FoldBatchNorm.run(model.graph)
        let analysis = try ChannelDependency(graph: folded.graph, opset: model.defaultOpsetVersion ?? 21)
        let share = options.method == .filter ? 1 : options.steps.filterShare
        let search = try FilterSearch(graph: folded.graph, model: folded, analysis: analysis, train: data.train, trainIndices: data.trainIndices,
                                      validation: data.validation, validationIndices: data.validationIndices, options: options, share: share,
                                      reference: context.reference, certificationImages: context.certificationImages, reporter: reporter)
        func candidate(_ removed: Set<Int>, _ round: PruningRound) -> Candidate {
            Candidate(stage: "filter", round: round.round, parameters: round.layerParameters, predictedBound: round.predictedBound,
                      build: {
                          var pruned = folded
                          pruned.graph = try ChannelPruning.remove(folded.graph, analysis, removed: removed, means: search.means)
                          return (pruned, nil, removed)
                      })
        }
        var result = try search.run(accepted: { sequence.offer(candidate($0, $1)) })
        for i in result.history.indices { result.history[i].parameters = result.history[i].layerParameters }
        search.executor.releasePlans()
        search.validator.releasePlans()
        stages.microBatches.append(search.options.sharing.microBatch)
        try sequence.rethrow()
        clock.add(result.phases)
        stages.skipped += PruneReport.Skipped.channels(analysis, folded.graph)
        let rounds = result.history.filter { $0.accepted && $0.round > 0 }
        let accepted = Array(zip(result.candidates, rounds))
        if let (removed, round) = accepted.last { stages.lastCandidate = candidate(removed, round) }
        let accuracyOf = Dictionary(zip(result.candidates, rounds.map(\.validationAccuracy)), uniquingKeysWith: { a, _ in a })
        stages.filterRecord = { removed in
            PruneReport.FilterStage(
                share: share, groups: analysis.groups.count, groupsRemoved: removed.count,
                filtersRemoved: removed.reduce(0) { $0 + analysis.groups[$1].reduce(0) { $0 + analysis.spaces[$1.space].producers.count } },
                parametersAfter: ChannelPruning.layerParameters(folded.graph, analysis, removed: removed),
                validationAccuracy: accuracyOf[removed] ?? result.baselineValidationAccuracy, history: result.history)
        }
        stages.removedByFilter = result.removed
        stages.start = folded
        stages.start.graph = try ChannelPruning.remove(folded.graph, analysis, removed: result.removed, means: search.means)
        // Where training the factors does not win the overspending back (see
        // `PruningOptions.filterShare`), or wins it back with no room left for a single basis
        // round, the basis stage starts over from the last filter candidate whose own predicted
        // bound is within the budget, and then from the last within half of it (the filter
        // candidates certified as fallbacks).
        if share > 1 {
            for number in Self.fallbackRounds(rounds, budget: options.maxAccuracyDrop) {
                guard let (removed, round) = accepted.first(where: { $0.1.round == number }), removed != result.removed else { continue }
                stages.filterFallbacks.append(candidate(removed, round))
            }
        }
    }

    /// The accepted filter rounds (`rounds`, in order, the last being the stage's result) the
    /// basis stage may start over from, most pruned first: the last predicted within `budget`
    /// and the last within half of it (the rounds certified as fallbacks), each unless it is
    /// the result.
    static func fallbackRounds(_ rounds: [PruningRound], budget: Double) -> [Int] {
        var numbers: [Int] = []
        for limit in [budget, budget / 2] {
            guard let round = rounds.last(where: { $0.predictedBound ?? 0 <= limit }), round.round != rounds.last?.round,
                  !numbers.contains(round.round) else { continue }
            numbers.append(round.round)
        }
        return numbers
    }

    /// Basis pruning in rounds (`BasisSearch`) from `stages.start`, each accepted candidate
    /// offered to `sequence`: from the filter stage's result and, while its trained factors
    /// fail the budget rule or no basis round is accepted, from the next of
    /// `stages.filterFallbacks` (at most three times in all).
    func basisStage(_ context: Context, _ sequence: CertificationSequence, _ stages: inout Stages, _ clock: inout PhaseClock) throws {
        let data = context.data
        var options = context.options
        options.confidence = sequence.confidence("basis")
        while true {
            var (split, layers) = try Pipeline.split(stages.start, objective: options.objective)
            stages.skipped += PruneReport.Skipped.split(try FoldBatchNorm.run(stages.start.graph))
            clock.lap("split")
            if options.removal == .mean {
                (split, layers) = try Self.centred(split, layers: layers, data: data, options: options)
                clock.lap("centre bases")
            }
            let search = BasisSearch(executor: try Executor(model: split), layers: layers, train: data.train, trainIndices: data.trainIndices,
                                       validation: data.validation, validationIndices: data.validationIndices, options: options,
                                       reference: context.reference, certificationImages: context.certificationImages, reporter: reporter, split: split)
            let unsplit = Self.unsplitParameters(split, layers), filtered = stages.removedByFilter
            func candidate(_ state: ScalingState, _ round: PruningRound) -> Candidate {
                Candidate(stage: "basis", round: round.round, parameters: round.layerParameters + unsplit,
                          build: { [split, layers] in (try Pipeline.export(split, layers: layers, choices: state.choices), state, filtered) })
            }
            var result = try search.run(requireTrainedWithinBudget: !stages.filterFallbacks.isEmpty, accepted: { sequence.offer(candidate($0, $1)) })
            for i in result.history.indices { result.history[i].parameters = result.history[i].layerParameters + unsplit }
            search.executor.releasePlans()
            stages.microBatches.append(search.options.sharing.microBatch)
            try sequence.rethrow()
            clock.add(result.phases)
            // No basis round accepted: nothing was offered to `sequence`, so starting over keeps
            // the looks in order.
            let nothingRemoved = !result.history.contains { $0.accepted && $0.round > 0 }
            if nothingRemoved, !stages.filterFallbacks.isEmpty {
                let fallback = stages.filterFallbacks.removeFirst()
                // Kept short, as above; the filter record names the groups the result removed.
                clock.note("again from filter round \(fallback.round)")
                let built = try fallback.build()
                (stages.start, stages.removedByFilter) = (built.model, built.removed)
                // The new starting point is the filter candidate looked at if no basis one is.
                if sequence.pendingFilter != nil { sequence.pendingFilter = fallback }
                stages.lastCandidate = fallback
                stages.skipped.removeAll { $0.stage == "split" }
                continue
            }
            // Kept short, as above; --help names the flag.
            if result.stoppedAtRoundLimit, let most = options.basisRounds { clock.note("basis: stopped at \(most) rounds") }
            let rounds = result.history.filter { $0.accepted && $0.round > 0 }
            if let (state, round) = Array(zip(result.candidates, rounds)).last { stages.lastCandidate = candidate(state, round) }
            stages.basisResult = result
            return
        }
    }

    /// What the job states about the written candidate (`drop` on the certification images;
    /// nil when there is none): the certified bound, or with certification off the estimate
    /// and its two-sided interval.
    static func statement(_ drop: PairedDrop?, context: Context, looks: [Certification.Look], certified: Bool, confidence: Double,
                          estimateOnValidation: Bool) -> Certification {
        let options = context.options
        let drop = drop ?? PairedDrop(worse: 0, better: 0, images: context.certificationImages)
        let (b, c, n) = (Double(drop.worse), Double(drop.better), Double(drop.images))
        var certification = Certification(
            dropUpperBound: 100 * options.certify.upperBound(worse: b, better: c, images: n, confidence: confidence),
            drop: 100 * drop.drop, worse: drop.worse, better: drop.better,
            confidence: confidence, images: context.certificationImages, certified: certified, looks: looks)
        certification.mode = options.certify.rawValue
        certification.bound = options.certify.boundName
        certification.budget = options.maxAccuracyDrop
        if options.certify == .off {
            // An estimate, not a guarantee: its two-sided interval at the confidence.
            let side = (1 + options.confidence) / 2
            let interval = [-100 * PairedDrop.upperBound(worse: c, better: b, images: n, confidence: side),
                            100 * PairedDrop.upperBound(worse: b, better: c, images: n, confidence: side)]
            certification.interval = interval
            certification.dropUpperBound = interval[1]
            certification.estimatedOn = estimateOnValidation ? "validation images (the search decided on them: optimistic)" : "certification images"
            certification.procedure = "none (--certify off): the searches' most pruned candidate is the output"
        } else {
            certification.power = Certification.Power(images: context.certificationImages, mode: options.certify, budget: options.maxAccuracyDrop,
                                                      confidence: CertificationSequence.confidences(options)[0])
        }
        return certification
    }

    /// The report of the written candidate: measured against the input, on the validation
    /// images (with labels) and the test images.
    func evaluated(_ built: Built, input: Executor, labelledValidation: Preprocessor, inputValidationAccuracy: Double?,
                   context: Context, stages: Stages, clock: inout PhaseClock) throws -> PruneReport {
        let (options, data, pruned) = (context.options, context.data, built.model)
        let after = try GraphSummary(model: pruned)
        let output = try Executor(model: pruned)
        let outputValidation = labelledValidation.images.labelled
            ? try output.evaluate(labelledValidation, indices: data.validationIndices, batchSize: options.evaluationBatch,
                                  reporter: PhaseReporter(base: reporter, phase: "validate output model"), sharing: options.sharing).accuracy
            : nil
        var testAccuracy: (Double, Double)?
        if let test = data.test {
            let all = Array(0..<test.images.count)
            let a = try input.evaluate(test, indices: all, batchSize: options.evaluationBatch, reporter: PhaseReporter(base: reporter, phase: "test input model"), sharing: options.sharing).accuracy
            let b = try output.evaluate(test, indices: all, batchSize: options.evaluationBatch, reporter: PhaseReporter(base: reporter, phase: "test output model"), sharing: options.sharing).accuracy
            testAccuracy = (a, b)
        }
        clock.lap("evaluate output")
        let original = context.original
        var report = PruneReport(
            method: options.method.rawValue, input: inputName, output: outputName,
            layers: PruneReport.layers(original: original, after: after, state: built.state),
            parametersBefore: original.layerParameters, parametersAfter: after.layerParameters,
            macsBefore: original.layerMACs, macsAfter: after.layerMACs,
            inputAccuracy: PruneReport.Accuracy(validation: inputValidationAccuracy, test: testAccuracy?.0),
            outputAccuracy: PruneReport.Accuracy(validation: outputValidation, test: testAccuracy?.1),
            maxAccuracyDrop: options.maxAccuracyDrop, withinBudget: false, history: stages.basisResult?.history ?? [],
            filter: stages.filterRecord.map { $0(built.removed ?? []) }, skipped: stages.skipped, phases: clock.phases)
        report.objective = options.objective.rawValue
        report.channelMultiple = options.channelMultiple
        report.channelMultipleFrom = options.channelMultipleFrom
        report.objectiveFrom = options.objectiveFrom
        report.loss = options.method == .basis ? nil : options.loss.rawValue
        report.factorLoss = options.method == .filter ? nil : options.factorLoss.rawValue
        report.removal = options.removal.rawValue
        report.temperature = options.needsTeacher ? options.temperature : nil
        report.nodesBefore = self.model.graph.nodes.count
        report.nodesAfter = pruned.graph.nodes.count
        report.ranks = options.sharing.size
        report.threads = ComputeThreads.current
        report.microBatch = stages.microBatches.min() ?? options.sharing.microBatch
        report.memoryLimit = options.memory?.limit
        report.retrainImages = options.retrainImages
        if options.method != .filter { report.basisRounds = options.basisRounds }
        report.roundFraction = options.pruneRatio == nil ? options.steps.roundFraction : nil
        report.peakResidentBytes = ResidentMemory.peak()
        return report
    }

    /// The outcome of a job stopped before any training because its certification images
    /// cannot certify the budget even for a model that changes no answer (`power`).
    static func uncertifiable(_ model: Model, original: GraphSummary, power: Certification.Power, data: Data, options: PruningOptions,
                              phases: [PruneReport.Phase], inputName: String, outputName: String) throws -> Outcome {
        var report = PruneReport(
            method: options.method.rawValue, input: inputName, output: outputName,
            layers: PruneReport.layers(original: original, after: original, state: nil),
            parametersBefore: original.layerParameters, parametersAfter: original.layerParameters,
            macsBefore: original.layerMACs, macsAfter: original.layerMACs,
            inputAccuracy: PruneReport.Accuracy(validation: nil, test: nil), outputAccuracy: PruneReport.Accuracy(validation: nil, test: nil),
            maxAccuracyDrop: options.maxAccuracyDrop, withinBudget: false, history: [], phases: phases)
        var certification = Certification(dropUpperBound: power.smallestBound, drop: 0, worse: 0, better: 0, confidence: CertificationSequence.confidences(options)[0],
                                          images: data.certificationIndices.count, certified: false, looks: [])
        certification.mode = options.certify.rawValue
        certification.bound = options.certify.boundName
        certification.budget = options.maxAccuracyDrop
        certification.power = power
        certification.procedure = "none: stopped before any training, the certification images are too few for the budget"
        report.certification = certification
        report.nodesBefore = model.graph.nodes.count
        report.nodesAfter = model.graph.nodes.count
        return Outcome(model: model, report: report, input: model, validation: data.validation)
    }

    /// The class count of `model`'s first output, `[batch, classes]`, as declared or found by
    /// shape inference; otherwise one more than the largest of `answers`.
    static func classCount(_ model: Model, answers: [Int32]) -> Int {
        if let output = model.graph.outputs.first {
            if let dims = output.type?.tensor?.shape, dims.count == 2, let classes = dims[1].knownSize { return classes }
            if let inference = try? ShapeInference(graph: model.graph, opset: model.defaultOpsetVersion ?? 21),
               let shape = inference.facts[output.name]?.shape, shape.count == 2 { return shape[1] }
        }
        return Int(answers.max() ?? 0) + 1
    }

    /// `data` with images `indices` labelled `labels` (the input model's answers) and every
    /// other image unlabeled (-1).
    static func relabel(_ data: Preprocessor, _ indices: [Int], _ labels: [Int32], classes: Int) throws -> Preprocessor {
        var all = [Int32](repeating: -1, count: data.images.count)
        for (index, label) in zip(indices, labels) { all[index] = label }
        return try Preprocessor(images: data.images.relabelled(all, classCount: classes, source: data.images.source + " (labelled by the input model's answers)"),
                                preprocessing: data.preprocessing)
    }

    /// `split` with its layers' basis responses centred (`BasisCentering`) on their means over
    /// `options.retrainImages` training images drawn with the seed.
    static func centred(_ split: Model, layers: [SplitLayer], data: Data, options: PruningOptions) throws -> (Model, [SplitLayer]) {
        let outputs = Dictionary(uniqueKeysWithValues: split.graph.nodes.compactMap { node in
            node.name.flatMap { name in layers.first { $0.basisNode == name } }.map { ($0.factors, node.outputs[0]) }
        })
        let means = try TrainingMeans.of(layers.compactMap { outputs[$0.factors] }, in: split, train: data.train,
                                         trainIndices: data.trainIndices, options: options, stream: 1 << 34)
        var byLayer: [String: [Double]] = [:]
        for layer in layers { if let output = outputs[layer.factors] { byLayer[layer.factors] = means[output] } }
        return try BasisCentering.run(split, layers: layers, means: byLayer)
    }

    /// Weight and bias elements of the Conv/Gemm/MatMul layers of `split` that are not split
    /// layers (so that a basis candidate's count is the whole model's, like a filter candidate's).
    static func unsplitParameters(_ split: Model, _ layers: [SplitLayer]) -> Int {
        guard let summary = try? GraphSummary(model: split) else { return 0 }
        let parts = Set(layers.flatMap { [$0.basisNode, $0.scalingNode] })
        return summary.layers.filter { !parts.contains($0.name) }.reduce(0) { $0 + $1.parameters }
    }
}
