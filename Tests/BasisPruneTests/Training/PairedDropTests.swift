import BasisPrune
import Foundation
import TestSupport
import Testing

/// The certified bound: Tango's score bound on a paired accuracy drop, checked against known
/// values and by its coverage on simulated paired outcomes.
@Suite struct PairedDropTests {
    /// A candidate no smaller than the one looked at before it, or than the input, is never
    /// looked at (a basis round whose removals all fall in layers that stay re-merged).
    @Test func onlySmallerCandidatesAreLookedAt() {
        #expect(Certification.worthALook(parameters: [2_918_714, 1_502_242, 1_502_242, 1_371_058], inputParameters: 3_362_810) == [0, 1, 3])
        #expect(Certification.worthALook(parameters: [100, 100, 90, 95], inputParameters: 120) == [0, 2])
        #expect(Certification.worthALook(parameters: [130, 110], inputParameters: 120) == [1])
        #expect(Certification.worthALook(parameters: [], inputParameters: 120).isEmpty)
    }

    @Test func normalQuantile() {
        #expect(abs(PairedDrop.normalQuantile(0.95) - 1.644854) < 1e-5)
        #expect(abs(PairedDrop.normalQuantile(0.975) - 1.959964) < 1e-5)
        #expect(abs(PairedDrop.normalQuantile(0.5)) < 1e-9)
    }

    @Test func countsFromCorrectness() {
        let d = PairedDrop(reference: [true, true, false, false, true], candidate: [true, false, true, false, false])
        #expect(d == PairedDrop(worse: 2, better: 1, images: 5))
        #expect(abs(d.drop - 0.2) < 1e-12)
    }

    /// With no discordant image the bound is not 0 (the Wald interval's answer) but the score
    /// bound z^2 / (n + z^2): with 1,500 images, 0.18 points.
    @Test func noDiscordanceStillBounds() {
        let z = PairedDrop.normalQuantile(0.95)
        let bound = PairedDrop(worse: 0, better: 0, images: 1500).upperBound(confidence: 0.95)
        #expect(abs(bound - z * z / (1500 + z * z)) < 1e-6)
    }

    /// With many discordant images the score bound approaches the Wald bound
    /// d + z sqrt(((b + c) / n - d^2) / n), from above.
    @Test func manyDiscordantApproachesWald() {
        let (b, c, n) = (600.0, 300.0, 25_000.0)
        let d = (b - c) / n
        let wald = d + PairedDrop.normalQuantile(0.95) * (((b + c) / n - d * d) / n).squareRoot()
        let score = PairedDrop.upperBound(worse: b, better: c, images: n, confidence: 0.95)
        #expect(score >= d && abs(score - wald) < 0.02 * wald, "score \(score), Wald \(wald)")
        // More confidence, a higher bound; more images at the same rates, a lower one.
        #expect(PairedDrop.upperBound(worse: b, better: c, images: n, confidence: 0.99) > score)
        #expect(PairedDrop.upperBound(worse: b * 4, better: c * 4, images: n * 4, confidence: 0.95) < score)
    }

    /// Coverage: on simulated trinomial outcomes (worse / better / same per image) with a known
    /// drop, the 95 % bound lies at or above the true drop in about 95 % of samples, for few and
    /// for many discordant images.
    @Test(arguments: [(0.004, 0.002), (0.03, 0.02), (0.06, 0.03)])
    func coverage(worse pWorse: Double, better pBetter: Double) {
        var random = SplitMix64(seed: 11)
        let n = 1500, trials = 2000
        var covered = 0
        for _ in 0..<trials {
            var b = 0, c = 0
            for _ in 0..<n {
                let u = Double(random.next() >> 11) / Double(1 << 53)
                if u < pWorse { b += 1 } else if u < pWorse + pBetter { c += 1 }
            }
            if PairedDrop(worse: b, better: c, images: n).upperBound(confidence: 0.95) >= pWorse - pBetter { covered += 1 }
        }
        let rate = Double(covered) / Double(trials)
        #expect(rate >= 0.93 && rate <= 0.985, "coverage \(rate) at p_worse \(pWorse), p_better \(pBetter)")
    }

    /// The search's rule: a candidate is accepted while its drop plus the predicted slack of
    /// certifying on the given number of images is within the budget; certifying on fewer
    /// images needs more slack.
    @Test func budgetRulePredictsTheCertificationSlack() {
        let reference = Array(repeating: true, count: 2000)
        var candidate = reference
        for i in 0..<20 { candidate[i * 50] = false }  // 1 point drop, all discordant one way
        let rule = BudgetRule(maxDrop: 0.02, confidence: 0.95, certificationImages: 2000, reference: reference)
        let judged = rule.judge(candidate)
        #expect(abs(judged.drop.drop - 0.01) < 1e-12)
        #expect(judged.predictedBound > 0.01 && judged.accepted == (judged.predictedBound <= 0.02))
        let fewer = BudgetRule(maxDrop: 0.02, confidence: 0.95, certificationImages: 200, reference: reference).judge(candidate)
        #expect(fewer.predictedBound > judged.predictedBound)
        var half = rule
        half.share = 0.5
        #expect(half.judge(candidate).accepted == (0.01 <= 0.5 * (0.02 - (judged.predictedBound - 0.01))))
    }
}
