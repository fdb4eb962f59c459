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

    public func run(_ data: Data) throws -> Outcome {
        var phases: [PruneReport.Phase] = []
        var clock = Date()
        func lap(_ name: String) {
            phases.append(PruneReport.Phase(name: name, seconds: Date().timeIntervalSince(clock)))
            clock = Date()
        }
        let model = try Simplify.run(self.model).model
        let original = try GraphSummary(model: model)
        var options = self.options
        var data = data
        options.certify = options.certify.resolved(labelled: data.validation.images.labelled && data.certification.images.labelled)
        if options.certify == .labels {
            for (images, role) in [(data.validation.images, "validation"), (data.certification.images, "certification")] where !images.labelled {
                throw DataError.incompatible(source: images.source, reason: "has no labels, and \(role) images need them under --certify labels (agreement does not)")
            }
        }
        if !data.train.images.labelled, let (flag, loss) = options.stageLosses.first(where: { $0.loss.needsLabels }) {
            throw DataError.incompatible(source: data.train.images.source, reason: "has no labels, and \(flag) \(loss.rawValue) trains on labels (distill does not)")
        }
        // With certification off and no images set aside for it, the estimate is measured on
        // the validation images (and says so).
        let estimateOnValidation = options.certify == .off && data.certificationIndices.isEmpty
        if estimateOnValidation { (data.certification, data.certificationIndices) = (data.validation, data.validationIndices) }
        // What the certification images can certify at best, before any work.
        if options.certify != .off {
            let power = Certification.Power(images: data.certificationIndices.count, mode: options.certify,
                                            budget: options.maxAccuracyDrop, confidence: options.confidence)
            if !power.sufficient && !options.searchEvenIfUncertifiable {
                lap("power check")
                return try Self.uncertifiable(model, original: original, power: power, data: data, options: options, phases: phases,
                                              inputName: inputName, outputName: outputName)
            }
        }
        let input = try Executor(model: model)
        let labelledValidation = data.validation
        var referenceValidation = try input.evaluate(data.validation, indices: data.validationIndices, batchSize: 256,
                                                     reporter: PhaseReporter(base: reporter, phase: "validate input model"), sharing: options.sharing)
        let inputValidationAccuracy = labelledValidation.images.labelled ? referenceValidation.accuracy : nil
        var referenceCertification = estimateOnValidation ? referenceValidation.correctness
            : try input.evaluate(data.certification, indices: data.certificationIndices, batchSize: 256,
                                 reporter: PhaseReporter(base: reporter, phase: "certification images: input model"), sharing: options.sharing).correctness
        // Unlabeled validation images with certification off are judged by agreement too.
        let byAgreement = options.certify == .agreement || (options.certify == .off && !labelledValidation.images.labelled)
        if byAgreement {
            // Judged by agreement: the input model's answers are the labels, so it is right on
            // every image and a candidate's paired drop is the rate its answers differ.
            let classes = Self.classCount(model, answers: referenceValidation.predictions)
            data.validation = try Self.relabel(data.validation, data.validationIndices, referenceValidation.predictions, classes: classes)
            let certificationPredictions = try input.evaluate(data.certification, indices: data.certificationIndices, batchSize: 256,
                                                              reporter: PhaseReporter(base: reporter, phase: "certification images: input model answers"),
                                                              sharing: options.sharing).predictions
            data.certification = try Self.relabel(data.certification, data.certificationIndices, certificationPredictions, classes: classes)
            referenceValidation.correctness = Array(repeating: true, count: data.validationIndices.count)
            referenceValidation.correct = data.validationIndices.count
            referenceValidation.accuracy = 1
            referenceCertification = Array(repeating: true, count: data.certificationIndices.count)
        }
        lap("validate input model")
        let certificationImages = data.certificationIndices.count
        options.retrainImages = min(options.retrainImages, data.trainIndices.count)
        if options.needsTeacher {
            // The input model teaches both stages (with double, not the filter-pruned model).
            options.teacher = try TeacherOutputs(executor: input, data: data.train, indices: data.trainIndices, reporter: reporter, sharing: options.sharing)
            lap("teacher outputs")
        }

        // Certification follows the searches as they go (see `Certification`): each accepted
        // candidate worth a look is checked when it is accepted, and once one fails after another
        // has passed, the fixed sequence is over and the searches stop, since no later candidate
        // could be the result. The candidates and looks are the same as checking them all after
        // the searches. With --prune-ratio only the result is checked, after the search.
        let certifyAsYouGo = options.pruneRatio == nil && options.certify != .off
        func certify(_ candidate: Candidate) throws -> (built: Built, drop: PairedDrop) {
            let built = try candidate.build()
            let correctness = try Executor(model: built.model).evaluate(
                data.certification, indices: data.certificationIndices, batchSize: 256,
                reporter: PhaseReporter(base: reporter, phase: "certify \(candidate.stage) round \(candidate.round)"), sharing: options.sharing).correctness
            return (built, PairedDrop(reference: referenceCertification, candidate: correctness))
        }
        var looks: [Certification.Look] = []
        var chosen: (built: Built, drop: PairedDrop)?
        var sequenceEnded = false
        var lookedAtParameters = original.layerParameters
        /// Checks `candidate` if it is worth a look (`Certification.worthALook`: smaller than the
        /// input and than the last one checked) and the sequence is still open.
        func look(_ candidate: Candidate) throws {
            guard !sequenceEnded, Certification.worthALook(candidate.parameters, after: lookedAtParameters) else { return }
            lookedAtParameters = candidate.parameters
            let (built, paired) = try certify(candidate)
            let bound = options.certify.upperBound(worse: Double(paired.worse), better: Double(paired.better),
                                                   images: Double(paired.images), confidence: options.confidence)
            let ok = bound <= options.maxAccuracyDrop / 100
            // The search's count, before export fuses linear pairs (`FuseLinearConvs`), decides
            // what is worth a look; the look records what the exported candidate has.
            let exported = (try? GraphSummary(model: built.model))?.layerParameters ?? candidate.parameters
            looks.append(Certification.Look(stage: candidate.stage, round: candidate.round, parameters: exported,
                                            drop: 100 * paired.drop, dropUpperBound: 100 * bound, worse: paired.worse, better: paired.better,
                                            certified: ok))
            if ok { chosen = (built, paired) } else { sequenceEnded = true }
        }
        /// Whether a later candidate could still be the result. While nothing has certified the
        /// searches go on, so that --force writes the most pruned candidate.
        var resultOpen: Bool { !(sequenceEnded && chosen != nil) }
        var lookError: (any Error)?
        /// With `double`, the filter stage's candidates are stepping stones: the basis stage
        /// starts from the last, and its first candidate is that model with its scaling factors
        /// trained (which wins back much of what the filter stage lost) and a few bases fewer.
        /// An untrained stepping stone whose look fails would end the sequence before the
        /// trained models built on it are checked, so a filter candidate is looked at only as a
        /// fallback that will likely pass: when the next one is accepted (one behind: never the
        /// last, unless the basis stage accepts nothing), and only if the bound its search
        /// predicted is within `safeFilterShare` of the budget. Which candidates are looked at
        /// depends on the searches alone, never on a look's outcome.
        var pendingFilter: Candidate?
        let safeFilterBound = Self.safeFilterShare * options.maxAccuracyDrop
        /// The searches' `accepted` hook: looks at `candidate` (or at the pending filter
        /// candidate, see above), and says whether to go on.
        func goOn(after candidate: Candidate) -> Bool {
            guard certifyAsYouGo else { return true }
            do {
                if options.method == .double && candidate.stage == "filter" {
                    if let pending = pendingFilter, pending.predictedBound ?? 0 <= safeFilterBound { try look(pending) }
                    pendingFilter = candidate
                } else {
                    pendingFilter = nil
                    try look(candidate)
                }
            } catch {
                lookError = error
                return false
            }
            return resultOpen
        }

        /// The searches' most pruned candidate: what a forced run writes when nothing certifies.
        var lastCandidate: Candidate?
        var stage = model
        var removedByFilter: Set<Int>?
        var filterRecord: ((Set<Int>) -> PruneReport.FilterStage)?
        /// With `double`: a less pruned filter candidate to start the basis stage from again
        /// (built only if it does).
        var filterFallback: Candidate?
        var skipped: [PruneReport.Skipped] = []
        if options.method != .basis {
            var folded = model
            folded.graph = try FoldBatchNorm.run(model.graph)
            let analysis = try ChannelDependency(graph: folded.graph, opset: model.defaultOpsetVersion ?? 21)
            let share = options.method == .filter ? 1 : options.filterShare
            let search = try FilterSearch(graph: folded.graph, model: folded, analysis: analysis, train: data.train, trainIndices: data.trainIndices,
                                          validation: data.validation, validationIndices: data.validationIndices, options: options, share: share,
                                          reference: referenceValidation.correctness, certificationImages: certificationImages, reporter: reporter)
            func candidate(_ removed: Set<Int>, _ round: PruningRound) -> Candidate {
                Candidate(stage: "filter", round: round.round, parameters: round.layerParameters, predictedBound: round.predictedBound,
                          build: {
                              var pruned = folded
                              pruned.graph = try ChannelPruning.remove(folded.graph, analysis, removed: removed, means: search.means)
                              return (pruned, nil, removed)
                          })
            }
            let result = try search.run(accepted: { goOn(after: candidate($0, $1)) })
            if let lookError { throw lookError }
            phases += result.phases.map { PruneReport.Phase(name: $0.name, seconds: $0.seconds) }
            clock = Date()
            skipped += PruneReport.Skipped.channels(analysis, folded.graph)
            let rounds = result.history.filter { $0.accepted && $0.round > 0 }
            let accepted = Array(zip(result.candidates, rounds))
            if let (removed, round) = accepted.last { lastCandidate = candidate(removed, round) }
            let accuracyOf = Dictionary(zip(result.candidates, rounds.map(\.validationAccuracy)), uniquingKeysWith: { a, _ in a })
            filterRecord = { removed in
                PruneReport.FilterStage(
                    share: share, groups: analysis.groups.count, groupsRemoved: removed.count,
                    filtersRemoved: removed.reduce(0) { $0 + analysis.groups[$1].reduce(0) { $0 + analysis.spaces[$1.space].producers.count } },
                    parametersAfter: ChannelPruning.layerParameters(folded.graph, analysis, removed: removed),
                    validationAccuracy: accuracyOf[removed] ?? result.baselineValidationAccuracy, history: result.history)
            }
            removedByFilter = result.removed
            stage = folded
            stage.graph = try ChannelPruning.remove(folded.graph, analysis, removed: result.removed, means: search.means)
            // Where training the factors does not win the overspending back (see
            // `PruningOptions.filterShare`), the basis stage starts over from the last filter
            // candidate whose own predicted bound is within the budget.
            if share > 1, let (removed, round) = accepted.last(where: { $0.1.predictedBound ?? 0 <= options.maxAccuracyDrop }),
               removed != result.removed {
                filterFallback = candidate(removed, round)
            }
        }
        var basisResult: PruningResult?
        if options.method != .filter && !resultOpen {
            // Kept short: the text summary gives a phase 28 columns. The looks say which failed.
            phases.append(PruneReport.Phase(name: "basis stage not run", seconds: 0))
        } else if options.method != .filter {
            // At most twice: from the filter stage's result, and (if its trained factors fail the
            // budget rule) from `filterFallback`.
            while true {
                var (plain, plainLayers) = try Pipeline.split(stage, objective: options.objective)
                skipped += PruneReport.Skipped.split(try FoldBatchNorm.run(stage.graph))
                lap("split")
                if options.removal == .mean {
                    (plain, plainLayers) = try Self.centred(plain, layers: plainLayers, data: data, options: options)
                    lap("centre bases")
                }
                let (split, layers) = (plain, plainLayers)
                let executor = try Executor(model: split)
                let search = PruningSearch(executor: executor, layers: layers, train: data.train, trainIndices: data.trainIndices,
                                           validation: data.validation, validationIndices: data.validationIndices, options: options,
                                           reference: referenceValidation.correctness, certificationImages: certificationImages, reporter: reporter, split: split)
                let unsplit = Self.unsplitParameters(split, layers), filtered = removedByFilter
                func candidate(_ state: ScalingState, _ round: PruningRound) -> Candidate {
                    Candidate(stage: "basis", round: round.round, parameters: round.layerParameters + unsplit,
                              build: { (try Pipeline.export(split, layers: layers, choices: state.choices), state, filtered) })
                }
                let result = try search.run(requireTrainedWithinBudget: filterFallback != nil, accepted: { goOn(after: candidate($0, $1)) })
                if let lookError { throw lookError }
                phases += result.phases.map { PruneReport.Phase(name: $0.name, seconds: $0.seconds) }
                clock = Date()
                if result.history.first?.accepted == false, let fallback = filterFallback {
                    // Kept short, as above; the filter record names the groups the result removed.
                    phases.append(PruneReport.Phase(name: "again from filter round \(fallback.round)", seconds: 0))
                    let built = try fallback.build()
                    (stage, removedByFilter, filterFallback) = (built.model, built.removed, nil)
                    // The new starting point is the filter candidate looked at if no basis one is.
                    if pendingFilter != nil { pendingFilter = fallback }
                    lastCandidate = fallback
                    skipped.removeAll { $0.stage == "split" }
                    continue
                }
                let rounds = result.history.filter { $0.accepted && $0.round > 0 }
                if let (state, round) = Array(zip(result.candidates, rounds)).last { lastCandidate = candidate(state, round) }
                basisResult = result
                break
            }
        }

        // The filter stage's last candidate, if the basis stage accepted none (or did not run).
        if let pending = pendingFilter { try look(pending) }
        // With a fixed --prune-ratio there is no search to follow back: only the result is checked.
        if !certifyAsYouGo, options.certify != .off, let last = lastCandidate { try look(last) }
        // When nothing certifies, the searches' last candidate is what a forced run writes.
        var written = chosen
        if written == nil, let last = lastCandidate { written = try certify(last) }
        lap("certify")
        let built = written?.built ?? (model: model, state: nil, removed: nil)
        let pruned = built.model
        let writtenDrop = written?.drop ?? PairedDrop(worse: 0, better: 0, images: certificationImages)
        var certification = Certification(
            dropUpperBound: 100 * options.certify.upperBound(worse: Double(writtenDrop.worse), better: Double(writtenDrop.better),
                                                             images: Double(writtenDrop.images), confidence: options.confidence),
            drop: 100 * writtenDrop.drop, worse: writtenDrop.worse, better: writtenDrop.better,
            confidence: options.confidence, images: certificationImages, certified: chosen != nil, looks: looks)
        certification.mode = options.certify.rawValue
        certification.bound = options.certify.boundName
        certification.budget = options.maxAccuracyDrop
        if options.certify == .off {
            // An estimate, not a guarantee: its two-sided interval at the confidence.
            let side = (1 + options.confidence) / 2
            let (b, c, n) = (Double(writtenDrop.worse), Double(writtenDrop.better), Double(writtenDrop.images))
            certification.interval = [-100 * PairedDrop.upperBound(worse: c, better: b, images: n, confidence: side),
                                      100 * PairedDrop.upperBound(worse: b, better: c, images: n, confidence: side)]
            certification.dropUpperBound = certification.interval![1]
            certification.estimatedOn = estimateOnValidation ? "validation images (the search decided on them: optimistic)" : "certification images"
            certification.procedure = "none (--certify off): the searches' most pruned candidate is the output"
        } else {
            certification.power = Certification.Power(images: certificationImages, mode: options.certify, budget: options.maxAccuracyDrop,
                                                      confidence: options.confidence)
        }

        let after = try GraphSummary(model: pruned)
        let output = try Executor(model: pruned)
        let outputValidation = labelledValidation.images.labelled
            ? try output.evaluate(labelledValidation, indices: data.validationIndices, batchSize: 256,
                                  reporter: PhaseReporter(base: reporter, phase: "validate output model"), sharing: options.sharing).accuracy
            : nil
        var testAccuracy: (Double, Double)?
        if let test = data.test {
            let all = Array(0..<test.images.count)
            let a = try input.evaluate(test, indices: all, batchSize: 256, reporter: PhaseReporter(base: reporter, phase: "test input model"), sharing: options.sharing).accuracy
            let b = try output.evaluate(test, indices: all, batchSize: 256, reporter: PhaseReporter(base: reporter, phase: "test output model"), sharing: options.sharing).accuracy
            testAccuracy = (a, b)
        }
        lap("evaluate output")
        var report = PruneReport(
            method: options.method.rawValue, input: inputName, output: outputName,
            layers: PruneReport.layers(original: original, after: after, state: built.state),
            parametersBefore: original.layerParameters, parametersAfter: after.layerParameters,
            macsBefore: original.layerMACs, macsAfter: after.layerMACs,
            inputAccuracy: PruneReport.Accuracy(validation: inputValidationAccuracy, test: testAccuracy?.0),
            outputAccuracy: PruneReport.Accuracy(validation: outputValidation, test: testAccuracy?.1),
            maxAccuracyDrop: options.maxAccuracyDrop,
            withinBudget: chosen != nil || (options.certify == .off && 100 * writtenDrop.drop <= options.maxAccuracyDrop), history: basisResult?.history ?? [],
            filter: filterRecord.map { $0(built.removed ?? []) }, skipped: skipped, phases: phases)
        report.certification = certification
        report.objective = options.objective.rawValue
        report.channelMultiple = options.channelMultiple
        report.loss = options.method == .basis ? nil : options.loss.rawValue
        report.factorLoss = options.method == .filter ? nil : options.factorLoss.rawValue
        report.removal = options.removal.rawValue
        report.temperature = options.needsTeacher ? options.temperature : nil
        report.nodesBefore = self.model.graph.nodes.count
        report.nodesAfter = pruned.graph.nodes.count
        report.ranks = options.sharing.size
        report.threads = ComputeThreads.current
        report.microBatch = options.sharing.microBatch
        return Outcome(model: pruned, report: report, input: model, validation: data.validation)
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
        var certification = Certification(dropUpperBound: power.smallestBound, drop: 0, worse: 0, better: 0, confidence: options.confidence,
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

    /// With `double`: the share of the budget a filter candidate's predicted bound may reach
    /// for it to be looked at before the basis stage (see `run`).
    static let safeFilterShare = 0.5

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
