/// 2-D convolution backward with respect to the input (activation gradients only).
///
/// `dX = convTranspose(dY, weight)` with the forward geometry: per image and group,
/// `col = W_g^T * dY_g` then `Im2Col.unpackAdd` into a zeroed `dX_g`; pointwise convs write the
/// GEMM straight into `dX`; depthwise convs scatter directly (`Depthwise.backward`).
/// Parallel across images as in `ConvForward`.
public enum ConvBackward {
    /// Floats of scratch `gradInput` needs (0 for depthwise and pointwise convs).
    public static func scratchCount(_ g: ConvGeometry) -> Int {
        ConvForward.scratchCount(g)
    }

    /// `gradInput = d<dY, conv(x)>/dx`.
    ///
    /// - Parameters:
    ///   - gradOutput: dY, `[n, cout, outH, outW]`.
    ///   - weight: `[cout, cin / groups, kh, kw]`, as in the forward pass.
    ///   - gradInput: dX, `[n, cin, h, w]`, fully overwritten.
    ///   - scratch: at least `scratchCount(g)` floats, or nil to allocate them for this call.
    public static func gradInput(
        _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(g.isValid, "ConvBackward: invalid geometry \(g)")
        if g.n == 0 { return }
        if g.isDepthwise {
            Depthwise.backward(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput)
            return
        }
        if g.isPointwise && g.groups == 1 && g.n > 1 && g.h * g.w <= ConvForward.batchedPlaneLimit {
            batchedPointwise(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput)
            return
        }
        let cinG = g.cin / g.groups, coutG = g.cout / g.groups
        let plane = g.h * g.w, outPlane = g.outH * g.outW
        let k = cinG * g.kh * g.kw
        withScratch(scratchCount(g), given: scratch) { scratch in
            let perWorker = ConvForward.columnCount(g)
            ConvForward.forEachImage(g) { worker, i in
                let col = scratch + worker * perWorker
                for grp in 0..<g.groups {
                    let dy = gradOutput + (i * g.cout + grp * coutG) * outPlane
                    let dx = gradInput + (i * g.cin + grp * cinG) * plane
                    let wg = weight + grp * coutG * k
                    // C[k, outPlane] = W_g^T * dY_g; W_g is stored [coutG, k] row-major.
                    let c = g.isPointwise ? dx : col
                    GEMM.multiply(
                        transA: true, transB: false, m: k, n: outPlane, k: coutG,
                        alpha: 1, a: wg, lda: k, b: dy, ldb: outPlane, beta: 0, c: c, ldc: outPlane)
                    if !g.isPointwise {
                        dx.update(repeating: 0, count: cinG * plane)
                        Im2Col.unpackAdd(g, channels: cinG, col: col, gradInput: dx)
                    }
                }
            }
        }
    }

    /// The input gradient of a 1x1 conv over all images at once (see ConvForward.batchedPointwise):
    /// plane 1 is `dX[N, Cin] = dY[N, Cout] W`; larger planes gather dY to `[Cout, N*P]`.
    static func batchedPointwise(
        _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>
    ) {
        let plane = g.h * g.w, columns = g.n * plane
        if plane == 1 {
            GEMM.multiply(
                transA: false, transB: false, m: g.n, n: g.cin, k: g.cout,
                alpha: 1, a: gradOutput, lda: g.cout, b: weight, ldb: g.cin, beta: 0, c: gradInput, ldc: g.cin)
            return
        }
        withScratch((g.cin + g.cout) * columns, given: nil) { scratch in
            let packed = scratch, product = scratch + g.cout * columns
            ConvForward.gatherPlanes(gradOutput, into: packed, n: g.n, channels: g.cout, plane: plane)
            // product[Cin, N*P] = W^T[Cin, Cout] * dY[Cout, N*P]
            GEMM.multiply(
                transA: true, transB: false, m: g.cin, n: columns, k: g.cout,
                alpha: 1, a: weight, lda: g.cin, b: packed, ldb: columns, beta: 0, c: product, ldc: columns)
            for i in 0..<g.n {
                for c in 0..<g.cin {
                    (gradInput + (i * g.cin + c) * plane).update(from: product + c * columns + i * plane, count: plane)
                }
            }
        }
    }
}
