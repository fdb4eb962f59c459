/// Conv backward: the input gradient (through a fused activation and Pad) and the bias gradient.
extension ConvOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        guard let gradOutput = outputGradients[0] else { return result }
        if needed.count > 1, needed[1] { throw EngineError(node, "the weight gradient is not implemented (only inputs and bias)") }
        let x = try node.required(inputs, 0), w = try node.required(inputs, 1)
        var dy = gradOutput
        if activation != .none {
            // The pre-activation gradient from the saved output: y = f(conv(x) + b).
            guard activation.derivativeFollowsFromOutput else {
                throw EngineError(node, "the fused activation \(activation) needs its input for the gradient")
            }
            dy = outputs[0].mapFloats { y, out, count in
                gradOutput.withElements(as: Float.self) { Elementwise.activationBackward(activation, output: y, dY: $0.baseAddress!, into: out, count: count) }
            }
        }
        let g = try geometry(x, w)
        if needed[0] {
            let dx = Value(uninitialized: .float, shape: x.shape)
            dy.withElements(as: Float.self) { dyp in
                w.withElements(as: Float.self) { wp in
                    dx.withMutableElements(as: Float.self) { ConvBackward.gradInput(g, gradOutput: dyp.baseAddress!, weight: wp.baseAddress!, gradInput: $0.baseAddress!) }
                }
            }
            result[0] = dx
        }
        if needed.count > 2, needed[2] {
            let db = Value(uninitialized: .float, shape: [g.cout])
            dy.withElements(as: Float.self) { dyp in
                db.withMutableElements(as: Float.self) { Elementwise.sumPerChannel(dyp.baseAddress!, n: g.n, c: g.cout, plane: g.outH * g.outW, into: $0.baseAddress!) }
            }
            result[2] = db.reshaped(inputs[2]!.shape)
        }
        return result
    }
}
