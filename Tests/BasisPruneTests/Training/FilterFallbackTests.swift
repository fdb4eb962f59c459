@testable import BasisPrune
import Testing

/// The filter rounds the basis stage starts over from when it can remove nothing from the
/// filter stage's result (`PruneJob.fallbackRounds`). The predicted bounds are those of real
/// reduced calibration runs (`bench/calibration.py`, 0.17.0), where the basis stage accepted no
/// round and the job wrote the 26 % of filter round 2.
@Suite struct FilterFallbackTests {
    func accepted(_ bounds: [(Int, Double)]) -> [PruningRound] {
        bounds.map { PruningRound(round: $0.0, keptBases: 0, layerParameters: 0, validationAccuracy: 0.9, accepted: true, predictedBound: $0.1) }
    }

    @Test func anOverspentResultFallsBackWithinTheBudgetThenWithinHalfOfIt() {
        // Seed 0 at a 2-point budget: the stage overspent to 3.17 pt.
        let rounds = accepted([(1, 0.44), (2, 0.37), (3, 1.14), (4, 2.36), (5, 2.92), (7, 3.17)])
        #expect(PruneJob.fallbackRounds(rounds, budget: 2) == [3, 2])
    }

    @Test func aResultWithinTheBudgetFallsBackWithinHalfOfIt() {
        // Seed 2 at 1 point: the result (0.88) is within the budget, its basis rounds all failed.
        let rounds = accepted([(1, 0.29), (2, 0.29), (3, 0.62), (5, 1.10), (7, 1.10), (8, 0.80), (9, 0.80), (10, 0.99), (11, 0.88)])
        #expect(PruneJob.fallbackRounds(rounds, budget: 1) == [2])
    }

    @Test func oneRoundServesBothLimitsOnce() {
        let rounds = accepted([(1, 0.2), (2, 1.5), (3, 2.5)])
        #expect(PruneJob.fallbackRounds(rounds, budget: 1) == [1])
    }

    @Test func aResultWithinHalfTheBudgetHasNoFallback() {
        #expect(PruneJob.fallbackRounds(accepted([(1, 0.1), (2, 0.3)]), budget: 1).isEmpty)
        #expect(PruneJob.fallbackRounds(accepted([(1, 3.0)]), budget: 1).isEmpty)
        #expect(PruneJob.fallbackRounds([], budget: 1).isEmpty)
    }
}
