/// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool backward (the Pooling kernels).
extension PoolOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard let dy = outputGradients[0], needed[0] else { return [nil] }
        let x = try node.required(inputs, 0)
        let g = try geometry(x)
        let dx = Value(uninitialized: .float, shape: x.shape)
        dy.withElements(as: Float.self) { dyp in
            dx.withMutableElements(as: Float.self) { dxp in
                switch kind {
                case .max:
                    x.withElements(as: Float.self) { Pooling.maxPoolBackward(g, input: $0.baseAddress!, gradOutput: dyp.baseAddress!, gradInput: dxp.baseAddress!) }
                case .average:
                    Pooling.averagePoolBackward(g, countIncludePad: countIncludePad, gradOutput: dyp.baseAddress!, gradInput: dxp.baseAddress!)
                }
            }
        }
        return [dx]
    }
}

extension GlobalPoolOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard let dy = outputGradients[0], needed[0] else { return [nil] }
        let x = try node.required(inputs, 0)
        let n = x.shape[0], c = x.shape[1], plane = x.shape.dropFirst(2).reduce(1, *)
        let dx = Value(uninitialized: .float, shape: x.shape)
        dy.withElements(as: Float.self) { dyp in
            dx.withMutableElements(as: Float.self) { dxp in
                if isMax {
                    x.withElements(as: Float.self) {
                        Pooling.globalMaxPoolBackward(input: $0.baseAddress!, gradOutput: dyp.baseAddress!, gradInput: dxp.baseAddress!, n: n, c: c, plane: plane)
                    }
                } else {
                    Pooling.globalAveragePoolBackward(gradOutput: dyp.baseAddress!, gradInput: dxp.baseAddress!, n: n, c: c, plane: plane)
                }
            }
        }
        return [dx]
    }
}
