import Foundation

/// The accuracy drop of a candidate model against a reference model measured on the same
/// images, image by image: `worse` images the reference gets right and the candidate wrong,
/// `better` the reverse. The drop is `(worse - better) / images`; the images both get right or
/// both get wrong carry no information about it, which is why a paired comparison is much
/// tighter than two separately noisy accuracies.
public struct PairedDrop: Sendable, Equatable, Codable {
    public var worse: Int
    public var better: Int
    public var images: Int

    public init(worse: Int, better: Int, images: Int) {
        self.worse = worse
        self.better = better
        self.images = images
    }

    /// Compares per-image correctness (same images, same order).
    public init(reference: [Bool], candidate: [Bool]) {
        precondition(reference.count == candidate.count, "PairedDrop: \(reference.count) and \(candidate.count) images")
        var worse = 0, better = 0
        for (r, c) in zip(reference, candidate) where r != c {
            if r { worse += 1 } else { better += 1 }
        }
        self.init(worse: worse, better: better, images: reference.count)
    }

    /// The observed drop, as a fraction.
    public var drop: Double { images > 0 ? Double(worse - better) / Double(images) : 0 }

    /// One-sided upper confidence bound on the drop (a fraction) at `confidence`.
    public func upperBound(confidence: Double) -> Double {
        Self.upperBound(worse: Double(worse), better: Double(better), images: Double(images), confidence: confidence)
    }

    /// The upper end of Tango's score interval for a difference of paired proportions
    /// (Tango 1998, Statistics in Medicine 17:891). The per-image outcomes are a trinomial
    /// (worse, better, same); for a hypothesised drop D the score statistic is
    /// `(d - D) / sqrt((p_worse + p_better - D^2) / n)` with the proportions the maximum
    /// likelihood estimate restricted to `p_worse - p_better = D`; the bound is the largest D the
    /// statistic does not reject at `1 - confidence` one-sided. Unlike the Wald interval it stays
    /// valid with few discordant images (with none at all it gives about z^2 / n, not 0).
    /// Counts may be fractional: the search uses it to predict the bound of another sample size.
    public static func upperBound(worse b: Double, better c: Double, images n: Double, confidence: Double) -> Double {
        guard n > 0 else { return 1 }
        let z = normalQuantile(confidence)
        let observed = (b - c) / n
        func statistic(_ d: Double) -> Double {
            let p = restrictedBetter(worse: b, better: c, images: n, drop: d)
            let variance = (2 * p + d - d * d) / n
            guard variance > 0 else { return observed >= d ? .infinity : -.infinity }
            return (observed - d) / variance.squareRoot()
        }
        // statistic(observed) = 0 > -z and statistic(1) = -infinity: bisect the crossing.
        var low = observed, high = 1.0
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if statistic(mid) >= -z { low = mid } else { high = mid }
        }
        return high
    }

    /// The maximum likelihood estimate of `p_better` given `p_worse = p_better + d`:
    /// maximises `b log(p + d) + c log p + m log(1 - 2p - d)` (m = n - b - c), whose derivative
    /// falls monotonically in p, by bisection over the feasible interval.
    static func restrictedBetter(worse b: Double, better c: Double, images n: Double, drop d: Double) -> Double {
        let m = max(n - b - c, 0)
        var low = max(0, -d), high = (1 - d) / 2
        guard high > low else { return low }
        func slope(_ p: Double) -> Double {
            var s = 0.0
            if b > 0 { s += b / (p + d) }
            if c > 0 { s += c / p }
            if m > 0 { s -= 2 * m / (1 - 2 * p - d) }
            return s
        }
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if slope(mid) > 0 { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    /// The standard normal quantile: the z with `P(Z <= z) = probability`.
    public static func normalQuantile(_ probability: Double) -> Double {
        var low = -40.0, high = 40.0
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if 0.5 * erfc(-mid / 2.0.squareRoot()) < probability { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }
}
