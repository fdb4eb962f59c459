import Foundation

/// The certification of `Certification` as the searches go: a search offers each candidate it
/// accepts, the sequence looks at it (or holds it, see below) and says whether the searches
/// should go on. Its state is the looks made, the last candidate that passed, and whether the
/// fixed sequence has ended.
///
/// Each candidate worth a look (`Certification.worthALook`) is checked when it is accepted;
/// once one fails after another has passed, the fixed sequence is over and the searches stop,
/// since no later candidate could be the result. The candidates and looks are the same as
/// checking them all after the searches. With a fixed `--prune-ratio` (`asYouGo` false) only
/// the result is checked, by `finish`.
///
/// With `double`, the filter stage's candidates are stepping stones: the basis stage starts from
/// the last, and its first candidate is that model with its scaling factors trained (which wins
/// back much of what the filter stage lost) and a few bases fewer. An untrained stepping stone
/// whose look fails would end the sequence before the trained models built on it are checked,
/// so a filter candidate is looked at only as a fallback that will likely pass: when the next
/// one is accepted (one behind: never the last, unless the basis stage accepts nothing), and
/// only if the bound its search predicted is within `safeFilterShare` of the budget. Which
/// candidates are looked at depends on the searches alone, never on a look's outcome.
///
/// With `PruningOptions.lookRetries` K above 0, a sequence survives K failed looks: it ends at
/// its K+1-th, and its result is its last passed candidate. Each look is then tested at 1/(K+1)
/// of the sequence's miss probability: for the result to be a candidate over the budget, one of
/// the first K+1 candidates over the budget that the sequence looks at must pass its test, so
/// Bonferroni over those K+1 keeps the sequence's share, whatever the order of the candidates.
///
/// With `double` and `PruningOptions.fallbackAlphaShare` above 0, the filter candidates form a
/// fixed sequence of their own, tested at that share of `1 - confidence`, and the basis
/// candidates one at the rest (Bonferroni over the two sequences: a false claim in either has
/// probability at most its share). A failed filter look then ends only the filter sequence:
/// the filter search goes on, and the basis candidates built on it are still checked. The
/// result is the basis sequence's last passed candidate, or the filter sequence's if the basis
/// sequence passed none.
final class CertificationSequence {
    typealias Checked = (built: PruneJob.Built, drop: PairedDrop)

    /// With `double`: the share of the budget a filter candidate's predicted bound may reach
    /// for it to be looked at before the basis stage.
    static let safeFilterShare = 0.5

    /// One fixed sequence: its confidence, its last passed candidate, its failed looks, whether
    /// it has ended.
    struct Track {
        var confidence: Double
        var chosen: Checked?
        var failures = 0
        var ended = false
        var lookedAtParameters: Int
    }

    let options: PruningOptions
    let asYouGo: Bool
    /// Builds a candidate and measures its paired drop on the certification images.
    let check: (PruneJob.Candidate) throws -> Checked
    private(set) var looks: [Certification.Look] = []
    /// The basis (or only) sequence, and with a split the filter sequence.
    private var tracks: [Track]
    /// With `double`: the filter candidate held back until the next one is accepted.
    var pendingFilter: PruneJob.Candidate?
    /// An error a look met inside a search's hook, which the job rethrows after the search.
    private(set) var error: (any Error)?

    /// Images each candidate is checked on.
    let certificationImages: Int

    init(options: PruningOptions, inputParameters: Int, certificationImages: Int, check: @escaping (PruneJob.Candidate) throws -> Checked) {
        self.options = options
        self.certificationImages = certificationImages
        self.asYouGo = options.pruneRatio == nil && options.certify != .off
        self.check = check
        tracks = Self.confidences(options).map { Track(confidence: $0, lookedAtParameters: inputParameters) }
    }

    /// The confidence each look of the basis (or only) sequence is tested at, and with a split
    /// that of the filter sequence: the sequence's share of `1 - confidence`, divided among the
    /// `lookRetries + 1` failures it may meet.
    static func confidences(_ options: PruningOptions) -> [Double] {
        let miss = (1 - options.confidence) / Double((options.lookRetries ?? 0) + 1), share = options.fallbackAlphaShare
        guard options.method == .double && share > 0 && options.certify != .off else { return [1 - miss] }
        return [1 - miss * (1 - share), 1 - miss * share]
    }

    /// Whether the filter candidates form a sequence of their own.
    var split: Bool { tracks.count > 1 }

    private func track(_ stage: String) -> Int { split && stage == "filter" ? 1 : 0 }

    /// The confidence `stage`'s candidates are checked at (what its search predicts).
    func confidence(_ stage: String) -> Double { tracks[track(stage)].confidence }

    /// The result: the basis (or only) sequence's last passed candidate, else the filter
    /// sequence's, with the confidence it passed at.
    var chosen: Checked? { tracks.lazy.compactMap(\.chosen).first }
    var chosenConfidence: Double { tracks.first { $0.chosen != nil }?.confidence ?? tracks[0].confidence }

    /// Whether a later candidate could still be the result. While nothing has certified the
    /// searches go on, so that --force writes the most pruned candidate.
    var resultOpen: Bool { !(tracks[0].ended && tracks[0].chosen != nil) }

    /// The searches' `accepted` hook: looks at `candidate` (or at the pending filter candidate,
    /// see above), and says whether to go on.
    func offer(_ candidate: PruneJob.Candidate) -> Bool {
        guard asYouGo else { return true }
        do {
            if options.method == .double && candidate.stage == "filter" {
                if let pending = pendingFilter, pending.predictedBound ?? 0 <= filterLookLimit { try look(pending) }
                pendingFilter = candidate
            } else {
                pendingFilter = nil
                try look(candidate)
            }
        } catch {
            self.error = error
            return false
        }
        return resultOpen
    }

    /// The predicted bound (points) up to which a filter candidate is looked at before the basis
    /// stage: `safeFilterShare` of the budget; or, where the certification images cannot
    /// certify even that (the bound of a candidate that changes no answer, at the filter
    /// sequence's confidence, is above it: a 0.5-point budget on 1,500 images by agreement,
    /// whose smallest bound at 99 % is 0.31), halfway from that smallest bound to the budget.
    var filterLookLimit: Double {
        let half = Self.safeFilterShare * options.maxAccuracyDrop
        let smallest = 100 * options.certify.smallestBound(images: max(certificationImages, 1), confidence: confidence("filter"))
        return smallest <= half ? half : (smallest + options.maxAccuracyDrop) / 2
    }

    /// Rethrows what a look met inside a search's hook.
    func rethrow() throws {
        if let error { throw error }
    }

    /// After the searches: the filter stage's last candidate if the basis stage accepted none
    /// (or did not run), and with a fixed --prune-ratio the searches' result.
    func finish(last: PruneJob.Candidate?) throws {
        if let pending = pendingFilter { try look(pending) }
        if !asYouGo, options.certify != .off, let last { try look(last) }
    }

    /// Checks `candidate` if it is worth a look (`Certification.worthALook`: smaller than the
    /// input and than the last one checked) and the sequence is still open.
    private func look(_ candidate: PruneJob.Candidate) throws {
        let t = track(candidate.stage)
        guard !tracks[t].ended, Certification.worthALook(candidate.parameters, after: tracks[t].lookedAtParameters) else { return }
        tracks[t].lookedAtParameters = candidate.parameters
        let checked = try check(candidate)
        let paired = checked.drop
        let bound = options.certify.upperBound(worse: Double(paired.worse), better: Double(paired.better),
                                               images: Double(paired.images), confidence: tracks[t].confidence)
        let ok = bound <= options.maxAccuracyDrop / 100
        // The search's count, before export fuses linear pairs (`FuseLinearConvs`), decides
        // what is worth a look; the look records what the exported candidate has.
        let exported = (try? GraphSummary(model: checked.built.model))?.layerParameters ?? candidate.parameters
        var look = Certification.Look(stage: candidate.stage, round: candidate.round, parameters: exported,
                                      drop: 100 * paired.drop, dropUpperBound: 100 * bound, worse: paired.worse, better: paired.better,
                                      certified: ok)
        if split { look.confidence = tracks[t].confidence }
        looks.append(look)
        if ok {
            tracks[t].chosen = checked
        } else {
            tracks[t].failures += 1
            tracks[t].ended = tracks[t].failures > options.lookRetries ?? 0
        }
    }
}
