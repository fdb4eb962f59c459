/// Pad backward: each output gradient goes back to the input element it was read from
/// (nothing for the constant); reflect, edge and wrap may send several to one element.
extension PadOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        if needed.count > 2, needed[2] { throw EngineError(node, "the gradient of the constant value is not implemented") }
        guard needed[0], let dy = outputGradients[0] else { return result }
        let x = try node.required(inputs, 0)
        let (begin, shape, _) = try layout(inputs, x)
        let sources = shape.indices.map { axis in
            (0..<shape[axis]).map { Self.source($0 - begin[axis], size: x.shape[axis], mode: mode) }
        }
        let strides = rowMajorStrides(x.shape)
        let dx = Value.zeros(x.shape)
        dy.withElements(as: Float.self) { g in
            dx.withMutableElements(as: Float.self) { out in
                forEachRow(shape) { row, index in
                    var offset = 0
                    for axis in 0..<(shape.count - 1) {
                        let s = sources[axis][index[axis]]
                        if s < 0 { return }
                        offset += s * strides[axis]
                    }
                    let width = shape.last ?? 1, inner = sources.last ?? [0]
                    for j in 0..<width where inner[j] >= 0 { out[offset + inner[j]] += g[row * width + j] }
                }
            }
        }
        result[0] = dx
        return result
    }
}
