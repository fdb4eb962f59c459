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
final class CertificationSequence {
    typealias Checked = (built: PruneJob.Built, drop: PairedDrop)

    /// With `double`: the share of the budget a filter candidate's predicted bound may reach
    /// for it to be looked at before the basis stage.
    static let safeFilterShare = 0.5

    let options: PruningOptions
    let asYouGo: Bool
    /// Builds a candidate and measures its paired drop on the certification images.
    let check: (PruneJob.Candidate) throws -> Checked
    private(set) var looks: [Certification.Look] = []
    /// The last candidate that passed its look: the result.
    private(set) var chosen: Checked?
    private var ended = false
    private var lookedAtParameters: Int
    /// With `double`: the filter candidate held back until the next one is accepted.
    var pendingFilter: PruneJob.Candidate?
    /// An error a look met inside a search's hook, which the job rethrows after the search.
    private(set) var error: (any Error)?

    init(options: PruningOptions, inputParameters: Int, check: @escaping (PruneJob.Candidate) throws -> Checked) {
        self.options = options
        self.asYouGo = options.pruneRatio == nil && options.certify != .off
        self.lookedAtParameters = inputParameters
        self.check = check
    }

    /// Whether a later candidate could still be the result. While nothing has certified the
    /// searches go on, so that --force writes the most pruned candidate.
    var resultOpen: Bool { !(ended && chosen != nil) }

    /// The searches' `accepted` hook: looks at `candidate` (or at the pending filter candidate,
    /// see above), and says whether to go on.
    func offer(_ candidate: PruneJob.Candidate) -> Bool {
        guard asYouGo else { return true }
        do {
            if options.method == .double && candidate.stage == "filter" {
                if let pending = pendingFilter, pending.predictedBound ?? 0 <= Self.safeFilterShare * options.maxAccuracyDrop { try look(pending) }
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
        guard !ended, Certification.worthALook(candidate.parameters, after: lookedAtParameters) else { return }
        lookedAtParameters = candidate.parameters
        let checked = try check(candidate)
        let paired = checked.drop
        let bound = options.certify.upperBound(worse: Double(paired.worse), better: Double(paired.better),
                                               images: Double(paired.images), confidence: options.confidence)
        let ok = bound <= options.maxAccuracyDrop / 100
        // The search's count, before export fuses linear pairs (`FuseLinearConvs`), decides
        // what is worth a look; the look records what the exported candidate has.
        let exported = (try? GraphSummary(model: checked.built.model))?.layerParameters ?? candidate.parameters
        looks.append(Certification.Look(stage: candidate.stage, round: candidate.round, parameters: exported,
                                        drop: 100 * paired.drop, dropUpperBound: 100 * bound, worse: paired.worse, better: paired.better,
                                        certified: ok))
        if ok { chosen = checked } else { ended = true }
    }
}
