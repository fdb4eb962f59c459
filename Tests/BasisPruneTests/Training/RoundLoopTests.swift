@testable import BasisPrune
import Testing

/// The round loop both searches run: its stops, and the cost bound of `--basis-rounds`.
@Suite struct RoundLoopTests {
    /// Runs a loop over 1,000 units where rounds listed in `rejected` fail; returns the counts
    /// the rounds removed (negative: rejected) and the loop.
    func run(_ options: PruningOptions, maximumRounds: Int?, rejected: Set<Int> = []) throws -> ([Int], RoundLoop) {
        var loop = RoundLoop(options: options, skipRepeatedFailures: false, maximumRounds: maximumRounds)
        var alive = 1000, tried: [Int] = []
        try loop.run(alive: { alive }, limit: { _ in nil }, propose: { $0 }, key: { $0 }, attempt: { count, round in
            if rejected.contains(round) {
                tried.append(-count)
                return .rejected
            }
            tried.append(count)
            alive -= count
            return .accepted(goOn: true)
        })
        return (tried, loop)
    }

    /// Without a limit the loop goes on until a halved fraction falls below the minimum; with
    /// one it tries exactly that many rounds (accepted or not) and says it stopped there.
    @Test func roundLimitBoundsTheRoundsTried() throws {
        var options = PruningOptions()
        options.roundFraction = 0.1
        options.minimumRoundFraction = 0.05
        let (free, unlimited) = try run(options, maximumRounds: nil, rejected: [3, 9])
        // 10 % of 1,000, of 900, then a rejection halves it to 5 %, ... until a second rejection
        // at 5 % halves it below the minimum.
        #expect(free == [100, 90, -81, 41, 39, 37, 35, 33, -32])
        #expect(!unlimited.stoppedAtLimit && unlimited.round == 9)
        let (limited, loop) = try run(options, maximumRounds: 4, rejected: [3, 9])
        #expect(limited == Array(free.prefix(4)) && loop.stoppedAtLimit && loop.round == 4)
        // A loop that ends by itself before the limit does not claim it.
        let (_, roomy) = try run(options, maximumRounds: 9, rejected: [3, 9])
        #expect(!roomy.stoppedAtLimit)
    }

    /// A fixed target (`--prune-ratio`) is reached however many rounds it takes.
    @Test func fixedTargetIgnoresTheLimit() throws {
        var options = PruningOptions()
        options.pruneRatio = 0.5
        options.roundFraction = 0.1
        let (tried, loop) = try run(options, maximumRounds: 2)
        #expect(tried.count > 2 && !loop.stoppedAtLimit)
    }

    /// The passes the job sizes for a model's cost: the 32x32 Lite0 (7.8 M MACs) keeps 10,000
    /// images per round and an epoch over all 60,000 training images; at 224x224 (385 M) a round
    /// retrains on about 1,000 and the epoch runs over half as many again.
    @Test func passesAreSizedByWork() {
        var options = PruningOptions()
        options.retrainWork = 400_000_000_000
        let small = options.sizingPasses(macsPerImage: 7_847_648, trainImages: 60_000)
        #expect(small.retrainImages == 10_000 && small.epochImages! >= 60_000)
        let native = options.sizingPasses(macsPerImage: 385_000_000, trainImages: 5_000)
        #expect(native.retrainImages == 1_038 && native.epochImages == 1_558)
        // A fixed --retrain-images (no work budget): the epoch runs over every image.
        options.retrainWork = nil
        let fixed = options.sizingPasses(macsPerImage: 385_000_000, trainImages: 5_000)
        #expect(fixed.retrainImages == 5_000 && fixed.epochImages == nil)
    }

    /// Unset, the steps follow the certification mode: rounds of 10 % with labels (and with
    /// `auto` before the job resolves it), 5 % by agreement; a fraction set is kept.
    @Test func stepsFollowTheCertificationMode() throws {
        var options = PruningOptions()
        let first = { (options: PruningOptions) throws -> Int in try self.run(options, maximumRounds: 1).0[0] }
        #expect(try first(options) == 100)
        options.certify = .labels
        #expect(try first(options) == 100 && options.steps == .labels)
        options.certify = .agreement
        #expect(try first(options) == 50 && options.steps.filterShare == 0.5)
        options.roundFraction = 0.2
        options.filterShare = 3
        #expect(try first(options) == 200 && options.steps == PruningOptions.Steps(filterShare: 3, roundFraction: 0.2))
    }
}
