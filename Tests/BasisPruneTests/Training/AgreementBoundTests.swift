import BasisPrune
import Foundation
import TestSupport
import Testing

/// The agreement certification's bound (Clopper-Pearson on the rate of changed answers) and
/// the power check made before any training: checked against the binomial distribution itself,
/// by coverage on simulated answers, and against known values.
@Suite struct AgreementBoundTests {
    /// P(X <= k) for X ~ Binomial(n, p), summed term by term in log space.
    static func binomialCDF(_ k: Int, _ n: Int, _ p: Double) -> Double {
        var sum = 0.0
        for i in 0...k {
            let choose: Double = lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1))
            let powers: Double = Double(i) * log(p) + Double(n - i) * log(1 - p)
            sum += exp(choose + powers)
        }
        return sum
    }

    /// The bound is the rate at which seeing k or fewer changed answers has probability 1 - confidence.
    @Test(arguments: [(0, 180), (1, 180), (5, 180), (36, 5000), (250, 2500)])
    func boundIsTheBinomialTail(failures k: Int, trials n: Int) {
        let bound = ClopperPearson.upperBound(failures: Double(k), trials: Double(n), confidence: 0.95)
        #expect(abs(Self.binomialCDF(k, n, bound) - 0.05) < 1e-7, "k \(k) n \(n) bound \(bound)")
        #expect(bound > Double(k) / Double(n))
    }

    /// With no changed answer the bound is 1 - 0.05^(1/n) (about 3 / n, the "rule of three").
    @Test func noChangedAnswerStillBounds() {
        for n in [30, 180, 299, 5000] {
            let bound = CertifyMode.agreement.smallestBound(images: n, confidence: 0.95)
            #expect(abs(bound - (1 - pow(0.05, 1 / Double(n)))) < 1e-9)
        }
        #expect(ClopperPearson.upperBound(failures: 10, trials: 10, confidence: 0.95) == 1)
        #expect(abs(ClopperPearson.regularizedIncompleteBeta(0.3, a: 2, b: 3) - 0.3483) < 1e-4)
    }

    /// Coverage: on simulated answers with a known rate of change, the 95 % bound is at or above
    /// the rate in at least 95 % of samples (Clopper-Pearson is conservative), for rare and for
    /// common changes.
    @Test(arguments: [0.002, 0.01, 0.05])
    func coverage(rate: Double) {
        var random = SplitMix64(seed: 7)
        let n = 1000, trials = 2000
        var covered = 0
        for _ in 0..<trials {
            var k = 0
            for _ in 0..<n where Double(random.next() >> 11) / Double(1 << 53) < rate { k += 1 }
            if ClopperPearson.upperBound(failures: Double(k), trials: Double(n), confidence: 0.95) >= rate { covered += 1 }
        }
        let share = Double(covered) / Double(trials)
        #expect(share >= 0.945, "coverage \(share) at rate \(rate)")
    }

    /// The power check: the smallest bound of a set, and the fewest images a budget needs, are
    /// consistent with each other under both bounds.
    @Test(arguments: [CertifyMode.labels, .agreement])
    func imagesNeededMeetTheBudget(mode: CertifyMode) {
        for budget in [0.005, 0.01, 0.03] {
            let needed = mode.imagesNeeded(budget: budget, confidence: 0.95)
            #expect(mode.smallestBound(images: needed, confidence: 0.95) <= budget)
            #expect(mode.smallestBound(images: needed - 1, confidence: 0.95) > budget)
        }
        // 180 images cannot certify 1 point with either bound; 3 points they can.
        let power = Certification.Power(images: 180, mode: mode, budget: 1, confidence: 0.95)
        #expect(!power.sufficient && power.smallestBound > 1 && power.imagesNeeded > 180)
        #expect(Certification.Power(images: 180, mode: mode, budget: 3, confidence: 0.95).sufficient)
    }

    /// Under agreement the search's rule predicts the Clopper-Pearson bound, which is wider
    /// than the paired one for the same counts; under off it predicts no slack at all.
    @Test func budgetRuleFollowsTheMode() {
        let reference = Array(repeating: true, count: 2000)
        var candidate = reference
        for i in 0..<10 { candidate[i * 100] = false }
        let labels = BudgetRule(maxDrop: 0.01, confidence: 0.95, certificationImages: 2000, reference: reference, mode: .labels).judge(candidate)
        let agreement = BudgetRule(maxDrop: 0.01, confidence: 0.95, certificationImages: 2000, reference: reference, mode: .agreement).judge(candidate)
        let off = BudgetRule(maxDrop: 0.01, confidence: 0.95, certificationImages: 2000, reference: reference, mode: .off).judge(candidate)
        #expect(abs(agreement.predictedBound - ClopperPearson.upperBound(failures: 10, trials: 2000, confidence: 0.95)) < 1e-12)
        #expect(agreement.predictedBound > labels.predictedBound && labels.predictedBound > 0.005)
        #expect(off.predictedBound == 0.005 && off.accepted)
    }

    /// Every "not certified" line names the bound, the budget, the images and the candidate.
    @Test func notCertifiedSaysWhichCandidateFailed() {
        var certification = Certification(dropUpperBound: 0.54, drop: 0.1, worse: 3, better: 1, confidence: 0.95, images: 1000, certified: false,
                                           looks: [Certification.Look(stage: "basis", round: 2, parameters: 1_234_567, drop: 0.4, dropUpperBound: 1.31,
                                                                      worse: 6, better: 2, certified: false)])
        certification.budget = 1
        let line = certification.summary
        #expect(line.contains("basis round 2") && line.contains("1.31 pt") && line.contains("1 pt budget") && line.contains("1000 certification images"))
        #expect(!line.contains("0.54"))
        #expect(line.contains("at 95 % confidence"))
        // A look of the filter sequence (--fallback-alpha) states its own confidence.
        certification.looks[0].confidence = 0.99
        #expect(certification.summary.contains("1.31 pt, over the 1 pt budget, at 99 % confidence"), "\(certification.summary)")
        certification.looks = []
        #expect(certification.summary.contains("accepted no pruned candidate"))
    }
}
