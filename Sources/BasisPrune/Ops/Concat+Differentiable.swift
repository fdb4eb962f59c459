/// Concat backward cuts the output gradient into the inputs' blocks; Split backward joins the
/// outputs' gradients (zeros where an output has none). Slice backward scatters into zeros.
extension ConcatOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        guard let dy = outputGradients[0] else { return result }
        let a = try node.normalizedAxis(axis, rank: dy.shape.count)
        let outer = dy.shape[..<a].reduce(1, *), outputBlock = dy.shape[a...].reduce(1, *)
        var offset = 0
        dy.withElements(as: Float.self) { g in
            for (k, input) in inputs.enumerated() {
                guard let input else { continue }
                let block = input.shape[a...].reduce(1, *)
                if needed[k] {
                    let dx = Value(uninitialized: .float, shape: input.shape)
                    dx.withMutableElements(as: Float.self) { out in
                        for o in 0..<outer where block > 0 {
                            (out.baseAddress! + o * block).update(from: g.baseAddress! + o * outputBlock + offset, count: block)
                        }
                    }
                    result[k] = dx
                }
                offset += block
            }
        }
        return result
    }
}

extension SplitOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        guard needed[0] else { return result }
        let x = try node.required(inputs, 0)
        let a = try node.normalizedAxis(axis, rank: x.shape.count)
        let outer = x.shape[..<a].reduce(1, *), inputBlock = x.shape[a...].reduce(1, *)
        let dx = Value(uninitialized: .float, shape: x.shape)
        dx.withMutableElements(as: Float.self) { out in
            var offset = 0
            for (part, gradient) in zip(outputs, outputGradients) {
                let block = part.shape.count > a ? part.shape[a...].reduce(1, *) : 0
                for o in 0..<outer where block > 0 {
                    let destination = out.baseAddress! + o * inputBlock + offset
                    if let gradient {
                        gradient.withElements(as: Float.self) { destination.update(from: $0.baseAddress! + o * block, count: block) }
                    } else {
                        destination.update(repeating: 0, count: block)
                    }
                }
                offset += block
            }
        }
        result[0] = dx
        return result
    }
}

extension SliceOp: Differentiable {
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        guard needed[0], let dy = outputGradients[0] else { return result }
        let x = try node.required(inputs, 0)
        let (base, strides, shape) = try view(inputs, x)
        let dx = Value.zeros(x.shape)
        dy.withElements(as: Float.self) { g in
            dx.withMutableElements(as: Float.self) { out in
                forEachRow(shape) { row, offsets in
                    let width = shape.last ?? 1, step = strides.last ?? 1
                    let target = out.baseAddress! + base + zip(offsets, strides).reduce(0) { $0 + $1.0 * $1.1 }
                    for j in 0..<width { target[j * step] += g[row * width + j] }
                }
            }
        }
        result[0] = dx
        return result
    }
}

/// Calls `body(row, index)` for each row (all axes but the last) of `shape` in row-major order,
/// with the row's index along every axis (0 on the last).
func forEachRow(_ shape: [Int], _ body: (Int, [Int]) -> Void) {
    guard !shape.contains(0) else { return }
    guard shape.count > 1 else { body(0, Array(repeating: 0, count: shape.count)); return }
    var index = Array(repeating: 0, count: shape.count)
    var row = 0
    while true {
        body(row, index)
        row += 1
        var axis = shape.count - 2
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < shape[axis] { break }
            index[axis] = 0
            axis -= 1
        }
        if axis < 0 { return }
    }
}
