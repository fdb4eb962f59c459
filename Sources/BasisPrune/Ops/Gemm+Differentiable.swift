/// Gemm and MatMul backward: products of the output gradient with the other operand.
extension GemmOp: Differentiable {
    /// With Y = alpha op(A) op(B) + beta C: d op(A) = alpha dY op(B)^T, d op(B) = alpha op(A)^T dY,
    /// dC = beta dY summed over C's broadcast axes. Every matrix is row-major as stored.
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        var result = [Value?](repeating: nil, count: inputs.count)
        guard let dy = outputGradients[0] else { return result }
        let a = try node.required(inputs, 0), b = try node.required(inputs, 1)
        let m = dy.shape[0], n = dy.shape[1], k = transA ? a.shape[0] : a.shape[1]
        let lda = a.shape[1], ldb = b.shape[1]
        dy.withElements(as: Float.self) { g in
            a.withElements(as: Float.self) { ap in
                b.withElements(as: Float.self) { bp in
                    if needed[0] {
                        let da = Value(uninitialized: .float, shape: a.shape)
                        da.withMutableElements(as: Float.self) { out in
                            if transA {
                                // dA [K, M] = op(B) dY^T.
                                GEMM.multiply(transA: transB, transB: true, m: k, n: m, k: n, alpha: alpha, a: bp.baseAddress!, lda: ldb,
                                              b: g.baseAddress!, ldb: n, beta: 0, c: out.baseAddress!, ldc: m)
                            } else {
                                // dA [M, K] = dY op(B)^T.
                                GEMM.multiply(transA: false, transB: !transB, m: m, n: k, k: n, alpha: alpha, a: g.baseAddress!, lda: n,
                                              b: bp.baseAddress!, ldb: ldb, beta: 0, c: out.baseAddress!, ldc: k)
                            }
                        }
                        result[0] = da
                    }
                    if needed[1] {
                        let db = Value(uninitialized: .float, shape: b.shape)
                        db.withMutableElements(as: Float.self) { out in
                            if transB {
                                // dB [N, K] = dY^T op(A).
                                GEMM.multiply(transA: true, transB: transA, m: n, n: k, k: m, alpha: alpha, a: g.baseAddress!, lda: n,
                                              b: ap.baseAddress!, ldb: lda, beta: 0, c: out.baseAddress!, ldc: k)
                            } else {
                                // dB [K, N] = op(A)^T dY.
                                GEMM.multiply(transA: !transA, transB: false, m: k, n: n, k: m, alpha: alpha, a: ap.baseAddress!, lda: lda,
                                              b: g.baseAddress!, ldb: n, beta: 0, c: out.baseAddress!, ldc: n)
                            }
                        }
                        result[1] = db
                    }
                }
            }
        }
        if needed.count > 2, needed[2], let c = inputs[2] {
            let dc = dy.reduced(to: c.shape)
            result[2] = beta == 1 ? dc : dc.mapFloats { x, out, count in SIMDLoops.map(x, out, count) { $0 * beta } }
        }
        return result
    }
}

extension MatMulOp: Differentiable {
    /// Per batch: dA = dY B^T, dB = A^T dY; then summed over broadcast batch dims.
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?] {
        guard let dy = outputGradients[0] else { return [nil, nil] }
        let a = try node.required(inputs, 0), b = try node.required(inputs, 1)
        let a2 = a.shape.count == 1 ? [1] + a.shape : a.shape, b2 = b.shape.count == 1 ? b.shape + [1] : b.shape
        let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
        let batchShape = ShapeInference.broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2)))!
        let batches = batchShape.reduce(1, *)
        guard let ea = Broadcast.expand(a.reshaped(a2), to: batchShape + [m, k]),
              let eb = Broadcast.expand(b.reshaped(b2), to: batchShape + [k, n]) else {
            throw EngineError(node, "batch dimensions of \(a.shape) and \(b.shape) do not broadcast")
        }
        var result: [Value?] = [nil, nil]
        dy.withElements(as: Float.self) { g in
            if needed[0] {
                let da = Value(uninitialized: .float, shape: batchShape + [m, k])
                da.withMutableElements(as: Float.self) { out in
                    eb.withElements(as: Float.self) { bp in
                        // dA_i[m, k] = dY_i[m, n] * B_i^T
                        GEMM.batched(count: batches, transA: false, transB: true, m: m, n: k, k: n,
                                     a: g.baseAddress!, b: bp.baseAddress!, c: out.baseAddress!)
                    }
                }
                result[0] = da.reduced(to: a2).reshaped(a.shape)
            }
            if needed[1] {
                let db = Value(uninitialized: .float, shape: batchShape + [k, n])
                db.withMutableElements(as: Float.self) { out in
                    ea.withElements(as: Float.self) { ap in
                        // dB_i[k, n] = A_i^T * dY_i[m, n]
                        GEMM.batched(count: batches, transA: true, transB: false, m: k, n: n, k: m,
                                     a: ap.baseAddress!, b: g.baseAddress!, c: out.baseAddress!)
                    }
                }
                result[1] = db.reduced(to: b2).reshaped(b.shape)
            }
        }
        return result
    }
}
