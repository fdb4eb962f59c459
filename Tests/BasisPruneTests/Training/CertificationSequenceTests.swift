@testable import BasisPrune
import Foundation
import TestSupport
import Testing

/// The certification sequence as the searches offer candidates: one fixed sequence, or with
/// `--fallback-alpha` the filter candidates in a sequence of their own, where a failed filter
/// look no longer ends the basis candidates' sequence.
struct UnusedCheck: Error {}

@Suite struct CertificationSequenceTests {
    /// Filter candidates f1-f3 (f2's look fails on the certification images), then basis
    /// candidates b1-b3 (b3's fails). Each look's outcome is given by `failing`.
    func offerAll(share: Double) throws -> (sequence: CertificationSequence, goOn: [String: Bool]) {
        let model = try ONNXImporter.load(path: Fixtures.models + "/patterns/residual.onnx")
        var options = PruningOptions()
        options.method = .double
        options.certify = .labels
        options.maxAccuracyDrop = 1
        options.fallbackAlphaShare = share
        let failing: Set<String> = ["filter 2", "basis 3"]
        let sequence = CertificationSequence(options: options, inputParameters: 1000, certificationImages: 2000) { candidate in
            let name = "\(candidate.stage) \(candidate.round)"
            // 2,000 images; a failing look changes 40 answers for the worse (bound about 2.5 pt), a passing one 4.
            let drop = failing.contains(name) ? PairedDrop(worse: 40, better: 0, images: 2000) : PairedDrop(worse: 4, better: 0, images: 2000)
            return ((model, nil, nil), drop)
        }
        var goOn: [String: Bool] = [:]
        for (stage, round, parameters) in [("filter", 1, 900), ("filter", 2, 800), ("filter", 3, 700), ("basis", 1, 600), ("basis", 2, 500), ("basis", 3, 400)] {
            let candidate = PruneJob.Candidate(stage: stage, round: round, parameters: parameters, predictedBound: 0.1, build: { (model, nil, nil) })
            goOn["\(stage) \(round)"] = sequence.offer(candidate)
        }
        try sequence.rethrow()
        return (sequence, goOn)
    }

    /// One sequence: the failed look at filter round 2 (made when round 3 is accepted) ends it,
    /// the searches stop there, and filter round 1 is the result.
    @Test func oneSequenceEndsAtTheFirstFailure() throws {
        let (sequence, goOn) = try offerAll(share: 0)
        #expect(!sequence.split && sequence.confidence("filter") == 0.95 && sequence.confidence("basis") == 0.95)
        #expect(goOn["filter 2"] == true && goOn["filter 3"] == false)
        #expect(sequence.looks.map { "\($0.stage) \($0.round) \($0.certified)" } == ["filter 1 true", "filter 2 false"])
        #expect(sequence.looks.allSatisfy { $0.confidence == nil })
        #expect(sequence.chosenConfidence == 0.95)
    }

    /// Two sequences: the filter failure ends only the filter sequence; the basis candidates are
    /// checked at the rest of the confidence, the searches stop at the failed basis look, and the
    /// result is the last basis candidate that passed.
    @Test func aFailedFilterLookLeavesTheBasisSequence() throws {
        let (sequence, goOn) = try offerAll(share: 0.2)
        #expect(sequence.split)
        #expect(abs(sequence.confidence("filter") - 0.99) < 1e-12 && abs(sequence.confidence("basis") - 0.96) < 1e-12)
        #expect(goOn["filter 3"] == true && goOn["basis 1"] == true && goOn["basis 2"] == true && goOn["basis 3"] == false)
        #expect(sequence.looks.map { "\($0.stage) \($0.round) \($0.certified)" }
                == ["filter 1 true", "filter 2 false", "basis 1 true", "basis 2 true", "basis 3 false"])
        for (look, expected) in zip(sequence.looks, [0.99, 0.99, 0.96, 0.96, 0.96]) { #expect(abs((look.confidence ?? 0) - expected) < 1e-12) }
        #expect(abs(sequence.chosenConfidence - 0.96) < 1e-12)
        // A look's bound is the one of its own sequence's confidence.
        let basisLook = sequence.looks[2]
        #expect(abs(basisLook.dropUpperBound - 100 * PairedDrop.upperBound(worse: 4, better: 0, images: 2000, confidence: 0.96)) < 1e-9)
    }

    /// A filter candidate is looked at before the basis stage when its predicted bound is within
    /// half the budget, or, where the certification images cannot certify half the budget at
    /// all, within halfway from the smallest bound they can give to the budget.
    @Test func filterLookLimitFollowsWhatTheImagesCanCertify() throws {
        var options = PruningOptions()
        options.method = .double
        options.certify = .labels
        options.maxAccuracyDrop = 1
        let none: (PruneJob.Candidate) throws -> CertificationSequence.Checked = { _ in throw UnusedCheck() }
        #expect(CertificationSequence(options: options, inputParameters: 1000, certificationImages: 2500, check: none).filterLookLimit == 0.5)
        options.certify = .agreement
        options.maxAccuracyDrop = 0.5
        let tight = CertificationSequence(options: options, inputParameters: 1000, certificationImages: 1500, check: none)
        let smallest = 100 * ClopperPearson.upperBound(failures: 0, trials: 1500, confidence: 0.99)
        #expect(abs(smallest - 0.307) < 0.001)
        #expect(abs(tight.filterLookLimit - (smallest + 0.5) / 2) < 1e-12)
    }
}
