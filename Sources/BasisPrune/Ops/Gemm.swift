/// Gemm: `Y = alpha * A' * B' + beta * C` with transA, transB, and C broadcast to [M, N].
struct GemmOp: Operator {
    let node: Node
    let alpha: Float, beta: Float
    let transA: Bool, transB: Bool

    init(node: Node) {
        self.node = node
        alpha = node.float("alpha", default: 1)!
        beta = node.float("beta", default: 1)!
        transA = node.int("transA", default: 0)! != 0
        transB = node.int("transB", default: 0)! != 0
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let a = try node.required(inputs, 0), b = try node.required(inputs, 1)
        try a.requireFloat(node)
        try b.requireFloat(node, "B")
        guard a.shape.count == 2, b.shape.count == 2 else { throw EngineError(node, "A \(a.shape) and B \(b.shape) must be 2-D") }
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
        guard k == kb else { throw EngineError(node, "inner dimensions of A \(a.shape) and B \(b.shape) differ") }
        let y = Value(uninitialized: .float, shape: [m, n])
        var beta = self.beta
        if let c = inputs.count > 2 ? inputs[2] : nil, beta != 0 {
            try c.requireFloat(node, "C")
            guard let expanded = Broadcast.expand(c, to: [m, n]) else { throw EngineError(node, "C \(c.shape) does not broadcast to [\(m), \(n)]") }
            y.withMutableElements(as: Float.self) { out in
                expanded.withElements(as: Float.self) { out.baseAddress!.update(from: $0.baseAddress!, count: m * n) }
            }
        } else {
            beta = 0
        }
        if m * n > 0 {
            a.withElements(as: Float.self) { ap in
                b.withElements(as: Float.self) { bp in
                    y.withMutableElements(as: Float.self) { yp in
                        GEMM.multiply(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!,
                                      lda: a.shape[1], b: bp.baseAddress!, ldb: b.shape[1], beta: beta, c: yp.baseAddress!, ldc: n)
                    }
                }
            }
        }
        return [y]
    }
}

/// MatMul with numpy semantics: 1-D operands promoted, batch dimensions broadcast.
struct MatMulOp: Operator {
    let node: Node

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let a = try node.required(inputs, 0), b = try node.required(inputs, 1)
        try a.requireFloat(node)
        try b.requireFloat(node, "B")
        guard let outShape = ShapeInference.matmulShape(a.shape, b.shape) else {
            throw EngineError(node, "shapes \(a.shape) and \(b.shape) do not multiply")
        }
        let a2 = a.shape.count == 1 ? [1] + a.shape : a.shape, b2 = b.shape.count == 1 ? b.shape + [1] : b.shape
        let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
        let batchShape = ShapeInference.broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2)))!
        let batches = batchShape.reduce(1, *)
        guard let ea = Broadcast.expand(Value(dataType: .float, shape: a2, storage: a.storage), to: batchShape + [m, k]),
              let eb = Broadcast.expand(Value(dataType: .float, shape: b2, storage: b.storage), to: batchShape + [k, n]) else {
            throw EngineError(node, "batch dimensions of \(a.shape) and \(b.shape) do not broadcast")
        }
        let y = Value(uninitialized: .float, shape: outShape)
        ea.withElements(as: Float.self) { ap in
            eb.withElements(as: Float.self) { bp in
                y.withMutableElements(as: Float.self) { yp in
                    GEMM.batched(count: batches, transA: false, transB: false, m: m, n: n, k: k,
                                 a: ap.baseAddress!, b: bp.baseAddress!, c: yp.baseAddress!)
                }
            }
        }
        return [y]
    }
}
