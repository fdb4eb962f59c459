import Foundation

/// The statement the main job makes about its output: an upper confidence bound on the
/// accuracy drop against the input model, measured image by image on certification images no
/// search decision saw.
///
/// The searches leave an ordered list of candidates (each accepted round, least pruned first;
/// for `double`, the filter stage's and then the basis stage's). They are checked in that fixed
/// order, each at the full confidence, and the last one before the first that fails is the
/// result (the fixed-sequence procedure: a false claim needs the first candidate over the
/// budget to pass its own test, which happens with probability at most 1 - confidence, so the
/// several looks need no Bonferroni share). The bound is `PairedDrop.upperBound` (Tango's
/// score interval for paired proportions). Only the candidates `sequence` picks, from what the
/// validation images showed of them, are checked.
public struct Certification: Sendable, Codable, Equatable {
    /// One candidate checked.
    public struct Look: Sendable, Codable, Equatable {
        /// "filter" or "basis", and the search round that produced it.
        public var stage: String
        public var round: Int
        /// Conv/Gemm/MatMul weights and biases of the candidate once exported.
        public var parameters: Int
        /// The paired drop on the certification images and its upper bound, in points.
        public var drop: Double
        public var dropUpperBound: Double
        public var certified: Bool
        /// The bound its search predicted from the validation images, in points (what chose the look).
        public var predictedBound: Double?

        enum CodingKeys: String, CodingKey {
            case stage, round, parameters, drop, certified
            case dropUpperBound = "drop_upper_bound"
            case predictedBound = "predicted_bound"
        }
    }

    /// The result's bound, in points (the input model's bound when nothing certified).
    public var dropUpperBound: Double
    /// The result's observed paired drop on the certification images, in points.
    public var drop: Double
    public var confidence: Double
    public var images: Int
    /// Whether some pruned candidate is within the budget.
    public var certified: Bool
    public var looks: [Look]
    public var procedure = "fixed-sequence, least pruned first, looks chosen on the validation images for the most parameters removed in expectation; one-sided Tango score bound on the paired drop"

    enum CodingKeys: String, CodingKey {
        case drop, confidence, images, certified, looks, procedure
        case dropUpperBound = "drop_upper_bound"
    }

    /// Which candidates (indices, in their order) are worth a look: each must be smaller than
    /// the input and than the one looked at before it. A basis round whose removals all fall in
    /// layers that stay re-merged writes a model no smaller, and a look at it could only end the
    /// fixed sequence early. (Skipping also candidates that a later, smaller one beats on the
    /// validation images was tried and dropped: a lucky late candidate then removed every safe
    /// early look, and a full run certified nothing.)
    public static func worthALook(parameters: [Int], inputParameters: Int) -> [Int] {
        var smallest = inputParameters
        return parameters.indices.filter { i in
            guard parameters[i] < smallest else { return false }
            smallest = parameters[i]
            return true
        }
    }

    /// What the searches saw of a candidate on the validation images, all fractions: its
    /// paired drop and the certified bound they predicted for it (`BudgetRule.judge`; nil for a
    /// candidate no search judged, such as a fixed `--prune-ratio`'s).
    public struct Seen: Sendable, Equatable {
        public var parameters: Int
        public var drop: Double
        public var predictedBound: Double?

        public init(parameters: Int, drop: Double, predictedBound: Double?) {
            self.parameters = parameters
            self.drop = drop
            self.predictedBound = predictedBound
        }
    }

    /// The chance, judged from the validation images alone, that a candidate's certified bound
    /// comes out within `budget`: its bound on the certification images is about the predicted
    /// one moved by the difference of two independent paired drops, whose spread follows from
    /// the discordance (`predictedBound - drop = z sqrt(p / m)` for `m` certification images,
    /// so the difference has the standard deviation `(predictedBound - drop) / z * sqrt(1 + m / n)`
    /// for `n` validation images).
    public static func passChance(_ seen: Seen, budget: Double, confidence: Double, validationImages: Int, certificationImages: Int) -> Double {
        guard let bound = seen.predictedBound else { return 1 }
        let z = PairedDrop.normalQuantile(confidence)
        let spread = max(bound - seen.drop, 1e-9) / z * (1 + Double(certificationImages) / Double(max(validationImages, 1))).squareRoot()
        return 0.5 * erfc(-(budget - bound) / spread / 2.0.squareRoot())
    }

    /// The fixed sequence of looks, chosen from the validation images alone before any
    /// certification image is read (so fixed-sequence testing stays valid): indices of `seen`,
    /// least pruned first. The first candidate is always looked at; after it, the sequence is
    /// the one with the most parameters removed in expectation, each look passing with its
    /// `passChance` (taken as independent, and as certain from `free` up: nested candidates
    /// pass or fail together more often than independent ones, and a likely look kept as a step
    /// is what the run falls back on when a later one fails). Each look is smaller than the one before
    /// and than the input. Why: one failed look ends the sequence, and retraining moves a basis
    /// round's validation accuracy by a few tenths of a point from round to round, so a look at
    /// a round that only just passed on validation often ended the run below a later round that
    /// passed there by a wide margin (full default run: basis round 4, predicted 0.56, failed
    /// at 1.04; rounds after it predicted 0.45).
    public static func sequence(_ seen: [Seen], inputParameters: Int, budget: Double, confidence: Double,
                                validationImages: Int, certificationImages: Int, free: Double = 0.75) -> [Int] {
        let candidates = worthALook(parameters: seen.map(\.parameters), inputParameters: inputParameters)
        guard let first = candidates.first else { return [] }
        let chance = seen.map { c -> Double in
            let p = passChance(c, budget: budget, confidence: confidence, validationImages: validationImages, certificationImages: certificationImages)
            return p >= free ? 1 : p
        }
        // value[i]: expected parameters removed beyond candidate i once it has passed; next[i]: the look after it.
        var value = [Double](repeating: 0, count: seen.count)
        var next = [Int?](repeating: nil, count: seen.count)
        for i in seen.indices.reversed() {
            for j in (i + 1)..<seen.count where seen[j].parameters < seen[i].parameters {
                let v = chance[j] * (Double(seen[i].parameters - seen[j].parameters) + value[j])
                if v > value[i] * (1 + 1e-12) {
                    value[i] = v
                    next[i] = j
                }
            }
        }
        var order = [first]
        while let j = next[order.last!] { order.append(j) }
        return order
    }

    /// One line for people.
    public var summary: String {
        let statement = String(format: "accuracy drop <= %.2f pt with %g %% confidence on %d certification images (observed %.2f pt)",
                               dropUpperBound, 100 * confidence, images, drop)
        return certified ? statement : "NOT certified: the least pruned candidate's bound is over the budget (\(statement))"
    }
}
