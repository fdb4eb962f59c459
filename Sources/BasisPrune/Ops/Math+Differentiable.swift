internal import Foundation

/// Pow backward: dA = dY * b * a^(b-1); dB = dY * y * ln(a), each summed over its broadcast axes.
extension PowOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard let dy = outputGradients[0] else { return [nil, nil] }
        let a = try node.required(inputs, 0), b = try node.required(inputs, 1)
        let e = try exponent(b)
        let shape = dy.shape
        guard let ea = Broadcast.expand(a, to: shape), let eb = Broadcast.expand(e, to: shape) else {
            throw EngineError(node, "shapes \(a.shape) and \(e.shape) do not broadcast to \(shape)")
        }
        var result: [Value?] = [nil, nil]
        if needed[0] {
            let da = ea.mapFloats { x, out, count in
                eb.withElements(as: Float.self) { p in
                    dy.withElements(as: Float.self) { g in
                        for i in 0..<count {
                            let q = p[i]
                            out[i] = g[i] * (q == 2 ? 2 * x[i] : q == 1 ? 1 : q * Foundation.pow(x[i], q - 1))
                        }
                    }
                }
            }
            result[0] = da.reduced(to: a.shape)
        }
        if needed[1] {
            guard b.dataType == .float else { throw EngineError(node, "gradients of a \(b.dataType) exponent are not supported") }
            let y = outputs[0]
            let db = ea.mapFloats { x, out, count in
                y.withElements(as: Float.self) { y in
                    dy.withElements(as: Float.self) { g in for i in 0..<count { out[i] = g[i] * y[i] * Foundation.log(x[i]) } }
                }
            }
            result[1] = db.reduced(to: b.shape)
        }
        return result
    }
}

/// Sqrt, Erf, Exp and Reciprocal backward: dX = dY * f'(x), from the saved output where it gives f'.
extension UnaryMathOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard needed[0], let dy = outputGradients[0] else { return [nil] }
        let x = try node.required(inputs, 0), y = outputs[0]
        let twoOverRootPi = Float(2 / Double.pi.squareRoot())
        return [dy.mapFloats { g, out, count in
            x.withElements(as: Float.self) { xb in
                y.withElements(as: Float.self) { yb in
                    let (x, y) = (xb.baseAddress!, yb.baseAddress!)
                    switch function {
                    case .sqrt: SIMDLoops.zip(g, y, out, count) { $0 * 0.5 / $1 }
                    case .exp: SIMDLoops.zip(g, y, out, count) { $0 * $1 }
                    case .reciprocal: SIMDLoops.zip(g, y, out, count) { -$0 * $1 * $1 }
                    case .erf: for i in 0..<count { out[i] = g[i] * twoOverRootPi * Foundation.exp(-x[i] * x[i]) }
                    }
                }
            }
        }]
    }
}
