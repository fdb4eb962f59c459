/// Lowering between image planes and the column matrix of a convolution (one group, one image).
///
/// The column matrix is row-major `[channels * kh * kw, outH * outW]`: row `(c * kh + i) * kw + j`
/// holds input channel `c` sampled at kernel tap `(i, j)` for every output position, zero where
/// the tap falls in the padding. Borders are found per tap with `validOutputRange`, so the copy
/// loops have no bounds branches.
enum Im2Col {
    /// `col <- im2col(x)`, `x` pointing at `channels` planes of `g.h * g.w`.
    static func pack(
        _ g: ConvGeometry, channels: Int, input x: UnsafePointer<Float>,
        col: UnsafeMutablePointer<Float>
    ) {
        let oh = g.outH, ow = g.outW, plane = g.h * g.w
        var dst = col
        for c in 0..<channels {
            let src = x + c * plane
            for i in 0..<g.kh {
                let offH = i * g.dilationH - g.padTop
                let rows = validOutputRange(count: oh, stride: g.strideH, offset: offH, size: g.h)
                for j in 0..<g.kw {
                    let offW = j * g.dilationW - g.padLeft
                    let cols = validOutputRange(count: ow, stride: g.strideW, offset: offW, size: g.w)
                    dst.update(repeating: 0, count: rows.lowerBound * ow)
                    for r in rows {
                        let out = dst + r * ow
                        let inRow = src + (r * g.strideH + offH) * g.w + offW
                        out.update(repeating: 0, count: cols.lowerBound)
                        if g.strideW == 1 {
                            (out + cols.lowerBound).update(
                                from: inRow + cols.lowerBound, count: cols.count)
                        } else {
                            for q in cols { out[q] = inRow[q * g.strideW] }
                        }
                        (out + cols.upperBound).update(repeating: 0, count: ow - cols.upperBound)
                    }
                    (dst + rows.upperBound * ow).update(
                        repeating: 0, count: (oh - rows.upperBound) * ow)
                    dst += oh * ow
                }
            }
        }
    }

    /// `dX += col2im(col)`: the adjoint of `pack`, accumulating overlapping taps.
    static func unpackAdd(
        _ g: ConvGeometry, channels: Int, col: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>
    ) {
        let oh = g.outH, ow = g.outW, plane = g.h * g.w
        var src = col
        for c in 0..<channels {
            let dst = dx + c * plane
            for i in 0..<g.kh {
                let offH = i * g.dilationH - g.padTop
                let rows = validOutputRange(count: oh, stride: g.strideH, offset: offH, size: g.h)
                for j in 0..<g.kw {
                    let offW = j * g.dilationW - g.padLeft
                    let cols = validOutputRange(count: ow, stride: g.strideW, offset: offW, size: g.w)
                    for r in rows {
                        let colRow = src + r * ow
                        let inRow = dst + (r * g.strideH + offH) * g.w + offW
                        if g.strideW == 1 {
                            for q in cols { inRow[q] += colRow[q] }
                        } else {
                            for q in cols { inRow[q * g.strideW] += colRow[q] }
                        }
                    }
                    src += oh * ow
                }
            }
        }
    }
}
