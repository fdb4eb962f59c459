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
        /// With the filter candidates in a sequence of their own (`--fallback-alpha`): the
        /// confidence of this look's sequence.
        public var confidence: Double?

        public init(stage: String, round: Int, parameters: Int, drop: Double, dropUpperBound: Double, worse: Int, better: Int, certified: Bool) {
            (self.stage, self.round, self.parameters, self.drop, self.dropUpperBound) = (stage, round, parameters, drop, dropUpperBound)
            (self.worse, self.better, self.certified) = (worse, better, certified)
        }

        enum CodingKeys: String, CodingKey {
            case stage, round, parameters, drop, worse, better, certified, confidence
            case dropUpperBound = "drop_upper_bound"
        }
    }

    /// What the certification images could certify at best, checked before any training: the
    /// bound of a candidate that changes no answer, and how many images the budget needs.
    public struct Power: Sendable, Codable, Equatable {
        /// The smallest bound these images can give, in points.
        public var smallestBound: Double
        /// Whether that is within the budget (if not, the job stops before any training).
        public var sufficient: Bool
        /// The fewest certification images whose smallest bound is within the budget, under
        /// this certification's bound, and under the agreement bound (unlabeled images do).
        public var imagesNeeded: Int
        public var agreementImagesNeeded: Int

        public init(smallestBound: Double, sufficient: Bool, imagesNeeded: Int, agreementImagesNeeded: Int) {
            self.smallestBound = smallestBound
            self.sufficient = sufficient
            self.imagesNeeded = imagesNeeded
            self.agreementImagesNeeded = agreementImagesNeeded
        }

        /// The check for `images` images, `mode`'s bound, `budget` in points.
        public init(images: Int, mode: CertifyMode, budget: Double, confidence: Double) {
            let smallest = 100 * mode.smallestBound(images: images, confidence: confidence)
            self.init(smallestBound: smallest, sufficient: smallest <= budget,
                      imagesNeeded: mode.imagesNeeded(budget: budget / 100, confidence: confidence),
                      agreementImagesNeeded: CertifyMode.agreement.imagesNeeded(budget: budget / 100, confidence: confidence))
        }

        enum CodingKeys: String, CodingKey {
            case sufficient
            case smallestBound = "smallest_bound", imagesNeeded = "images_needed", agreementImagesNeeded = "agreement_images_needed"
        }
    }

    /// The result's bound, in points (the searches' last candidate's when nothing certified, the
    /// input model's when there is none; with `--certify off` the upper end of the estimate's
    /// interval).
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
    public var procedure = "fixed-sequence, least pruned first, each look smaller than the one before, checked as the searches accept candidates (they stop at the first failed look once one has passed); with double, a filter candidate is looked at only if its predicted bound is within half the budget, and the filter stage's last only if the basis stage accepts none"
    /// `labels`, `agreement` or `off` (`CertifyMode`), the bound's name, and the budget in points.
    public var mode = CertifyMode.labels.rawValue
    public var bound = CertifyMode.labels.boundName
    public var budget: Double?
    public var power: Power?
    /// With `--certify off`: the estimate's two-sided interval at `confidence`, in points, and
    /// which images it was measured on.
    public var interval: [Double]?
    public var estimatedOn: String?

    public init(dropUpperBound: Double, drop: Double, worse: Int, better: Int, confidence: Double, images: Int, certified: Bool, looks: [Look]) {
        (self.dropUpperBound, self.drop, self.worse, self.better) = (dropUpperBound, drop, worse, better)
        (self.confidence, self.images, self.certified, self.looks) = (confidence, images, certified, looks)
    }

    enum CodingKeys: String, CodingKey {
        case drop, worse, better, confidence, images, certified, looks, procedure, mode, bound, budget, power, interval
        case dropUpperBound = "drop_upper_bound", estimatedOn = "estimated_on"
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

    /// One line for people, which states the bound, the budget, the images and, when nothing
    /// certified, why.
    public var summary: String {
        let budgetText = budget.map { String(format: "%g pt", $0) } ?? "the budget"
        let percent = String(format: "%g %%", 100 * confidence)
        if mode == CertifyMode.off.rawValue {
            let range = interval.map { String(format: ", %@ interval %.2f to %.2f pt", percent, $0[0], $0[1]) } ?? ""
            return String(format: "NOT certified (--certify off): estimated accuracy drop %.2f pt on %d %@%@ (budget %@)",
                          drop, images, estimatedOn ?? "images", range, budgetText)
        }
        let agreement = mode == CertifyMode.agreement.rawValue
        let noun = agreement ? "certification images without labels" : "certification images"
        if let power, !power.sufficient {
            return String(format: "NOT certifiable: %d %@ can certify an accuracy drop of %.2f pt at best (a model that changes no answer, %@ confidence), over the %@ budget; %@ needs at least %d certification images",
                          images, noun, power.smallestBound, percent, budgetText, budgetText, power.imagesNeeded)
                + (agreement ? "" : " (labelled), or \(power.agreementImagesNeeded) without labels under --certify agreement")
        }
        let counts = agreement ? String(format: "answers differ from the input model's on %d of %d", worse, images) : String(format: "observed %.2f pt", drop)
        if certified {
            return String(format: "accuracy drop <= %.2f pt (budget %@) with %@ confidence on %d %@ (%@)",
                          dropUpperBound, budgetText, percent, images, noun, counts)
        }
        if let failed = looks.first(where: { !$0.certified }) {
            let failedCounts = agreement ? String(format: "answers differ on %d of %d", failed.worse, images) : String(format: "observed %.2f pt", failed.drop)
            return String(format: "NOT certified: the least pruned candidate looked at, %@ round %d (%d parameters), has bound %.2f pt, over the %@ budget, at %@ confidence on %d %@ (%@)",
                          failed.stage, failed.round, failed.parameters, failed.dropUpperBound, budgetText,
                          failed.confidence.map { String(format: "%g %%", 100 * $0) } ?? percent, images, noun, failedCounts)
        }
        return "NOT certified: the searches accepted no pruned candidate within the \(budgetText) budget on the validation images, so none was looked at on the \(images) \(noun)"
    }
}
