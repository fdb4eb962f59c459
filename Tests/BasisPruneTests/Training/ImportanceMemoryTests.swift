import BasisPrune
import Testing

/// `--importance-memory`: the basis search ranks by an exponential average of each round's
/// Taylor importance over the accepted rounds.
@Suite struct ImportanceMemoryTests {
    /// A basis that one noisy pass measures low but the pass before measured high is kept, and
    /// the one low in both goes; without memory the last pass alone decides. Removed bases stay
    /// at 0, and a layer the previous ranking does not have takes the new measurement.
    @Test func averagedRankingKeepsABasisOneNoisyPassMeasuredLow() {
        let previous: [String: [Double]] = ["a": [1, 10, 5, 0]]
        let measured: [String: [Double]] = ["a": [6, 2, 5, 0], "b": [3, 4]]
        let averaged = BasisSearch.blend(previous, measured, memory: 0.5)
        #expect(averaged["a"] == [3.5, 6, 5, 0])
        #expect(averaged["b"] == [3, 4])
        #expect(BasisSearch.blend(previous, measured, memory: 0) == measured)

        // Which basis of layer "a" the next round removes first.
        func lowest(_ scores: [Double]) -> Int { scores.indices.filter { $0 != 3 }.min { scores[$0] < scores[$1] }! }
        #expect(lowest(measured["a"]!) == 1)
        #expect(lowest(averaged["a"]!) == 0)
    }
}
