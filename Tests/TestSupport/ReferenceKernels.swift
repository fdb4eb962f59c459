import BasisPrune
import Foundation

/// Naive, obviously-correct kernels in Double, written like onnx/reference: one loop nest per
/// op, reading the ONNX attribute definitions directly. Test oracles only; never fast.
public enum Reference {
    // MARK: - Conv

    /// ONNX Conv: `y[n, co, oh, ow] = b[co] + sum_{ci, i, j} x[n, g*cinG + ci, ih, iw] * w[co, ci, i, j]`
    /// with `ih = oh * sH - padTop + i * dH`, `iw = ow * sW - padLeft + j * dW`, zero outside.
    public static func conv(_ g: ConvGeometry, x: [Float], w: [Float], b: [Float]?) -> [Double] {
        let cinG = g.cin / g.groups, coutG = g.cout / g.groups
        var y = [Double](repeating: 0, count: g.outputCount)
        for n in 0..<g.n {
            for co in 0..<g.cout {
                let grp = co / coutG
                for oh in 0..<g.outH {
                    for ow in 0..<g.outW {
                        var s = b.map { Double($0[co]) } ?? 0
                        for ci in 0..<cinG {
                            for i in 0..<g.kh {
                                for j in 0..<g.kw {
                                    let ih = oh * g.strideH - g.padTop + i * g.dilationH
                                    let iw = ow * g.strideW - g.padLeft + j * g.dilationW
                                    if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w { continue }
                                    let xv = x[((n * g.cin + grp * cinG + ci) * g.h + ih) * g.w + iw]
                                    let wv = w[((co * cinG + ci) * g.kh + i) * g.kw + j]
                                    s += Double(xv) * Double(wv)
                                }
                            }
                        }
                        y[((n * g.cout + co) * g.outH + oh) * g.outW + ow] = s
                    }
                }
            }
        }
        return y
    }

    /// The transpose of `conv` without bias: `dx = d<dy, conv(x)>/dx` (ONNX ConvTranspose with
    /// the forward geometry), written as the scatter of every output gradient to its taps.
    public static func convTranspose(_ g: ConvGeometry, dy: [Float], w: [Float]) -> [Double] {
        let cinG = g.cin / g.groups, coutG = g.cout / g.groups
        var dx = [Double](repeating: 0, count: g.inputCount)
        for n in 0..<g.n {
            for co in 0..<g.cout {
                let grp = co / coutG
                for oh in 0..<g.outH {
                    for ow in 0..<g.outW {
                        let d = Double(dy[((n * g.cout + co) * g.outH + oh) * g.outW + ow])
                        for ci in 0..<cinG {
                            for i in 0..<g.kh {
                                for j in 0..<g.kw {
                                    let ih = oh * g.strideH - g.padTop + i * g.dilationH
                                    let iw = ow * g.strideW - g.padLeft + j * g.dilationW
                                    if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w { continue }
                                    let wv = Double(w[((co * cinG + ci) * g.kh + i) * g.kw + j])
                                    let at: Int = ((n * g.cin + grp * cinG + ci) * g.h + ih) * g.w + iw
                                    dx[at] += d * wv
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    // MARK: - Activations

    /// The activation's value at `x`, from the ONNX operator definitions.
    public static func activation(_ f: Activation, _ x: Double) -> Double {
        switch f {
        case .none: return x
        case .relu: return max(x, 0)
        case .clip(let lo, let hi): return min(max(x, Double(lo)), Double(hi))
        case .leakyRelu(let alpha): return x < 0 ? Double(alpha) * x : x
        case .sigmoid: return 1 / (1 + exp(-x))
        case .hardSigmoid(let alpha, let beta): return max(0, min(1, Double(alpha) * x + Double(beta)))
        case .hardSwish: return x * max(0, min(1, x / 6 + 0.5))
        case .tanh: return Foundation.tanh(x)
        }
    }

    // MARK: - Pooling

    /// ONNX pooled output size: floor or ceil of `(size + pads - dilated kernel) / stride + 1`;
    /// in ceil mode a window that would start past the begin padding plus the image is dropped.
    public static func poolOutputSize(
        size: Int, kernel: Int, stride: Int, padBegin: Int, padEnd: Int, dilation: Int, ceil: Bool
    ) -> Int {
        let numerator = Double(size + padBegin + padEnd - dilation * (kernel - 1) - 1)
        var out = Int((ceil ? (numerator / Double(stride)).rounded(.up)
            : (numerator / Double(stride)).rounded(.down))) + 1
        if ceil && (out - 1) * stride >= size + padBegin { out -= 1 }
        return out
    }

    /// Where a window tap lands: in the image, in the explicit padding, or past it (ceil mode).
    enum Cell { case image(Double), padding, overhang }

    static func cell(_ x: [Float], _ g: PoolGeometry, _ plane: Int, _ ih: Int, _ iw: Int) -> Cell {
        if ih >= 0 && ih < g.h && iw >= 0 && iw < g.w {
            return .image(Double(x[(plane * g.h + ih) * g.w + iw]))
        }
        let inPaddedRows = ih >= -g.padTop && ih < g.h + g.padBottom
        let inPaddedCols = iw >= -g.padLeft && iw < g.w + g.padRight
        return inPaddedRows && inPaddedCols ? .padding : .overhang
    }

    /// Applies `reduce(cells of the window)` at every output position.
    static func pool(_ g: PoolGeometry, x: [Float], _ reduce: ([Cell]) -> Double) -> [Double] {
        let oh = poolOutputSize(
            size: g.h, kernel: g.kh, stride: g.strideH, padBegin: g.padTop, padEnd: g.padBottom,
            dilation: g.dilationH, ceil: g.ceilMode)
        let ow = poolOutputSize(
            size: g.w, kernel: g.kw, stride: g.strideW, padBegin: g.padLeft, padEnd: g.padRight,
            dilation: g.dilationW, ceil: g.ceilMode)
        var y: [Double] = []
        for plane in 0..<(g.n * g.c) {
            for r in 0..<oh {
                for c in 0..<ow {
                    var cells: [Cell] = []
                    for i in 0..<g.kh {
                        for j in 0..<g.kw {
                            let ih = r * g.strideH - g.padTop + i * g.dilationH
                            let iw = c * g.strideW - g.padLeft + j * g.dilationW
                            cells.append(cell(x, g, plane, ih, iw))
                        }
                    }
                    y.append(reduce(cells))
                }
            }
        }
        return y
    }

    /// ONNX MaxPool: the largest image value in the window.
    public static func maxPool(_ g: PoolGeometry, x: [Float]) -> [Double] {
        pool(g, x: x) { cells in
            cells.reduce(-Double.infinity) { if case .image(let v) = $1 { max($0, v) } else { $0 } }
        }
    }

    /// ONNX AveragePool: sum of image values over image cells, plus padding cells if counted.
    public static func averagePool(_ g: PoolGeometry, countIncludePad: Bool, x: [Float]) -> [Double] {
        pool(g, x: x) { cells in
            var sum = 0.0, count = 0
            for cell in cells {
                switch cell {
                case .image(let v): sum += v; count += 1
                case .padding: count += countIncludePad ? 1 : 0
                case .overhang: break
                }
            }
            return sum / Double(count)
        }
    }

    // MARK: - Softmax

    /// Row softmax in Double.
    public static func softmax(_ x: [Double], rows: Int, cols: Int) -> [Double] {
        var y: [Double] = []
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)]
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            let s = e.reduce(0, +)
            y += e.map { $0 / s }
        }
        return y
    }

    /// Mean cross-entropy of logits against integer labels, in Double.
    public static func crossEntropy(_ x: [Double], labels: [Int], rows: Int, cols: Int) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)]
            let m = row.max()!
            let lse = m + log(row.map { exp($0 - m) }.reduce(0, +))
            total += lse - row[r * cols + labels[r]]
        }
        return total / Double(rows)
    }
}
