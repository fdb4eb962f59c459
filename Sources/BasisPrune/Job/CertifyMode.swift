import Foundation

/// What the main job states about its output (`--certify`), and the bound it states it with.
public enum CertifyMode: String, Sendable, Codable, CaseIterable {
    /// `labels` when the validation and certification images have labels, `agreement` otherwise.
    case auto
    /// The paired accuracy drop against the input model on labelled images, bounded by Tango's
    /// score interval (`PairedDrop.upperBound`).
    case labels
    /// The rate at which the output's top-1 answer differs from the input model's, bounded by
    /// Clopper-Pearson (`ClopperPearson`): the accuracy drop is at most that rate whatever the
    /// true labels are, so no image needs a label. The searches then decide by agreement too.
    case agreement
    /// No certification: the searches decide on the validation images and their last candidate
    /// is the output, with an estimate of its drop and that estimate's interval.
    case off

    /// `auto` made definite for images that have labels or not.
    public func resolved(labelled: Bool) -> CertifyMode {
        self == .auto ? (labelled ? .labels : .agreement) : self
    }

    /// The bound's name, for people and reports.
    public var boundName: String {
        switch self {
        case .agreement: "one-sided Clopper-Pearson bound on the rate of answers that differ from the input model's (no labels needed)"
        case .off: "none (an estimate with its two-sided interval, Tango's score interval)"
        case .labels, .auto: "one-sided Tango score bound on the paired accuracy drop"
        }
    }

    /// The one-sided upper bound at `confidence` (a fraction) from the counts of images the
    /// candidate gets wrong where the reference is right (`worse`) and the reverse (`better`).
    /// Under `agreement` the reference is the input model's own answers, so `better` is 0 and
    /// `worse` counts the answers that differ. Counts may be fractional (predictions).
    public func upperBound(worse: Double, better: Double, images: Double, confidence: Double) -> Double {
        switch self {
        case .agreement: ClopperPearson.upperBound(failures: worse, trials: images, confidence: confidence)
        case .labels, .auto, .off: PairedDrop.upperBound(worse: worse, better: better, images: images, confidence: confidence)
        }
    }

    /// The smallest bound `images` certification images can give: that of a candidate that
    /// changes no answer at all.
    public func smallestBound(images: Int, confidence: Double) -> Double {
        upperBound(worse: 0, better: 0, images: Double(images), confidence: confidence)
    }

    /// The fewest certification images whose smallest bound is within `budget` (a fraction).
    public func imagesNeeded(budget: Double, confidence: Double) -> Int {
        guard budget > 0 else { return .max }
        if self == .agreement { return ClopperPearson.trialsNeeded(rate: budget, confidence: confidence) }
        // The smallest bound falls with the image count: double, then bisect.
        var high = 1
        while smallestBound(images: high, confidence: confidence) > budget {
            guard high < 1 << 40 else { return .max }
            high *= 2
        }
        var low = high / 2
        while high - low > 1 {
            let mid = (low + high) / 2
            if smallestBound(images: mid, confidence: confidence) > budget { low = mid } else { high = mid }
        }
        return high
    }
}
