/// How the searches decide, image by image, whether a candidate stays within the accuracy
/// budget: its paired drop against the input model on the validation images, plus the slack a
/// certification on `certificationImages` other images would add (the one-sided bound at
/// `confidence` minus the drop, predicted from the validation images' discordance). The
/// search thus stops about where certification can still follow it, and the margin is derived
/// from the data instead of guessed.
public struct BudgetRule: Sendable {
    /// Largest allowed drop, as a fraction.
    public var maxDrop: Double
    public var confidence: Double
    /// Images the result will be certified on.
    public var certificationImages: Int
    /// Fraction of the usable drop (the budget minus the slack) this stage may spend.
    public var share: Double
    /// The input model's per-image correctness on the validation images (under `agreement`,
    /// against its own answers: all true).
    public var reference: [Bool]
    /// The bound certification will use (`CertifyMode.upperBound`); under `off` there is no
    /// slack, and the drop on the validation images itself must be within the budget.
    public var mode: CertifyMode

    public init(maxDrop: Double, confidence: Double, certificationImages: Int, share: Double = 1, reference: [Bool], mode: CertifyMode = .labels) {
        self.mode = mode
        self.maxDrop = maxDrop
        self.confidence = confidence
        self.certificationImages = certificationImages
        self.share = share
        self.reference = reference
    }

    /// The rule of a search under `options` (budget and confidence), certifying on
    /// `certificationImages` (nil: as many as the reference images).
    public init(options: PruningOptions, certificationImages: Int?, share: Double = 1, reference: [Bool]) {
        self.init(maxDrop: options.maxAccuracyDrop / 100, confidence: options.confidence,
                  certificationImages: certificationImages ?? reference.count, share: share, reference: reference,
                  mode: options.certify == .auto ? .labels : options.certify)
    }

    /// The input model's accuracy on the reference images.
    public var referenceAccuracy: Double { Double(reference.filter { $0 }.count) / Double(max(reference.count, 1)) }

    /// The paired drop on the validation images, the predicted certified bound, and whether the
    /// drop is within `share` of the budget minus the slack.
    public func judge(_ candidate: [Bool]) -> (drop: PairedDrop, predictedBound: Double, accepted: Bool) {
        let paired = PairedDrop(reference: reference, candidate: candidate)
        let scale = Double(certificationImages) / Double(max(paired.images, 1))
        let bound = mode == .off ? paired.drop
            : mode.upperBound(worse: Double(paired.worse) * scale, better: Double(paired.better) * scale,
                              images: Double(certificationImages), confidence: confidence)
        let usable = maxDrop - (bound - paired.drop)
        return (paired, bound, paired.drop <= share * usable)
    }
}
