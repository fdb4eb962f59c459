internal import Foundation

/// Row softmax and log-softmax over a row-major `[rows, cols]` buffer, their backward passes,
/// and the mean cross-entropy of logits against integer labels. Sums run in Double.
public enum Softmax {
    /// `y[r, :] = exp(x[r, :] - max) / sum`; `y` may equal `x`.
    public static func forward(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            let m = rowMax(xr, cols)
            var sum = 0.0
            for j in 0..<cols {
                let e = exp(xr[j] - m)
                yr[j] = e
                sum += Double(e)
            }
            let inv = Float(1 / sum)
            for j in 0..<cols { yr[j] *= inv }
        }
    }

    /// `y[r, :] = x[r, :] - max - log(sum exp(x[r, :] - max))`; `y` may equal `x`.
    public static func logSoftmax(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            let shift = logSumExp(xr, cols)
            for j in 0..<cols { yr[j] = xr[j] - shift }
        }
    }

    /// Softmax backward from its output: `dX = y * (dY - sum(dY * y))` per row.
    public static func backward(
        output y: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        for r in 0..<rows {
            let o = r * cols
            let s = Float(SIMDLoops.dot(dy + o, y + o, cols))
            for j in 0..<cols { dx[o + j] = y[o + j] * (dy[o + j] - s) }
        }
    }

    /// Log-softmax backward from its output: `dX = dY - exp(y) * sum(dY)` per row.
    public static func logSoftmaxBackward(
        output y: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        for r in 0..<rows {
            let o = r * cols
            let s = Float(SIMDLoops.dot(dy + o, nil, cols))
            for j in 0..<cols { dx[o + j] = dy[o + j] - exp(y[o + j]) * s }
        }
    }

    /// Mean over rows of `-log softmax(logits[r, :])[labels[r]]`.
    ///
    /// When `gradient` is given it receives `d loss / d logits = (softmax - onehot) / rows`,
    /// `[rows, cols]`, and may equal `logits`.
    public static func crossEntropy(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int>, rows: Int, cols: Int,
        gradient: UnsafeMutablePointer<Float>? = nil
    ) -> Float {
        precondition(rows > 0 && cols > 0, "crossEntropy: empty logits")
        var total = 0.0
        for r in 0..<rows {
            let xr = logits + r * cols
            let label = labels[r]
            precondition(label >= 0 && label < cols, "crossEntropy: label \(label) out of 0..<\(cols)")
            let shift = logSumExp(xr, cols)
            total += Double(shift - xr[label])
            if let gradient {
                let gr = gradient + r * cols
                let scale = 1 / Float(rows)
                for j in 0..<cols { gr[j] = exp(xr[j] - shift) * scale }
                gr[label] -= scale
            }
        }
        return Float(total / Double(rows))
    }

    @inline(__always)
    private static func rowMax(_ x: UnsafePointer<Float>, _ cols: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<cols { m = max(m, x[j]) }
        return m
    }

    /// `log(sum_j exp(x[j]))`, shifted by the row max for range safety.
    @inline(__always)
    private static func logSumExp(_ x: UnsafePointer<Float>, _ cols: Int) -> Float {
        let m = rowMax(x, cols)
        var sum = 0.0
        for j in 0..<cols { sum += Double(exp(x[j] - m)) }
        return m + Float(log(sum))
    }
}
