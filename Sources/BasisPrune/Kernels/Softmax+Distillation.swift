internal import Foundation

extension Softmax {
    /// Knowledge distillation (Hinton et al. 2015): the mean over rows of
    /// `T^2 * KL(softmax(teacher[r, :] / T) || softmax(student[r, :] / T))`, in Double.
    ///
    /// `gradient` receives `d loss / d student = T * (softmax(student / T) - softmax(teacher / T)) / rows`
    /// (the `T^2` keeps its size that of a cross-entropy gradient as `T` changes), `[rows, cols]`.
    ///
    /// `sampledGradient` receives the same with `softmax(teacher / T)` replaced by the one-hot
    /// vector of a class drawn from it, `T * (softmax(student / T) - onehot(y)) / rows`, where
    /// `draws[r]` in `[0, 1)` picks `y` by the teacher's cumulative probabilities: the gradient
    /// of `T^2` times the cross-entropy against a sampled target. Its mean over the draws is
    /// `gradient`; where the student equals the teacher (both zero there) its covariance is the
    /// Hessian of the loss, so it measures what the exact gradient cannot (see `Distillation`).
    public static func distillation(
        student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, rows: Int, cols: Int, temperature: Double,
        gradient: UnsafeMutablePointer<Float>? = nil, draws: UnsafePointer<Double>? = nil,
        sampledGradient: UnsafeMutablePointer<Float>? = nil
    ) -> Float {
        precondition(rows > 0 && cols > 0, "distillation: empty logits")
        precondition(temperature > 0, "distillation: temperature must be positive")
        precondition((draws == nil) == (sampledGradient == nil), "distillation: draws and sampledGradient go together")
        let t = temperature, scale = temperature / Double(rows)
        let q = UnsafeMutablePointer<Double>.allocate(capacity: 2 * cols)
        defer { q.deallocate() }
        let p = q + cols
        var total = 0.0
        for r in 0..<rows {
            let s = student + r * cols, u = teacher + r * cols
            let logQ = logSoftmax(s, cols, temperature: t, into: q)
            let logP = logSoftmax(u, cols, temperature: t, into: p)
            var kl = 0.0
            for j in 0..<cols {
                // p log p is 0 where p underflows to 0 (its log stays finite).
                kl += p[j] * ((Double(u[j]) / t - logP) - (Double(s[j]) / t - logQ))
            }
            total += kl
            if let gradient {
                let g = gradient + r * cols
                for j in 0..<cols { g[j] = Float(scale * (q[j] - p[j])) }
            }
            if let draws, let sampledGradient {
                let g = sampledGradient + r * cols
                var pick = cols - 1, cumulative = 0.0
                for j in 0..<cols {
                    cumulative += p[j]
                    if draws[r] < cumulative { pick = j; break }
                }
                for j in 0..<cols { g[j] = Float(scale * (q[j] - (j == pick ? 1 : 0))) }
            }
        }
        return Float(t * t * total / Double(rows))
    }

    /// Writes `softmax(x / t)` to `y` in Double and returns `log(sum_j exp(x[j] / t))`.
    @inline(__always)
    private static func logSoftmax(_ x: UnsafePointer<Float>, _ cols: Int, temperature t: Double, into y: UnsafeMutablePointer<Double>) -> Double {
        var m = -Double.infinity
        for j in 0..<cols { m = max(m, Double(x[j]) / t) }
        var sum = 0.0
        for j in 0..<cols {
            y[j] = exp(Double(x[j]) / t - m)
            sum += y[j]
        }
        for j in 0..<cols { y[j] /= sum }
        return m + log(sum)
    }
}
