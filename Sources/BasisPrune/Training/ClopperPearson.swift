import Foundation

/// The exact (Clopper-Pearson) one-sided upper confidence bound on a binomial proportion:
/// the largest rate p for which seeing `failures` or fewer of `trials` still has probability at
/// least `1 - confidence`. It is the `confidence` quantile of Beta(failures + 1, trials - failures)
/// (Clopper and Pearson 1934) and covers the true rate with probability at least `confidence`
/// for every rate and sample size: conservative, never anti-conservative like Wald or Wilson
/// bounds can be with few failures. With no failures it is `1 - (1 - confidence)^(1 / trials)`.
///
/// The agreement certification bounds the rate at which a pruned model's top-1 answer differs
/// from the input model's: the accuracy drop is at most that rate, whatever the labels.
public enum ClopperPearson {
    /// One-sided upper bound at `confidence` on the rate of `failures` in `trials`, as a
    /// fraction. Counts may be fractional (the search predicts the bound of another sample size).
    public static func upperBound(failures k: Double, trials n: Double, confidence: Double) -> Double {
        guard n > 0 else { return 1 }
        let k = min(max(k, 0), n)
        guard k < n else { return 1 }
        // I_p(k + 1, n - k) rises from 0 to 1 in p; the bound is where it reaches `confidence`.
        var low = k / n, high = 1.0
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if regularizedIncompleteBeta(mid, a: k + 1, b: n - k) < confidence { low = mid } else { high = mid }
        }
        return high
    }

    /// The smallest number of trials whose bound with no failures at all is within `rate`.
    public static func trialsNeeded(rate: Double, confidence: Double) -> Int {
        guard rate > 0 else { return .max }
        guard rate < 1 else { return 1 }
        return max(1, Int((log(1 - confidence) / log(1 - rate)).rounded(.up)))
    }

    /// The regularized incomplete beta function I_x(a, b), by the continued fraction of its
    /// power series (modified Lentz), using the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the
    /// fraction converges slowly.
    public static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logBeta + logPowers
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * continuedFraction(x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * continuedFraction(1 - x, a: b, b: a) / b
    }

    static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d
            if abs(d) < tiny { d = tiny }
            c = 1 + even / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d
            if abs(d) < tiny { d = tiny }
            c = 1 + odd / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return h
    }
}
