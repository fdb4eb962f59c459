/// The round loop of both searches (`FilterSearch`, `BasisSearch`): each round removes a
/// fraction of what remains (never past a fixed target), the search tries the candidate, and
/// keeps it if accepted or halves the fraction if not. The loop ends when a round would remove
/// nothing, when the fraction falls below `minimumFraction` (searches without a fixed target),
/// after `maximumRounds` rounds (the same), or when the search says so after an accepted round.
struct RoundLoop {
    /// What trying a candidate came to.
    enum Outcome {
        /// Kept; `goOn` false ends the search there.
        case accepted(goOn: Bool)
        case rejected
    }

    var fraction: Double
    let minimumFraction: Double
    /// A fixed target (`--prune-ratio`): rounds go on however small the fraction gets.
    let fixedTarget: Bool
    /// Candidates that failed since the last accepted one are not tried again: a smaller
    /// fraction can round (to the channel multiple) to the same removal, and trying it again
    /// would only draw another retrain and another look at the same validation images until
    /// one flatters it, so the fraction is halved again instead (the basis search retrains;
    /// the filter search's candidates are deterministic and it tries them as they come).
    let skipRepeatedFailures: Bool
    /// The most rounds tried (nil: no limit; ignored with a fixed target).
    let maximumRounds: Int?
    /// The last round tried (1 for the first).
    private(set) var round = 0
    /// Whether the loop ended at `maximumRounds`.
    private(set) var stoppedAtLimit = false

    init(options: PruningOptions, skipRepeatedFailures: Bool, maximumRounds: Int? = nil) {
        self.maximumRounds = maximumRounds
        fraction = options.steps.roundFraction
        minimumFraction = options.minimumRoundFraction
        fixedTarget = options.pruneRatio != nil
        self.skipRepeatedFailures = skipRepeatedFailures
    }

    /// Runs rounds: `alive` is how much remains, `limit(alive)` the most a round may remove (a
    /// fixed target's remainder; nil without one), `propose(count)` the candidate removing
    /// about `count` more (nil when it removes nothing), and `attempt(candidate, round)` tries
    /// it and records the round; `key` tells failed candidates apart.
    mutating func run<Candidate, Key: Equatable>(alive: () -> Int, limit: (Int) -> Int?, propose: (Int) throws(EngineError) -> Candidate?,
                                                 key: (Candidate) -> Key, attempt: (Candidate, Int) throws(EngineError) -> Outcome) throws(EngineError) {
        var failed: [Key] = []
        while true {
            let remaining = alive()
            var count = Int((Double(remaining) * fraction).rounded(.up))
            if let most = limit(remaining) { count = min(count, most) }
            if count < 1 || (!fixedTarget && fraction < minimumFraction) { return }
            guard let candidate = try propose(count) else { return }
            if skipRepeatedFailures && failed.contains(key(candidate)) {
                fraction /= 2
                continue
            }
            if !fixedTarget, let most = maximumRounds, round >= most {
                stoppedAtLimit = true
                return
            }
            round += 1
            switch try attempt(candidate, round) {
            case .accepted(let goOn):
                failed = []
                if !goOn { return }
            case .rejected:
                if skipRepeatedFailures { failed.append(key(candidate)) }
                fraction /= 2
            }
        }
    }
}
