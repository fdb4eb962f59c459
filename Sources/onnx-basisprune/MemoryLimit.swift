import BasisPrune
import Foundation

/// `--memory-limit SIZE`: bytes with an optional K, M, G or T suffix (powers of 1024, an
/// optional trailing "iB" or "B"), or "none".
enum MemoryLimit {
    /// The limit in bytes; nil for "none"; the default plan's limit when not given.
    static func parse(_ text: String?) throws(CLIError) -> Int? {
        guard let text else { return MemoryPlan.defaultLimit }
        if text == "none" { return nil }
        var digits = text.uppercased()
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) { digits.removeLast(suffix.count); break }
        var scale = 1.0
        if let last = digits.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            scale = pow(1024, Double(power))
            digits.removeLast()
        }
        guard let value = Double(digits), value.isFinite, value > 0, value * scale >= 64 * 1_048_576, value * scale < 1e18 else {
            throw .usage("--memory-limit '\(text)' is not a size of at least 64M (e.g. 6G, 512M) or none")
        }
        return Int(value * scale)
    }

    /// "5.88 GiB".
    static func describe(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / 1_073_741_824) }
}
