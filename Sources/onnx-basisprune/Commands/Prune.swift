import BasisPrune
import Foundation

enum PruneCommand {
    static let header = """
        USAGE: onnx-basisprune IN.onnx OUT.onnx --data SPEC [options]

        Prunes a model without fine-tuning its weights (see README). Basis pruning folds
        BatchNorm, splits every Conv and Gemm/MatMul by SVD into basis and scaling parts, trains
        only the per-basis scaling factors on --data, ranks bases by first-order Taylor
        importance |s * dL/ds|, and removes as many as the accuracy budget allows, in rounds
        (remove a fraction of the remaining bases, retrain the factors on part of the training
        data, re-rank). Filter pruning finds which channels must go together (residual Adds,
        depthwise convs, Concat, the Gemm head), ranks those groups by first-order Taylor
        importance of a unit mask where the next layers read them, and removes whole filters in
        rounds, training nothing. OUT is written atomically; a summary table goes to stdout,
        progress to stderr.

        """

    /// The command line's defaults: the library's, with the memory limit and the retrain
    /// budget the command line plans for (`--memory-limit`, `--retrain-images auto`) and the
    /// objective chosen for the model (`--objective auto`).
    static var defaults: PruningOptions {
        var o = PruningOptions()
        o.memory = MemoryPlan(limit: MemoryPlan.defaultLimit)
        o.retrainWork = 400_000_000_000
        o.objectiveAuto = true
        return o
    }

    /// Defaults of the options that are not `PruningOptions` fields.
    static let valFraction = 0.1, certFraction = 0.5

    typealias Entry = Option<PruningOptions>

    /// Every option of the command, in help order; `--help` shows all but the tuning section.
    static var table: OptionTable<PruningOptions> {
        let d = defaults
        func g(_ v: Double) -> String { String(format: "%g", v) }
        let work = d.retrainWork.map { g(Double($0)) } ?? "-"
        return OptionTable(sections: [
            .init(title: "METHOD", options: [
                .choice("--method", PruningOptions.Method.self,
                        "basis: basis pruning only; filter: filter pruning only; double (default): filter pruning, then basis pruning of the result, sharing the accuracy budget") { $0.method = $1 },
            ]),
            .init(title: "DATA", options: DataOptions.options() + [
                Entry("--val-data", "SPEC", "validation images the input model was NOT fine-tuned on; the search decides on them (default: --val-fraction of --data, with a warning: a model fine-tuned on those images looks better on them)"),
                Entry("--val-fraction", "F", "fraction of --data held out for validation when --val-data is not given, drawn with --seed (default \(g(valFraction)))"),
                Entry("--cert-data", "SPEC", "images the result is certified on, labelled or not (default: --cert-fraction of the validation images, drawn with --seed)"),
                Entry("--cert-fraction", "F", "fraction of the validation images set aside for certification when --cert-data is not given (default \(g(certFraction)))"),
                Entry("--test-data", "SPEC", "images to report the input and output accuracy on; never used for any choice"),
            ]),
            .init(title: "TRAINING THE SCALING FACTORS", options: [
                .choice("--loss", TrainingLoss.self, "what channel groups are ranked against (filter stage), and, unless --factor-loss is given, the scaling factors trained and bases ranked against too. labels (default): cross-entropy against the labels of --data; distill: the input model's outputs softened by --temperature (knowledge distillation: T^2 times the KL divergence from softmax(input model / T) to softmax(pruned / T)), so --data needs no labels: folder:DIR of images without class subfolders, or IDX images without a labels file, work (then --val-data with labels is required); both: the two losses added, weight 1 each. With --method double the teacher is the input model, not the filter-pruned one") { ($0.loss, $0.factorLoss) = ($1, $1) },
                .choice("--factor-loss", TrainingLoss.self, "what the scaling factors are trained and bases ranked against (basis stage). Default: \(d.factorLoss.rawValue), or --loss when that is given. Factors trained on labels change the model's answers both ways, and every changed answer widens the certified bound; distilled ones keep the input model's answers (docs/method.md)") { $0.factorLoss = $1 },
                .number("--temperature", "T", in: 0.01...1000, "softmax temperature of distill and both (default \(g(d.temperature)): at 1 a confident model's wrong-class probabilities, what distillation adds to labels, are nearly zero)") { $0.temperature = $1 },
                Entry("--memory-limit", "SIZE", "resident memory the job plans its batches for, e.g. 6G, 512M (default: a quarter of physical memory, \(MemoryLimit.describe(MemoryPlan.defaultLimit)) here). Training micro-batches and evaluation batches are sized from what the model's oneDNN plans take per image, so a 224x224 network runs in bounded memory; a batch's gradients are added over its micro-batches, so the result does not depend on the limit beyond the last bits. \"none\": fixed batches (evaluation \(d.evaluationBatch), --micro-batch) whatever the model") { (o, text) throws(CLIError) in
                    o.memory = try MemoryLimit.parse(text).map(MemoryPlan.init(limit:))
                },
                Entry("--seed", "N", "shuffling, validation hold-out and tie order (default \(d.seed)); the same inputs and seed write a byte-identical OUT") { (o, text) throws(CLIError) in
                    guard let seed = UInt64(text) else { throw .usage("--seed '\(text)' is not a non-negative integer") }
                    o.seed = seed
                },
            ]),
            .init(title: "PRUNING", options: [
                .number("--max-accuracy-drop", "P", in: 0...100, "largest allowed drop of accuracy below the input model, in points (default \(g(d.maxAccuracyDrop))). The result is certified: checked on images no search decision saw, its one-sided upper confidence bound on the drop (image by image against the input model) must be within P, or the run fails with exit 3 and writes nothing (see CERTIFICATION)") { $0.maxAccuracyDrop = $1 },
                .number("--confidence", "C", in: 0.5...0.9999, "confidence of that bound (default \(g(d.confidence)))") { $0.confidence = $1 },
                .number("--prune-ratio", "R", in: 0...0.999, "remove this fraction of the bases (and with filter, of the channels) instead of searching; the result is still checked") { $0.pruneRatio = $1 },
                Entry("--objective", "auto|params|macs|latency", "the cost a basis or channel group is ranked against, and by which a split layer is kept split or re-merged at export. params: weight and bias elements (on the full Fashion-MNIST run at 32x32 the smallest and also the fastest certified output in onnxruntime); macs: multiply-accumulates per image at the model's input size, what a layer's time on a CPU grows with; latency: MACs plus a fixed cost per Conv measured in onnxruntime (a split layer runs two Convs, so it stays split only when it saves more than that). auto (default): macs when the input model's layers do at least \(Objective.autoMACsPerParameter) MACs per image per parameter (EfficientNet-Lite0 at 224x224: 115; there ranking by parameters removes the late layers, where the time is not), else params (Lite0 at 32x32: 2.3); the report's objective_from says which. docs/deployment-speed.md") { (o, text) throws(CLIError) in
                    if text == "auto" { (o.objectiveAuto, o.objectiveFrom) = (true, nil); return }
                    guard let objective = Objective(rawValue: text) else {
                        throw .usage("--objective '\(text)' is not \(Parse.alternatives(["auto"] + Objective.allCases.map(\.rawValue)))")
                    }
                    (o.objective, o.objectiveAuto, o.objectiveFrom) = (objective, false, nil)
                },
                Entry("--channel-multiple", "N|auto", "kept channels of every pruned space and kept bases of every split layer are multiples of N, or the full width, because runtimes' blocked kernels (onnxruntime, TensorRT, OpenVINO) run other widths on slower paths (default \(d.channelMultiple); 1 turns it off; 16 or 32 for some GPUs and accelerators). auto: the channel block of onnxruntime's blocked convolutions on this machine, 16 with AVX-512F, else 8 (the report's channel_multiple_from says which)") { (o, text) throws(CLIError) in
                    if let n = try Parse.positive("--channel-multiple", text, or: "auto") {
                        (o.channelMultiple, o.channelMultipleFrom) = (n, nil)
                    } else {
                        let cpu = HostCPU.current
                        (o.channelMultiple, o.channelMultipleFrom) = (cpu.channelBlock, "auto: \(cpu.channelBlockReason)")
                    }
                },
                Entry("--retrain-images", "N|auto", "training images each round retrains on, filter pruning measures importance on, and --removed mean measures its means on. auto (default): \(d.retrainImages), or fewer for a costlier model, so a pass costs at most \(work) multiply-accumulates (at least \(PruningOptions.minimumRetrainImages) images): \(d.retrainImages) for a Lite0 at 32x32, about 1000 at 224x224; the factor-training epoch then runs over at most half as many again (every image at 32x32, about 1,600 at 224x224). N: N per round, and the epoch over every training image") { (o, text) throws(CLIError) in
                    guard let n = try Parse.positive("--retrain-images", text, or: "auto") else { return }
                    (o.retrainImages, o.retrainWork) = (n, nil)
                },
                Entry("--basis-rounds", "N|none|auto", "the most rounds the basis search tries, accepted or not; each retrains and validates a candidate, so this bounds the search's time. auto (default): as many as keep the rounds' retraining within \(d.basisRoundsWork.map { g(Double($0)) } ?? "-") multiply-accumulates, between \(PruningOptions.basisRoundsRange.lowerBound) and \(PruningOptions.basisRoundsRange.upperBound): \(PruningOptions.basisRoundsRange.lowerBound) at 224x224 (a round takes about 70 s on 2 cores there, and the late rounds remove a few bases each), \(PruningOptions.basisRoundsRange.upperBound) for a Lite0 at 32x32. The summary says when the search stopped here. none: until a round at the smallest fraction fails") { (o, text) throws(CLIError) in
                    o.basisRoundsWork = nil
                    if text == "auto" { o.basisRoundsWork = PruningOptions().basisRoundsWork; return }
                    o.basisRounds = try Parse.positive("--basis-rounds", text, or: "none", also: ["auto"])
                },
            ]),
            .init(title: "CERTIFICATION", options: [
                .choice("--certify", CertifyMode.self, "what the result is certified against. labels: the paired accuracy drop on labelled images (Tango score bound). agreement: the rate at which the output's top-1 answer differs from the input model's, which bounds the accuracy drop whatever the labels, so --val-data and --cert-data need no labels (Clopper-Pearson bound; the searches then decide by agreement too). auto (default): labels when the validation and certification images have labels, agreement otherwise. off: no certification; the searches decide on the validation images and their last candidate is written with exit 0, reported as NOT certified with an estimate of its drop and the estimate's interval (on --cert-data if given, else on the validation images, which is optimistic); no images are set aside for certification") { $0.certify = $1 },
                .number("--fallback-alpha", "F", in: 0...0.9, "with double: the share of 1 - --confidence spent on the filter candidates, checked as a fixed sequence of their own, the basis candidates getting the rest (Bonferroni), so that one failed filter look does not end the basis candidates' sequence (default \(g(d.fallbackAlphaShare)); 0: one sequence for both stages)") { $0.fallbackAlphaShare = $1 },
                Entry("--look-retries", "K|auto", "failed certification looks each sequence survives: it goes on past the first K failures and ends at the K+1-th, its result being its last passed candidate; each look is then tested at 1/(K+1) of the sequence's 1 - confidence (Bonferroni over the first K+1 candidates over the budget), so one unlucky look does not end the search. auto (default): 1 when certifying with labels on images that bound an unchanged model within a quarter of the budget (2,500 images do for 1 point), else 0: by agreement a changed answer stays changed and the looks only grow, and few images cannot spare the confidence. 0: the fixed sequence ends at its first failure") { (o, text) throws(CLIError) in
                    if text == "auto" { o.lookRetries = nil; return }
                    guard let k = Int(text), (0...8).contains(k) else { throw .usage("--look-retries '\(text)' is not an integer in 0...8 or auto") }
                    o.lookRetries = k
                },
            ], note: certificationNote),
            .init(title: "SEVERAL PROCESSES (mpirun -n N onnx-basisprune IN OUT --data ...; docs/engine.md)",
                  options: Ranks.options(), note: processesNote),
            .init(title: "OUTPUT", options: [
                Entry("--report", "FILE.json", "the summary as JSON (schema \"onnx-basisprune/prune\", version 2, schemas/prune.schema.json); written on exit 3 too, with \"output_written\": false, so a pipeline can read why"),
                Entry("--plot", "FILE.svg", "an SVG: validation accuracy against the model's parameters over both searches, every certification look with its bound, the written model marked, and the bases kept per split layer"),
                Entry("--verify", nil, "reload OUT from disk, run it beside the input model on the validation images, report its accuracy and top-1 agreement; fails (exit 4) if it cannot be run or its accuracy is below the input model's minus --max-accuracy-drop"),
                Entry("--in-place", nil, "allow OUT to be IN (the same file by any path or hard link) and replace it; without it such a run is refused (exit 2). OUT, --report and --plot are checked before any work and written together at the end, each atomically"),
                Entry("--force", nil, "write OUT even when no candidate certifies (the searches' most pruned candidate; still exit 3), and search even when the certification images are too few to certify the budget") { o, _ in o.searchEvenIfUncertifiable = true },
                Entry("--quiet", nil, "no progress on stderr"),
                Entry("-h, --help", nil, "show this help"),
                Entry("--help-all", nil, "this help and the tuning flags (learning rate, rounds, ranking, what a removal leaves, compaction, ...)"),
            ]),
            .init(title: "TUNING (the defaults were chosen by measurement; docs/experiments.md)", options: tuning(d)),
        ])
    }

    /// The research and tuning knobs `--help` leaves out.
    static func tuning(_ d: PruningOptions) -> [Entry] {
        func g(_ v: Double) -> String { String(format: "%g", v) }
        return [
            .number("--filter-share", "F", in: 0...8, tuning: true, "with double: how much of the usable budget (--max-accuracy-drop minus the statistical slack of certification) the filter stage's untrained candidates may spend, as a multiple (default \(g(PruningOptions.Steps.labels.filterShare)) with labels, \(g(PruningOptions.Steps.agreement.filterShare)) when certifying by agreement, where training does not win changed answers back; at most 8; above 1 it overspends: training the scaling factors afterwards wins most of it back, and basis pruning then works down to the full budget). Only filter candidates predicted within half the budget are certified, as fallbacks; the last never is while a basis candidate is") { $0.filterShare = $1 },
            Entry("--epochs", "N", tuning: true, "passes over --data before pruning (default \(d.epochs))") { (o, text) throws(CLIError) in
                guard let n = Int(text), n >= 0 else { throw .usage("--epochs '\(text)' is not a non-negative integer") }
                o.epochs = n
            },
            .number("--lr", "X", in: 1e-9...10, tuning: true, "learning rate (default \(g(Double(d.learningRate))))") { $0.learningRate = Float($1) },
            .choice("--optimizer", Optimizer.Method.self, tuning: true, "(default \(d.optimizer.rawValue))") { $0.optimizer = $1 },
            .choice("--retrain-optimizer", PruningOptions.OptimizerStart.self, tuning: true, "what each basis round's retrain of the factors starts from. fresh: a new optimizer (Adam's first steps move every factor by about --lr, whatever its gradient); carried: the optimizer state of the last accepted round (default \(d.retrainOptimizer.rawValue))") { $0.retrainOptimizer = $1 },
            .number("--importance-memory", "W", in: 0...0.95, tuning: true, "the share of the basis ranking carried from one accepted round to the next: each round ranks by W times the last ranking plus 1 - W times its own measurement, an average over rounds that steadies a ranking measured on a few thousand images (default \(g(d.importanceMemory)): each round's own)") { $0.importanceMemory = $1 },
            .positive("--batch-size", "B", tuning: true, "images per step (default \(d.batchSize))") { $0.batchSize = $1 },
            .choice("--prune-scope", PruningOptions.PruneScope.self, tuning: true, "what R is a fraction of. layer (default): every split layer loses R of its bases and every prunable channel space R of its channels, at least one each, the lowest-ranked first (rounded to --channel-multiple; a layer narrower than one block loses none). global: R of all bases (channel groups) together, lowest-ranked wherever they are, so a layer may keep all of its own") { $0.pruneScope = $1 },
            .choice("--ranking", PruningOptions.Ranking.self, tuning: true, "per-cost (default): importance divided by the --objective cost of a basis or group; importance: raw Taylor importance") { $0.ranking = $1 },
            .choice("--normalize-importance", PruningOptions.Normalization.self, tuning: true, "divide importance by its layer's total before ranking (default \(d.normalizeImportance.rawValue))") { $0.normalizeImportance = $1 },
            .choice("--removed", PruningOptions.Removal.self, tuning: true, "what a removed basis or channel leaves behind. mean (default): its mean over --retrain-images training images, folded into the next layer's bias (\"mean replacement\"); the factors then scale each basis's variation around its mean, and bases and channel groups are ranked by the importance of that variation (channels only where every reader is a 1x1 conv without padding or a Gemm: elsewhere they are zeroed). zero: nothing, as the paper prunes") { $0.removal = $1 },
            .number("--round-fraction", "F", in: 0.001...0.9, tuning: true, "fraction of the remaining bases (channel groups) removed per round (default \(g(PruningOptions.Steps.labels.roundFraction)) with labels, \(g(PruningOptions.Steps.agreement.roundFraction)) when certifying by agreement); a round that breaks the budget is retried with half") { $0.roundFraction = $1 },
            Entry("--importance-images", "N|all", tuning: true, "basis importance is measured on the last N images of each training pass (the factor-training epoch, every round's retrain); the images before them only train, with one backward sweep instead of the two a teacher's importance takes. Faster, but measured to lose more accuracy on new data (docs/experiments.md). Default all: every image") { (o, text) throws(CLIError) in
                o.importanceImages = try Parse.positive("--importance-images", text, or: "all")
            },
            .choice("--compact", CompactSplit.Mode.self, tuning: true, "which split layers each round retrains and validates with its removed bases taken out instead of multiplied by zero. exact (default): those where that changes no bit (Gemms and 1x1 convs on 1x1 planes), so the output is the file off writes; all: every layer, faster where removed bases sit in convs on larger planes (1.4x per training step with half the bases gone at 224x224), but sums regroup in their last bits and the search takes another path; off: the masked full split") { $0.compaction = $1 },
        ]
    }

    static let certificationNote = """
          Before any training the job checks what the certification images can certify at best
          (the bound of a model that changes no answer). If that is over the budget it stops
          with exit 3 and says how many images the budget needs (--force searches anyway).
          The searches decide on the validation images, comparing each candidate image by image
          with the input model, and stop where the predicted bound reaches the budget. Their
          accepted candidates, least pruned first and each smaller than the one before, are then
          checked in that order on the certification images, each with a one-sided Tango score
          bound on the paired accuracy drop at --confidence; the last one before the first whose
          bound is over the budget is the result (fixed-sequence testing: the several looks need
          no Bonferroni share). The summary and the report's "certification" state it: accuracy
          drop <= X pt with 95 % confidence on N images. With --prune-ratio only the result is
          checked.
        """

    static let processesNote = """
          Every rank runs the job; the passes over images are shared: each evaluation batch and
          each micro-batch of a training step runs on one rank, and the results are exchanged
          and added in a fixed order, so N ranks write the same OUT as one (with the same
          --threads). Rank 0 prints and writes OUT, --report and --plot; a rank that fails ends
          the job (exit 1, one line from that rank, nothing written).
        """

    static var help: String { header + "\n" + table.help(tuning: false) + "\n" + exitCodesHelp + "\n" }

    static func options(_ args: Arguments) throws(CLIError) -> PruningOptions {
        var o = defaults
        try table.apply(args, to: &o)
        if args.values["--prune-scope"] != nil && o.pruneRatio == nil { throw .usage("--prune-scope needs --prune-ratio") }
        return o
    }

    /// A number option the job reads itself (`--val-fraction`, `--cert-fraction`).
    static func fraction(_ args: Arguments, _ option: String, default value: Double, range: ClosedRange<Double>) throws(CLIError) -> Double {
        try args.values[option].map { text throws(CLIError) in try Parse.number(option, text, in: range) } ?? value
    }

    static func run(_ argv: [String]) throws(CLIError) -> String {
        let args = try Arguments(argv, command: "prune", valueOptions: table.valueOptions, flagOptions: table.flagOptions)
        if args.has("--help-all") { return help + "\n" + table.help(tuning: true) + "\n" }
        if args.has("--help") { return help }
        guard args.positional.count == 2 else { throw .usage("expected IN.onnx OUT.onnx (see onnx-basisprune --help)") }
        guard args.values["--data"] != nil else { throw .usage("--data SPEC is required (see onnx-basisprune prune --help)") }
        let (inputPath, outputPath) = (args.positional[0], args.positional[1])
        _ = try OutputFiles(inputs: [inputPath], [("OUT", outputPath), ("--report", args.values["--report"]), ("--plot", args.values["--plot"])],
                            inPlace: args.has("--in-place"))
        var options = try self.options(args)
        options.sharing = try Ranks.setUp(args)
        let valFraction = try fraction(args, "--val-fraction", default: valFraction, range: 0.001...0.9)
        let reporter = TerminalReporter(quiet: args.has("--quiet") || !Ranks.leads)
        // Each rank loads the model and its data; a rank that cannot ends the job for all.
        let (loaded, data) = try Ranks.agree(options.sharing) { () throws(CLIError) in
            try load(args, inputPath: inputPath, seed: options.seed, valFraction: valFraction, certify: options.certify, reporter: reporter)
        }
        let validationIndices = data.validationIndices

        do {
            let job = PruneJob(model: loaded, options: options, inputName: inputPath, outputName: outputPath, reporter: reporter)
            let outcome = try job.run(data)
            var report = outcome.report
            // Rank 0 alone writes and verifies; the job's exit code is its.
            guard Ranks.leads else { return "" }
            if let traffic = Ranks.mpi?.traffic {
                report.exchanges = traffic.collectives
                report.bytesSent = traffic.bytesSent
                let steps = options.sharing.traffic.trainingSteps
                report.bytesPerTrainingStep = steps.count > 0 ? steps.bytesSent / steps.count : 0
            }
            var staged = StagedOutputs()
            report.outputWritten = outcome.accepted || args.has("--force")
            guard outcome.accepted || args.has("--force") else {
                // The report still tells a pipeline why: the certification and its looks.
                if let reportPath = args.values["--report"] {
                    try staged.stage(Array(try encodeJSON(report).utf8), to: reportPath)
                    try staged.commit()
                }
                let reportNote = args.values["--report"].map { "; \($0) says why" } ?? ""
                if let power = report.certification?.power, !power.sufficient {
                    throw CLIError(message: "the accuracy budget cannot be certified: \(report.certification!.summary); nothing trained, \(outputPath) not written. Give more images (--val-data, --cert-data\(report.certification!.mode == CertifyMode.agreement.rawValue ? "" : "; unlabeled ones count with --certify agreement")), raise --max-accuracy-drop to \(String(format: "%.2f", (power.smallestBound * 100).rounded(.up) / 100)), or --certify off for an uncertified estimate\(reportNote)",
                                   code: .budgetNotMet)
                }
                throw CLIError(message: "the accuracy budget cannot be certified: \(report.certification?.summary ?? "no candidate"); \(outputPath) not written (--force writes the most pruned candidate)\(reportNote)",
                               code: .budgetNotMet)
            }
            let stagedModel = try staged.stage(ONNXExporter.encode(outcome.model), to: outputPath)
            if let line = report.skippedSummary() { reporter.warning(line) }
            if args.has("--verify") {
                report.verify = try verify(stagedModel.temporaryPath, name: outputPath, input: outcome.input, validation: outcome.validation, indices: validationIndices,
                                           maxDrop: options.maxAccuracyDrop / 100, reporter: reporter)
            }
            if let reportPath = args.values["--report"] { try staged.stage(Array(try encodeJSON(report).utf8), to: reportPath) }
            if let plotPath = args.values["--plot"] { try staged.stage(Array(SVGPlot(report: report).svg().utf8), to: plotPath) }
            try staged.commit()
            let summary = "pruned \(inputPath) -> \(outputPath)\n\n" + report.table()
            if let verify = report.verify, !verify.passed {
                throw CLIError(message: String(format: "--verify failed: \(outputPath) has validation accuracy %.2f %%, below the input model's %.2f %% minus %g points",
                                               100 * verify.accuracy, 100 * verify.referenceAccuracy, options.maxAccuracyDrop),
                               code: .verificationFailed, output: summary)
            }
            if !outcome.accepted {
                throw CLIError(message: "the accuracy budget cannot be certified; \(outputPath) was written because of --force", code: .budgetNotMet, output: summary)
            }
            return summary
        } catch let error as CLIError {
            throw error
        } catch let error as PassError {
            throw .usage("\(inputPath): \(error.description)")
        } catch let error as EngineError {
            throw Ranks.error(error, prefix: "\(inputPath): ")
        } catch let error as ONNXError {
            throw CLIError(message: error.description, code: .runtimeFailure)
        } catch let error as ShapeError {
            throw .usage("\(inputPath): \(error.description)")
        } catch {
            throw CLIError(message: "\(error)", code: .runtimeFailure)
        }
    }

    /// The model and the job's images: training, validation, certification (carved from the
    /// validation images unless --cert-data) and test.
    static func load(_ args: Arguments, inputPath: String, seed: UInt64, valFraction: Double, certify: CertifyMode,
                     reporter: TerminalReporter) throws(CLIError) -> (Model, PruneJob.Data) {
        let loaded = try loadModel(inputPath)
        let train = try DataOptions.preprocessor(args, model: loaded, modelPath: inputPath)
        var trainIndices = Array(0..<train.images.count)
        /// The images of `option`'s spec, all of them, when it is given.
        func given(_ option: String) throws(CLIError) -> (Preprocessor, [Int])? {
            guard args.values[option] != nil else { return nil }
            let images = try DataOptions.preprocessor(args, model: loaded, modelPath: inputPath, specOption: option)
            return (images, Array(0..<images.images.count))
        }
        let validation: Preprocessor
        var validationIndices: [Int]
        if let (images, all) = try given("--val-data") {
            (validation, validationIndices) = (images, all)
        } else {
            var random = SeededRandom(seed: seed, stream: 1 << 32)
            trainIndices.seededShuffle(using: &random)
            let held = max(2, Int(Double(trainIndices.count) * valFraction))
            validation = train
            validationIndices = Array(trainIndices.prefix(held)).sorted()
            trainIndices = Array(trainIndices.dropFirst(held)).sorted()
            reporter.warning("no --val-data: validating and certifying on \(held) images held out of --data; if the input model was fine-tuned on them, it will look better on them than on new data")
        }
        let certification: Preprocessor
        let certificationIndices: [Int]
        if let (images, all) = try given("--cert-data") {
            (certification, certificationIndices) = (images, all)
        } else if certify == .off {
            // Nothing to certify: every validation image serves the search.
            (certification, certificationIndices) = (validation, [])
        } else {
            let fraction = try self.fraction(args, "--cert-fraction", default: certFraction, range: 0.01...0.99)
            guard validationIndices.count >= 2 else {
                throw .usage("\(args.values["--val-data"] ?? "--data"): \(validationIndices.count) validation image: too few to carve certification images from (give more, or --cert-data)")
            }
            (validationIndices, certificationIndices) = PruneJob.Data.carve(validationIndices, certificationFraction: fraction, seed: seed)
            certification = validation
        }
        let test = try args.values["--test-data"].map { _ throws(CLIError) in
            try DataOptions.preprocessor(args, model: loaded, modelPath: inputPath, specOption: "--test-data")
        }
        let data = PruneJob.Data(train: train, trainIndices: trainIndices, validation: validation, validationIndices: validationIndices,
                                 certification: certification, certificationIndices: certificationIndices, test: test)
        return (loaded, data)
    }

    /// Reloads `path` (OUT's staged file, called `name`) from disk and runs it beside `input`
    /// (exit 4 when it cannot be imported or run).
    static func verify(_ path: String, name: String, input: Model, validation: Preprocessor, indices: [Int], maxDrop: Double,
                       reporter: any Reporter) throws(CLIError) -> Verification {
        do {
            let reloaded = try ONNXImporter.load(path: path)
            return try Verification.run(reference: Executor(model: input), candidate: Executor(model: reloaded), data: validation,
                                        indices: indices, maxDrop: maxDrop, reporter: reporter)
        } catch {
            throw CLIError(message: "--verify failed: \(name) cannot be reloaded and run: \(error)", code: .verificationFailed)
        }
    }
}
