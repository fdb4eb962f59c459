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
/// score interval for paired proportions). Only the candidates `worthALook` picks are checked;
/// with `double`, filter candidates only as fallbacks (`PruneJob.run`: within half the budget
/// by their predicted bound, and never the stage's last while the basis stage has one).
/// The main job checks each candidate as soon as its search accepts it, and the searches stop
/// once a look fails after another has passed: the result is then fixed, and the looks are
/// those of checking every candidate after the searches.
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
        /// Certification images the input model gets right and the candidate wrong, and the
        /// reverse: the counts the drop and its bound come from, for a caller's own statistics.
        public var worse: Int
        public var better: Int
        public var certified: Bool

        enum CodingKeys: String, CodingKey {
            case stage, round, parameters, drop, worse, better, certified
            case dropUpperBound = "drop_upper_bound"
        }
    }

    /// The result's bound, in points (the input model's bound when nothing certified).
    public var dropUpperBound: Double
    /// The result's observed paired drop on the certification images, in points, and its
    /// counts (`Look.worse`, `Look.better`).
    public var drop: Double
    public var worse: Int
    public var better: Int
    public var confidence: Double
    public var images: Int
    /// Whether some pruned candidate is within the budget.
    public var certified: Bool
    public var looks: [Look]
    public var procedure = "fixed-sequence, least pruned first, each look smaller than the one before, checked as the searches accept candidates (they stop at the first failed look once one has passed); with double, a filter candidate is looked at only if its predicted bound is within half the budget, and the filter stage's last only if the basis stage accepts none; one-sided Tango score bound on the paired drop"

    enum CodingKeys: String, CodingKey {
        case drop, worse, better, confidence, images, certified, looks, procedure
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
            guard worthALook(parameters[i], after: smallest) else { return false }
            smallest = parameters[i]
            return true
        }
    }

    /// `worthALook` for one candidate, given the parameters of the last one looked at (or of
    /// the input): the main job checks candidates as the searches accept them.
    public static func worthALook(_ parameters: Int, after previous: Int) -> Bool { parameters < previous }

    /// One line for people.
    public var summary: String {
        let statement = String(format: "accuracy drop <= %.2f pt with %g %% confidence on %d certification images (observed %.2f pt)",
                               dropUpperBound, 100 * confidence, images, drop)
        return certified ? statement : "NOT certified: the least pruned candidate's bound is over the budget (\(statement))"
    }
}
