/// Direct depthwise convolution (one input and one output channel per group), forward and
/// backward, over float32 NCHW.
///
/// Each output row accumulates its taps: for each kernel tap, `validOutputRange` gives the output
/// columns whose input is inside the image, so borders cost nothing extra and the inner loop is a
/// branch-free (vectorisable for stride 1) multiply-add over contiguous output columns.
/// Planes (image, channel) are split over 2 workers when the work is large enough.
enum Depthwise {
    /// Below this many multiply-adds a conv runs on the calling thread.
    static let parallelThreshold = 1 << 16

    static func forward(
        _ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, activation: Activation
    ) {
        let plane = g.h * g.w, outPlane = g.outH * g.outW, taps = g.kh * g.kw
        let workers = g.macs >= parallelThreshold ? Parallel.workerCount : 1
        Parallel.forEachChunk(count: g.n * g.cin, workers: workers) { _, planes in
            for p in planes {
                let ch = p % g.cin
                forwardPlane(
                    g, input: input + p * plane, weight: weight + ch * taps,
                    output: output + p * outPlane)
                if bias != nil || activation != .none {
                    let y = output + p * outPlane
                    activation.apply(y, y, count: outPlane, bias: bias?[ch] ?? 0)
                }
            }
        }
    }

    @inline(__always)
    private static func forwardPlane(
        _ g: ConvGeometry, input x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
        output y: UnsafeMutablePointer<Float>
    ) {
        let oh = g.outH, ow = g.outW, sw = g.strideW
        y.update(repeating: 0, count: oh * ow)
        for i in 0..<g.kh {
            let offH = i * g.dilationH - g.padTop
            let rows = validOutputRange(count: oh, stride: g.strideH, offset: offH, size: g.h)
            for j in 0..<g.kw {
                let offW = j * g.dilationW - g.padLeft
                let cols = validOutputRange(count: ow, stride: sw, offset: offW, size: g.w)
                let wv = w[i * g.kw + j]
                let n = cols.count
                if n == 0 { continue }
                for r in rows {
                    let out = y + r * ow + cols.lowerBound
                    let src = x + (r * g.strideH + offH) * g.w + offW + cols.lowerBound * sw
                    if sw == 1 {
                        for q in 0..<n { out[q] += wv * src[q] }
                    } else {
                        for q in 0..<n { out[q] += wv * src[q * sw] }
                    }
                }
            }
        }
    }

    /// `dX = convTranspose(dY)`: each output gradient scattered back to the inputs of its taps.
    static func backward(
        _ g: ConvGeometry, gradOutput dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>
    ) {
        let plane = g.h * g.w, outPlane = g.outH * g.outW, taps = g.kh * g.kw
        let workers = g.macs >= parallelThreshold ? Parallel.workerCount : 1
        Parallel.forEachChunk(count: g.n * g.cin, workers: workers) { _, planes in
            for p in planes {
                backwardPlane(
                    g, gradOutput: dy + p * outPlane, weight: weight + (p % g.cin) * taps,
                    gradInput: dx + p * plane)
            }
        }
    }

    @inline(__always)
    private static func backwardPlane(
        _ g: ConvGeometry, gradOutput dy: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>
    ) {
        let oh = g.outH, ow = g.outW, sw = g.strideW
        dx.update(repeating: 0, count: g.h * g.w)
        for i in 0..<g.kh {
            let offH = i * g.dilationH - g.padTop
            let rows = validOutputRange(count: oh, stride: g.strideH, offset: offH, size: g.h)
            for j in 0..<g.kw {
                let offW = j * g.dilationW - g.padLeft
                let cols = validOutputRange(count: ow, stride: sw, offset: offW, size: g.w)
                let wv = w[i * g.kw + j]
                let n = cols.count
                if n == 0 { continue }
                for r in rows {
                    let src = dy + r * ow + cols.lowerBound
                    let out = dx + (r * g.strideH + offH) * g.w + offW + cols.lowerBound * sw
                    if sw == 1 {
                        for q in 0..<n { out[q] += wv * src[q] }
                    } else {
                        for q in 0..<n { out[q * sw] += wv * src[q] }
                    }
                }
            }
        }
    }
}
