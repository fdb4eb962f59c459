import BasisPrune
import Foundation
import TestSupport
import Testing

/// The main job through the library alone (no command line, no files written): options in,
/// outcome out, on a small slice of Fashion-MNIST.
@Suite(.serialized) struct PruneJobTests {
    static func data(_ text: String) throws -> Preprocessor {
        try Preprocessor(images: DataSpec(parsing: "idx:\(Fixtures.fashionMNIST),\(text)").load(), preprocessing: .sharedModels)
    }

    /// Options of a basis search that finds several candidates on a few hundred images.
    static func smallBasisSearch(retrainImages: Int, maxAccuracyDrop: Double, roundFraction: Double) -> PruningOptions {
        var options = PruningOptions()
        options.method = .basis
        options.factorLoss = .labels
        options.retrainImages = retrainImages
        options.learningRate = 0.001
        options.maxAccuracyDrop = maxAccuracyDrop
        options.roundFraction = roundFraction
        options.basisRounds = nil
        options.basisRoundsWork = nil
        return options
    }

    /// A basis search of the bundled model (simplified, split) on training images 0-599,
    /// validated on test images 0-599; `givenSplit`: with its split model, so rounds run
    /// compacted and validate the written model.
    static func basisSearch(_ options: PruningOptions, givenSplit: Bool = false) throws
        -> (search: BasisSearch, model: Model, split: Model, layers: [SplitLayer], validation: Preprocessor) {
        let model = try Simplify.run(try ONNXImporter.load(path: Fixtures.bundledModel)).model
        let (split, layers) = try Pipeline.split(model)
        let train = try data("range=0:600"), validation = try data("split=test,range=0:600")
        let search = BasisSearch(executor: try Executor(model: split), layers: layers, train: train, trainIndices: Array(0..<600),
                                 validation: validation, validationIndices: Array(0..<600), options: options, split: givenSplit ? split : nil)
        return (search, model, split, layers, validation)
    }

    /// Validation and certification images are disjoint, cover the given ones, and depend only
    /// on the seed.
    @Test func carvingIsDisjointAndSeeded() {
        let indices = Array(100..<1100)
        let (validation, certification) = PruneJob.Data.carve(indices, certificationFraction: 0.5, seed: 3)
        #expect(validation.count == 500 && certification.count == 500)
        #expect(Set(validation).isDisjoint(with: certification) && Set(validation + certification) == Set(indices))
        #expect(validation == validation.sorted())
        #expect(PruneJob.Data.carve(indices, certificationFraction: 0.5, seed: 3).certification == certification)
        #expect(PruneJob.Data.carve(indices, certificationFraction: 0.5, seed: 4).certification != certification)
    }

    /// A budget search: the candidates are checked least pruned first, at most the sequence's
    /// retries fail before its last look (`--look-retries auto` gives one here: 800 labelled
    /// certification images bound an unchanged model within a quarter of the 2-point budget), the
    /// result is the last certified look, and its bound and parameters are the report's and the
    /// output model's.
    @Test func searchIsCertifiedInOrder() throws {
        let model = try ONNXImporter.load(path: Fixtures.bundledModel)
        let train = try Self.data("range=0:1000"), validation = try Self.data("split=test,range=0:1600")
        let (v, c) = PruneJob.Data.carve(Array(0..<1600), certificationFraction: 0.5, seed: 0)
        var options = PruningOptions()
        options.method = .basis
        options.retrainImages = 500
        options.learningRate = 0.001
        options.maxAccuracyDrop = 2
        options.roundFraction = 0.2
        let job = PruneJob(model: model, options: options, inputName: "in", outputName: "out")
        let outcome = try job.run(PruneJob.Data(train: train, trainIndices: Array(0..<1000), validation: validation, validationIndices: v,
                                                certification: validation, certificationIndices: c))
        let certification = try #require(outcome.report.certification)
        let looks = certification.looks
        print(looks.map { String(format: "%@ %d: %d params, drop %.2f, bound %.2f", $0.stage, $0.round, $0.parameters, $0.drop, $0.dropUpperBound) })
        #expect(outcome.certified && certification.images == 800)
        #expect(looks.count >= 2)
        #expect(zip(looks, looks.dropFirst()).allSatisfy { $0.parameters > $1.parameters })
        var labelled = options
        labelled.certify = .labels
        let retries = try #require(PruneJob.resolvingLookRetries(labelled, certificationImages: 800).lookRetries)
        #expect(retries == 1)
        let failures = looks.filter { !$0.certified }.count
        #expect(looks.dropLast().filter { !$0.certified }.count <= retries && failures <= retries + 1)
        #expect(certification.procedure.contains("--look-retries 1"))
        let chosen = try #require(looks.last { $0.certified })
        #expect(chosen.dropUpperBound == certification.dropUpperBound && chosen.dropUpperBound <= 2 && chosen.dropUpperBound > chosen.drop)
        let summary = try GraphSummary(model: outcome.model)
        #expect(summary.layerParameters == outcome.report.parametersAfter && chosen.parameters == summary.layerParameters)
        #expect(outcome.report.parametersAfter < outcome.report.parametersBefore)
        // The bound is the output model's own: its paired drop on the certification images.
        let input = try Executor(model: try Simplify.run(model).model).evaluate(validation, indices: c, batchSize: 256).correctness
        let output = try Executor(model: outcome.model).evaluate(validation, indices: c, batchSize: 256).correctness
        #expect(abs(100 * PairedDrop(reference: input, candidate: output).drop - chosen.drop) < 1e-9)
        // Checked as the search goes: the look that uses up the retries after one has passed
        // ends the search at that candidate's round.
        if let last = looks.last, !last.certified, failures == retries + 1, looks.contains(where: \.certified) {
            #expect(outcome.report.history.last?.round == last.round && outcome.report.history.last?.accepted == true)
        }
    }

    /// The hook the job certifies through: a search told to stop after its first accepted
    /// candidate ends right there, and what it found up to then is what the search that goes on
    /// found (same history, same candidate), so stopping changes no look.
    @Test func searchStopsWhereTheHookSays() throws {
        let search = try Self.basisSearch(Self.smallBasisSearch(retrainImages: 300, maxAccuracyDrop: 3, roundFraction: 0.2)).search
        var seen: [Int] = []
        let stopped = try search.run(accepted: { _, round in
            seen.append(round.round)
            return false
        })
        var acceptedFurther = 0
        let further = try search.run(accepted: { _, _ in
            acceptedFurther += 1
            return acceptedFurther < 2
        })
        #expect(seen.count == 1 && stopped.candidates.count == 1)
        #expect(stopped.history.last?.accepted == true && stopped.history.last?.round == seen[0])
        #expect(further.candidates.count == 2 && further.history.count > stopped.history.count)
        #expect(further.history.prefix(stopped.history.count).elementsEqual(stopped.history))
        #expect(further.candidates[0].kept == stopped.candidates[0].kept)
    }

    /// Given its split model, the search judges each candidate as the model it would write
    /// (factors folded, layers re-merged): a round's validation accuracy is the exported
    /// candidate's own, measured independently. It stops after `basisRounds` and says so.
    @Test func roundsValidateTheWrittenModel() throws {
        var options = Self.smallBasisSearch(retrainImages: 300, maxAccuracyDrop: 3, roundFraction: 0.2)
        options.basisRounds = 2
        let (search, model, split, layers, validation) = try Self.basisSearch(options, givenSplit: true)
        let result = try search.run()
        #expect(result.history.count == 3 && result.stoppedAtRoundLimit)
        let lastAccepted = try #require(result.history.last { $0.accepted && $0.round > 0 })
        let written = try Pipeline.export(split, layers: layers, choices: result.state.choices)
        let accuracy = try Executor(model: written).evaluate(validation, indices: Array(0..<600), batchSize: 100).accuracy
        #expect(accuracy == lastAccepted.validationAccuracy)
        #expect(try GraphSummary(model: written).layerParameters < GraphSummary(model: model).layerParameters)
    }

    /// A failed round is never retried as it was: when the halved fraction rounds (to the channel
    /// multiple) to the removal that just failed, it is halved again instead, so the search does
    /// not draw retrains until one flatters the same candidate on the validation images. Between
    /// two accepted rounds every failed one removes something else (a different count of bases,
    /// or of parameters).
    @Test func failedRemovalsAreNotRetried() throws {
        // Blocks of 32 bases: small fractions round to the same single block.
        var options = Self.smallBasisSearch(retrainImages: 300, maxAccuracyDrop: 1, roundFraction: 0.1)
        options.channelMultiple = 32
        let search = try Self.basisSearch(options).search
        let result = try search.run()
        var failedSince: [[Int]] = [], failures = 0
        for round in result.history.dropFirst() {
            if round.accepted { failedSince = []; continue }
            let removal = [round.keptBases, round.layerParameters]
            #expect(!failedSince.contains(removal), "round \(round.round) repeats a failed removal: \(result.history)")
            failedSince.append(removal)
            failures += 1
        }
        print("rounds: \(result.history.map { "\($0.round): \($0.keptBases) \($0.accepted ? "accepted" : "failed")" })")
        #expect(failures >= 2)
    }
}
