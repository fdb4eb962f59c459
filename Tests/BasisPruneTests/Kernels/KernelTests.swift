import BasisPrune
import Testing

/// Kernel tests: each kernel against the naive Double oracles in `TestSupport.Reference`, on
/// seeded random problem grids, forward and backward. Extended per kernel family in
/// `KernelTests+*.swift`.
@Suite struct KernelTests {}

/// Largest `|got - want| / max(|want|, 1)`: relative error with an absolute floor at unit scale.
func maxRelativeError(_ got: [Float], _ want: [Double]) -> Double {
    precondition(got.count == want.count, "size mismatch \(got.count) vs \(want.count)")
    var worst = 0.0
    for (a, b) in zip(got, want) { worst = max(worst, abs(Double(a) - b) / max(abs(b), 1)) }
    return worst
}
