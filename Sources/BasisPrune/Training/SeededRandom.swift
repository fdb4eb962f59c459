/// xoshiro256** seeded through SplitMix64: the same seed gives the same numbers on every
/// machine and Swift version (unlike `SystemRandomNumberGenerator` or stdlib shuffles, whose
/// algorithms may change).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator for `seed`; different `stream`s of one seed give unrelated sequences
    /// (e.g. one stream per epoch).
    public init(seed: UInt64, stream: UInt64 = 0) {
        var mix = seed ^ (stream &* 0xD1B5_4A32_D192_ED03)
        func splitMix() -> UInt64 {
            mix &+= 0x9E37_79B9_7F4A_7C15
            var z = mix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    /// A uniform integer in `0 ..< bound` (Lemire's multiply-and-reject, unbiased).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let n = UInt64(bound)
        var product = next().multipliedFullWidth(by: n)
        if product.low < n {
            let threshold = (0 &- n) % n
            while product.low < threshold { product = next().multipliedFullWidth(by: n) }
        }
        return Int(product.high)
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

extension MutableCollection where Self: RandomAccessCollection {
    /// Fisher-Yates shuffle driven by `SeededRandom`, written out so the order never depends
    /// on the standard library's shuffle.
    public mutating func seededShuffle(using random: inout SeededRandom) {
        guard count > 1 else { return }
        var last = index(before: endIndex)
        var remaining = count
        while remaining > 1 {
            let j = index(startIndex, offsetBy: random.below(remaining))
            swapAt(last, j)
            formIndex(before: &last)
            remaining -= 1
        }
    }
}
