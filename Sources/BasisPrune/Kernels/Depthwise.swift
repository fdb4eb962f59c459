/// Direct depthwise convolution (one input and one output channel per group), forward and
/// backward, over float32 NCHW.
///
/// Each plane is first copied into a zero-bordered buffer split into `strideW` column phases
/// (phase `q` holds padded columns `q, q + s, q + 2s, ...`), so every kernel tap of every output
/// row reads or writes a *contiguous* run of the buffer and nothing in the hot loop checks
/// bounds: the borders are handled once, by the padding copy. Output columns go 8 at a time in
/// SIMD8 registers holding all the taps' sums. Planes (image, channel) are split over 2 workers
/// when the work is large enough.
enum Depthwise {
    typealias V = SIMD8<Float>

    /// Below this many multiply-adds a conv runs on the calling thread.
    static let parallelThreshold = 1 << 16

    /// The phase-split, zero-bordered copy of one plane.
    struct PaddedPlane {
        let rows: Int, phaseWidth: Int, phases: Int

        init(_ g: ConvGeometry) {
            rows = g.h + g.padTop + g.padBottom
            phases = g.strideW
            // 8 columns of slack: a SIMD8 tail may read (never use) past the last output.
            phaseWidth = (g.w + g.padLeft + g.padRight + phases - 1) / phases + 8
        }

        var phaseSize: Int { rows * phaseWidth }
        var count: Int { phases * phaseSize }
    }

    static func forward(
        _ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, activation: Activation
    ) {
        let plane = g.h * g.w, outPlane = g.outH * g.outW, taps = g.kh * g.kw
        let workers = g.macs >= parallelThreshold ? Parallel.workerCount : 1
        let layout = PaddedPlane(g)
        Parallel.forEachChunk(count: g.n * g.cin, workers: workers) { _, planes in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: layout.count)
            defer { buffer.deallocate() }
            // Only the interior is rewritten per plane, so the borders stay zero.
            buffer.initialize(repeating: 0, count: layout.count)
            for p in planes {
                let ch = p % g.cin
                pack(g, layout, input + p * plane, buffer)
                let w = weight + ch * taps, y = output + p * outPlane
                // Constant kernel sizes and strides let the tap loops unroll fully.
                if g.kh == 3 && g.kw == 3 && g.strideW == 1 {
                    forwardPlane(g, layout, kh: 3, kw: 3, sw: 1, buffer, w, y)
                } else if g.kh == 3 && g.kw == 3 && g.strideW == 2 {
                    forwardPlane(g, layout, kh: 3, kw: 3, sw: 2, buffer, w, y)
                } else if g.kh == 5 && g.kw == 5 && g.strideW == 1 {
                    forwardPlane(g, layout, kh: 5, kw: 5, sw: 1, buffer, w, y)
                } else if g.kh == 5 && g.kw == 5 && g.strideW == 2 {
                    forwardPlane(g, layout, kh: 5, kw: 5, sw: 2, buffer, w, y)
                } else {
                    forwardPlane(g, layout, kh: g.kh, kw: g.kw, sw: g.strideW, buffer, w, y)
                }
                if bias != nil || activation != .none {
                    activation.apply(y, y, count: outPlane, bias: bias?[ch] ?? 0)
                }
            }
        }
    }

    /// Copies one plane into the interior of the padded, phase-split buffer.
    @inline(__always)
    private static func pack(
        _ g: ConvGeometry, _ layout: PaddedPlane, _ x: UnsafePointer<Float>,
        _ buffer: UnsafeMutablePointer<Float>
    ) {
        let s = layout.phases
        for q in 0..<s {
            // Phase q, index k holds padded column q + k*s, i.e. input column k*s + q - padLeft.
            let cols = validOutputRange(
                count: layout.phaseWidth, stride: s, offset: q - g.padLeft, size: g.w)
            let first = cols.lowerBound * s + q - g.padLeft
            for r in 0..<g.h {
                let src = x + r * g.w + first
                let dst = buffer + q * layout.phaseSize + (r + g.padTop) * layout.phaseWidth
                    + cols.lowerBound
                if s == 1 {
                    dst.update(from: src, count: cols.count)
                } else {
                    for k in 0..<cols.count { dst[k] = src[k * s] }
                }
            }
        }
    }

    @inline(__always)
    private static func forwardPlane(
        _ g: ConvGeometry, _ layout: PaddedPlane, kh: Int, kw: Int, sw: Int,
        _ buffer: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>
    ) {
        let oh = g.outH, ow = g.outW
        for r in 0..<oh {
            let out = y + r * ow
            var c = 0
            while c < ow {
                var acc = V()
                for i in 0..<kh {
                    let row = buffer + (r * g.strideH + i * g.dilationH) * layout.phaseWidth + c
                    for j in 0..<kw {
                        // `sw` is a constant here, so the phase split costs no division.
                        let column = j * g.dilationW
                        let tap = row + (column % sw) * layout.phaseSize + column / sw
                        acc += V(repeating: w[i * kw + j]) * SIMDLoops.load(tap, 0)
                    }
                }
                if c + 8 <= ow {
                    SIMDLoops.store(acc, out, c)
                } else {
                    SIMDLoops.storeTail(acc, out, c, ow - c)
                }
                c += 8
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
