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
}
