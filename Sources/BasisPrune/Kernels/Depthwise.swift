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
        if g.outW < 8 && outPlane <= smallPlaneLimit {
            // Tiny planes (the late stages of a network at low resolution): a padded copy and
            // 8-wide vectors would cost more than the few taps inside the input.
            Parallel.forEachChunk(count: g.n * g.cin, workers: workers) { _, planes in
                for p in planes {
                    let ch = p % g.cin
                    smallPlane(g, input + p * plane, weight + ch * taps, output + p * outPlane)
                    if bias != nil || activation != .none {
                        activation.apply(output + p * outPlane, output + p * outPlane, count: outPlane, bias: bias?[ch] ?? 0)
                    }
                }
            }
            return
        }
        let layout = PaddedPlane(g)
        Parallel.forEachChunk(count: g.n * g.cin, workers: workers) { _, planes in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: layout.count)
            defer { buffer.deallocate() }
            // Only the interior is rewritten per plane, so the borders stay zero.
            buffer.initialize(repeating: 0, count: layout.count)
            for p in planes {
                let ch = p % g.cin
                copyInterior(
                    g, layout, plane: UnsafeMutablePointer(mutating: input + p * plane),
                    buffer: buffer, toBuffer: true)
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

    /// Output planes up to this size take the direct path.
    static let smallPlaneLimit = 16

    /// One plane by direct summation over the taps that fall inside the input.
    @inline(__always)
    private static func smallPlane(
        _ g: ConvGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>
    ) {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                var acc: Float = 0
                let top = oy * g.strideH - g.padTop, left = ox * g.strideW - g.padLeft
                for i in 0..<g.kh {
                    let iy = top + i * g.dilationH
                    if iy < 0 || iy >= g.h { continue }
                    for j in 0..<g.kw {
                        let ix = left + j * g.dilationW
                        if ix < 0 || ix >= g.w { continue }
                        acc += x[iy * g.w + ix] * w[i * g.kw + j]
                    }
                }
                y[oy * g.outW + ox] = acc
            }
        }
    }

    /// The input gradient of one tiny plane: each output's gradient scattered to the taps
    /// inside the input.
    @inline(__always)
    private static func smallPlaneBackward(
        _ g: ConvGeometry, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>
    ) {
        dx.update(repeating: 0, count: g.h * g.w)
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                let d = dy[oy * g.outW + ox]
                let top = oy * g.strideH - g.padTop, left = ox * g.strideW - g.padLeft
                for i in 0..<g.kh {
                    let iy = top + i * g.dilationH
                    if iy < 0 || iy >= g.h { continue }
                    for j in 0..<g.kw {
                        let ix = left + j * g.dilationW
                        if ix < 0 || ix >= g.w { continue }
                        dx[iy * g.w + ix] += d * w[i * g.kw + j]
                    }
                }
            }
        }
    }

    /// Copies one plane into the interior of the padded, phase-split buffer (`toBuffer`), or
    /// the interior back out into the plane.
    @inline(__always)
    private static func copyInterior(
        _ g: ConvGeometry, _ layout: PaddedPlane, plane x: UnsafeMutablePointer<Float>,
        buffer: UnsafeMutablePointer<Float>, toBuffer: Bool
    ) {
        let s = layout.phases
        for q in 0..<s {
            // Phase q, index k holds padded column q + k*s, i.e. input column k*s + q - padLeft.
            let cols = validOutputRange(
                count: layout.phaseWidth, stride: s, offset: q - g.padLeft, size: g.w)
            let first = cols.lowerBound * s + q - g.padLeft
            for r in 0..<g.h {
                let image = x + r * g.w + first
                let padded = buffer + q * layout.phaseSize + (r + g.padTop) * layout.phaseWidth
                    + cols.lowerBound
                switch (s == 1, toBuffer) {
                case (true, true): padded.update(from: image, count: cols.count)
                case (true, false): image.update(from: padded, count: cols.count)
                case (false, true): for k in 0..<cols.count { padded[k] = image[k * s] }
                case (false, false): for k in 0..<cols.count { image[k * s] = padded[k] }
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

    /// `dX = convTranspose(dY)`: each output gradient scattered to its taps in the padded,
    /// phase-split buffer (contiguous SIMD8 read-modify-writes), whose interior is then `dX`.
    static func backward(
        _ g: ConvGeometry, gradOutput dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>
    ) {
        let plane = g.h * g.w, outPlane = g.outH * g.outW, taps = g.kh * g.kw
        let workers = g.macs >= parallelThreshold ? Parallel.workerCount : 1
        if g.outW < 8 && outPlane <= smallPlaneLimit {
            Parallel.forEachChunk(count: g.n * g.cin, workers: workers) { _, planes in
                for p in planes { smallPlaneBackward(g, dy + p * outPlane, weight + (p % g.cin) * taps, dx + p * plane) }
            }
            return
        }
        let layout = PaddedPlane(g)
        Parallel.forEachChunk(count: g.n * g.cin, workers: workers) { _, planes in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: layout.count)
            defer { buffer.deallocate() }
            for p in planes {
                buffer.initialize(repeating: 0, count: layout.count)
                let w = weight + (p % g.cin) * taps, d = dy + p * outPlane
                if g.kh == 3 && g.kw == 3 && g.strideW == 1 {
                    backwardPlane(g, layout, kh: 3, kw: 3, sw: 1, d, w, buffer)
                } else if g.kh == 3 && g.kw == 3 && g.strideW == 2 {
                    backwardPlane(g, layout, kh: 3, kw: 3, sw: 2, d, w, buffer)
                } else if g.kh == 5 && g.kw == 5 && g.strideW == 1 {
                    backwardPlane(g, layout, kh: 5, kw: 5, sw: 1, d, w, buffer)
                } else if g.kh == 5 && g.kw == 5 && g.strideW == 2 {
                    backwardPlane(g, layout, kh: 5, kw: 5, sw: 2, d, w, buffer)
                } else {
                    backwardPlane(g, layout, kh: g.kh, kw: g.kw, sw: g.strideW, d, w, buffer)
                }
                copyInterior(g, layout, plane: dx + p * plane, buffer: buffer, toBuffer: false)
            }
        }
    }

    @inline(__always)
    private static func backwardPlane(
        _ g: ConvGeometry, _ layout: PaddedPlane, kh: Int, kw: Int, sw: Int,
        _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ buffer: UnsafeMutablePointer<Float>
    ) {
        let oh = g.outH, ow = g.outW
        // Tap-major order: consecutive read-modify-writes touch disjoint vectors; row-major
        // order would reload vectors the previous tap just stored, shifted by one lane, and
        // stall on store forwarding.
        for i in 0..<kh {
            for j in 0..<kw {
                let column = j * g.dilationW
                let tapBase = buffer + i * g.dilationH * layout.phaseWidth
                    + (column % sw) * layout.phaseSize + column / sw
                let wv = V(repeating: w[i * kw + j])
                for r in 0..<oh {
                    let grad = dy + r * ow
                    let tap = tapBase + r * g.strideH * layout.phaseWidth
                    var c = 0
                    while c + 8 <= ow {
                        SIMDLoops.store(SIMDLoops.load(tap, c) + wv * SIMDLoops.load(grad, c), tap, c)
                        c += 8
                    }
                    // Zero lanes past the last column add nothing to the buffer's slack.
                    if c < ow {
                        let d = SIMDLoops.loadTail(grad, c, ow - c)
                        SIMDLoops.store(SIMDLoops.load(tap, c) + wv * d, tap, c)
                    }
                }
            }
        }
    }
}
