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
/// score interval for paired proportions). Only the candidates `worthALook` picks are checked.
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

        enum CodingKeys: String, CodingKey {
            case stage, round, parameters, drop, certified
            case dropUpperBound = "drop_upper_bound"
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
    public var procedure = "fixed-sequence, least pruned first, over the candidates no smaller one beats on validation; one-sided Tango score bound on the paired drop"

    enum CodingKeys: String, CodingKey {
        case drop, confidence, images, certified, looks, procedure
        case dropUpperBound = "drop_upper_bound"
    }

    /// Which candidates (indices, in their order) are worth a look: those smaller than the input
    /// that no other candidate beats on the validation images, that is, none is as small or
    /// smaller with as low or lower a predicted bound (of two equal ones, the later). A look
    /// that cannot gain compression can only end the fixed sequence early. The choice uses
    /// validation images alone, so the order is fixed before any certification image is seen.
    public static func worthALook(parameters: [Int], predictedBounds: [Double], inputParameters: Int) -> [Int] {
        parameters.indices.filter { i in
            parameters[i] < inputParameters && !parameters.indices.contains { j in
                j != i && parameters[j] <= parameters[i] && predictedBounds[j] <= predictedBounds[i]
                    && (parameters[j] < parameters[i] || predictedBounds[j] < predictedBounds[i] || j > i)
            }
        }
    }

    /// One line for people.
    public var summary: String {
        let statement = String(format: "accuracy drop <= %.2f pt with %g %% confidence on %d certification images (observed %.2f pt)",
                               dropUpperBound, 100 * confidence, images, drop)
        return certified ? statement : "NOT certified: the least pruned candidate's bound is over the budget (\(statement))"
    }
}
