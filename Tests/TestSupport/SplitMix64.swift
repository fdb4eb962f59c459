/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator so every grid is reproducible.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1)`.
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) / Float(1 << 23) - 1
    }

    public mutating func floats(_ count: Int) -> [Float] {
        (0..<count).map { _ in nextFloat() }
    }

    public mutating func int(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
