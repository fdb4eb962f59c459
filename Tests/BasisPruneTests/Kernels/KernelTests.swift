import BasisPrune
import Testing

/// Kernel tests: each kernel against the naive Double oracles in `TestSupport.Reference`, on
/// seeded random problem grids, forward and backward. Extended per kernel family in
/// `KernelTests+*.swift`.
@Suite struct KernelTests {}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator so every grid is reproducible.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1)`.
    mutating func nextFloat() -> Float {
        Float(next() >> 40) / Float(1 << 23) - 1
    }

    mutating func floats(_ count: Int) -> [Float] {
        (0..<count).map { _ in nextFloat() }
    }

    mutating func int(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Largest `|got - want| / max(|want|, 1)`: relative error with an absolute floor at unit scale.
func maxRelativeError(_ got: [Float], _ want: [Double]) -> Double {
    precondition(got.count == want.count, "size mismatch \(got.count) vs \(want.count)")
    var worst = 0.0
    for (a, b) in zip(got, want) { worst = max(worst, abs(Double(a) - b) / max(abs(b), 1)) }
    return worst
}
