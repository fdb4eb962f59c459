@testable import BasisPrune
import Foundation
import TestSupport
import Testing

/// The certification sequence as the searches offer candidates: one fixed sequence, or with
/// `--fallback-alpha` the filter candidates in a sequence of their own, where a failed filter
/// look no longer ends the basis candidates' sequence.
struct UnusedCheck: Error {}

@Suite struct CertificationSequenceTests {
    /// A 1-point budget searched by `method`, certified by `certify` with `retries`.
    static func options(_ method: PruningOptions.Method, _ certify: CertifyMode, retries: Int) -> PruningOptions {
        var options = PruningOptions()
        options.method = method
        options.certify = certify
        options.maxAccuracyDrop = 1
        options.lookRetries = retries
        return options
    }

    /// Filter candidates f1-f3 (f2's look fails on the certification images), then basis
    /// candidates b1-b3 (b3's fails). Each look's outcome is given by `failing`.
    func offerAll(share: Double, retries: Int = 0, failing: Set<String> = ["filter 2", "basis 3"],
                  basisRounds: Int = 3) throws -> (sequence: CertificationSequence, goOn: [String: Bool]) {
        let model = try ONNXImporter.load(path: Fixtures.models + "/patterns/residual.onnx")
        var options = Self.options(.double, .labels, retries: retries)
        options.fallbackAlphaShare = share
        let sequence = CertificationSequence(options: options, inputParameters: 1000, certificationImages: 2000) { candidate in
            let name = "\(candidate.stage) \(candidate.round)"
            // 2,000 images; a failing look changes 40 answers for the worse (bound about 2.5 pt), a passing one 4.
            let drop = failing.contains(name) ? PairedDrop(worse: 40, better: 0, images: 2000) : PairedDrop(worse: 4, better: 0, images: 2000)
            return ((model, nil, nil), drop)
        }
        var goOn: [String: Bool] = [:]
        let basis = (1...basisRounds).map { ("basis", $0, 700 - 100 * $0) }
        for (stage, round, parameters) in [("filter", 1, 900), ("filter", 2, 800), ("filter", 3, 700)] + basis {
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

    /// `--look-retries 1`: a sequence goes on past its first failed look (basis 2) and ends at
    /// its second (basis 4); the result is its last passed candidate (basis 3), and every look
    /// is tested at half the sequence's miss probability. Without retries the same looks end at
    /// basis 2 with basis 1 the result.
    @Test func aSequenceSurvivesItsRetries() throws {
        let failing: Set<String> = ["basis 2", "basis 4"]
        let (plain, plainGoOn) = try offerAll(share: 0, failing: failing, basisRounds: 5)
        #expect(plainGoOn["basis 2"] == false)
        #expect(plain.looks.map { "\($0.stage) \($0.round) \($0.certified)" } == ["filter 1 true", "filter 2 true", "basis 1 true", "basis 2 false"])
        #expect(plain.chosen != nil && plain.looks.last { $0.certified }?.round == 1)

        let (sequence, goOn) = try offerAll(share: 0, retries: 1, failing: failing, basisRounds: 5)
        #expect(abs(sequence.confidence("basis") - 0.975) < 1e-12)
        #expect(goOn["basis 2"] == true && goOn["basis 3"] == true && goOn["basis 4"] == false)
        #expect(sequence.looks.map { "\($0.stage) \($0.round) \($0.certified)" }
                == ["filter 1 true", "filter 2 true", "basis 1 true", "basis 2 false", "basis 3 true", "basis 4 false"])
        #expect(sequence.chosen != nil && sequence.looks.last { $0.certified }?.round == 3)
        #expect(abs(sequence.chosenConfidence - 0.975) < 1e-12)
        #expect(abs(sequence.looks[4].dropUpperBound - 100 * PairedDrop.upperBound(worse: 4, better: 0, images: 2000, confidence: 0.975)) < 1e-9)

        // Two sequences with a retry each: both shares halved.
        let (two, _) = try offerAll(share: 0.2, retries: 1, failing: failing, basisRounds: 5)
        #expect(abs(two.confidence("filter") - 0.995) < 1e-12 && abs(two.confidence("basis") - 0.98) < 1e-12)
    }

    /// `--look-retries auto`: one retry with labels on images that bound an unchanged model within
    /// a quarter of the budget; none on a small transfer set's 180 images, by agreement, or
    /// with a fixed ratio; a number given stays.
    @Test func retriesWhereTheImagesAffordThem() {
        var options = PruningOptions()
        options.method = .double
        options.certify = .labels
        func resolved(_ o: PruningOptions, _ images: Int) -> Int? { PruneJob.resolvingLookRetries(o, certificationImages: images).lookRetries }
        #expect(resolved(options, 2500) == 1 && resolved(options, 1500) == 0)
        options.maxAccuracyDrop = 3
        #expect(resolved(options, 180) == 0 && resolved(options, 1500) == 1)
        options.maxAccuracyDrop = 1
        options.certify = .agreement
        #expect(resolved(options, 5000) == 0)
        options.certify = .labels
        options.pruneRatio = 0.5
        #expect(resolved(options, 2500) == 0)
        options.pruneRatio = nil
        options.lookRetries = 2
        #expect(resolved(options, 100) == 2)
    }

    /// The retries keep the guarantee. Simulated by agreement on 10,000 images: two candidates
    /// within a 1-point budget (0.5 % of answers changed), then five exactly at it (1 %). The
    /// result is one of the five in at most 5 % of 2,000 runs (plus three standard errors), with
    /// and without a retry; with one, some runs certify a candidate after a failed look. Testing
    /// every look at the full 95 % with a retry (no Bonferroni) breaks the guarantee, so the
    /// simulation can tell.
    @Test func retriesKeepTheFamilyWiseGuarantee() throws {
        let model = try ONNXImporter.load(path: Fixtures.models + "/patterns/residual.onnx")
        var random = SplitMix64(seed: 11)
        let runs = 2000, images = 10_000
        func run(retries: Int, confidence: Double = 0.95) -> (falseClaims: Int, survived: Int) {
            var options = Self.options(.basis, .agreement, retries: retries)
            options.confidence = confidence
            var falseClaims = 0, survived = 0
            for _ in 0..<runs {
                let sequence = CertificationSequence(options: options, inputParameters: 1000, certificationImages: images) { candidate in
                    let rate = candidate.round <= 2 ? 0.005 : 0.01
                    var changed = 0
                    for _ in 0..<images where Double.random(in: 0..<1, using: &random) < rate { changed += 1 }
                    return ((model, nil, nil), PairedDrop(worse: changed, better: 0, images: images))
                }
                for round in 1...7 {
                    let candidate = PruneJob.Candidate(stage: "basis", round: round, parameters: 900 - 100 * round, predictedBound: 0.5, build: { (model, nil, nil) })
                    if !sequence.offer(candidate) { break }
                }
                let result = sequence.chosen == nil ? 0 : sequence.looks.last { $0.certified }!.round
                if result >= 3 { falseClaims += 1 }
                if let failed = sequence.looks.first(where: { !$0.certified }), result > failed.round { survived += 1 }
            }
            return (falseClaims, survived)
        }
        let limit = Double(runs) * 0.05 + 3 * (Double(runs) * 0.05 * 0.95).squareRoot()
        let plain = run(retries: 0), retried = run(retries: 1)
        #expect(Double(plain.falseClaims) <= limit && Double(retried.falseClaims) <= limit, "\(plain) \(retried)")
        #expect(plain.survived == 0 && retried.survived > 0, "\(plain) \(retried)")
        // Each look at 95 % with a retry (a 90 % claim, divided between the two chances): about 10 % false claims.
        let undivided = run(retries: 1, confidence: 0.90)
        #expect(Double(undivided.falseClaims) > limit, "\(undivided)")
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
