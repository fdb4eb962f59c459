/// The shape of a 2-D MaxPool or AveragePool over float32 NCHW, with ONNX semantics.
///
/// Pads are explicit per side. With `ceilMode` the last window may start in the bottom/right
/// padding but never entirely past it (a window starting at or beyond `h + padTop` is dropped,
/// as in onnx/reference and PyTorch).
public struct PoolGeometry: Sendable, Equatable, CustomStringConvertible {
    public var n: Int, c: Int, h: Int, w: Int
    public var kh: Int, kw: Int
    public var strideH: Int, strideW: Int
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    public var dilationH: Int, dilationW: Int
    public var ceilMode: Bool

    public init(
        n: Int, c: Int, h: Int, w: Int, kh: Int, kw: Int, strideH: Int = 1, strideW: Int = 1,
        padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0,
        dilationH: Int = 1, dilationW: Int = 1, ceilMode: Bool = false
    ) {
        self.n = n; self.c = c; self.h = h; self.w = w; self.kh = kh; self.kw = kw
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
        self.dilationH = dilationH; self.dilationW = dilationW
        self.ceilMode = ceilMode
    }

    public var outH: Int {
        Self.outSize(h, kh, strideH, padTop, padBottom, dilationH, ceilMode)
    }
    public var outW: Int {
        Self.outSize(w, kw, strideW, padLeft, padRight, dilationW, ceilMode)
    }

    public var inputCount: Int { n * c * h * w }
    public var outputCount: Int { n * c * outH * outW }

    public var isValid: Bool {
        n >= 0 && c > 0 && h > 0 && w > 0 && kh > 0 && kw > 0 && strideH > 0 && strideW > 0
            && dilationH > 0 && dilationW > 0 && min(padTop, padLeft, padBottom, padRight) >= 0
            && padTop < kh && padBottom < kh && padLeft < kw && padRight < kw
            && outH > 0 && outW > 0
    }

    public var description: String {
        "pool n\(n) \(c)x\(h)x\(w) -> \(outH)x\(outW) k\(kh)x\(kw) s\(strideH),\(strideW)"
            + " p\(padTop),\(padLeft),\(padBottom),\(padRight) d\(dilationH),\(dilationW)"
            + (ceilMode ? " ceil" : "")
    }

    private static func outSize(
        _ size: Int, _ k: Int, _ s: Int, _ padBegin: Int, _ padEnd: Int, _ d: Int, _ ceil: Bool
    ) -> Int {
        let span = size + padBegin + padEnd - d * (k - 1) - 1
        if span < 0 { return 0 }
        guard ceil else { return span / s + 1 }
        var out = (span + s - 1) / s + 1
        if (out - 1) * s >= size + padBegin { out -= 1 }
        return out
    }
}

/// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool over float32 NCHW, forward and
/// backward (input gradients). Planes (image, channel) are split over 2 workers when large.
public enum Pooling {
    /// `y[n, c, oh, ow]` = max over the window's taps inside the image (padding never wins).
    public static func maxPool(
        _ g: PoolGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        precondition(g.isValid, "MaxPool: invalid geometry \(g)")
        forEachWindow(g) { p, o, taps in
            let x = input + p * g.h * g.w
            var best = -Float.infinity
            taps.forEach { best = max(best, x[$0]) }
            output[p * g.outH * g.outW + o] = best
        }
    }

    /// Routes each output gradient to the first maximal input of its window (scan order, as
    /// in the forward pass). `input` is the forward input; `gradInput` is overwritten.
    public static func maxPoolBackward(
        _ g: PoolGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>
    ) {
        precondition(g.isValid, "MaxPool: invalid geometry \(g)")
        gradInput.update(repeating: 0, count: g.inputCount)
        forEachWindow(g) { p, o, taps in
            let x = input + p * g.h * g.w
            var best = -Float.infinity, at = -1
            taps.forEach { i in
                if x[i] > best || at < 0 { best = x[i]; at = i }
            }
            gradInput[p * g.h * g.w + at] += gradOutput[p * g.outH * g.outW + o]
        }
    }

    /// Window mean. The divisor counts taps inside the image, plus taps in the explicit padding
    /// when `countIncludePad` (ceil-mode overhang past the padding never counts). Dilations
    /// must be 1 (AveragePool has them only since opset 19; not supported here).
    public static func averagePool(
        _ g: PoolGeometry, countIncludePad: Bool, input: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(g.isValid, "AveragePool: invalid geometry \(g)")
        precondition(g.dilationH == 1 && g.dilationW == 1, "AveragePool: dilations unsupported")
        forEachWindow(g) { p, o, taps in
            let x = input + p * g.h * g.w
            var sum: Float = 0
            taps.forEach { sum += x[$0] }
            output[p * g.outH * g.outW + o] = sum / Float(taps.divisor(countIncludePad))
        }
    }

    /// Spreads each output gradient evenly over its window's taps inside the image.
    public static func averagePoolBackward(
        _ g: PoolGeometry, countIncludePad: Bool, gradOutput: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>
    ) {
        precondition(g.isValid, "AveragePool: invalid geometry \(g)")
        precondition(g.dilationH == 1 && g.dilationW == 1, "AveragePool: dilations unsupported")
        gradInput.update(repeating: 0, count: g.inputCount)
        forEachWindow(g) { p, o, taps in
            let dx = gradInput + p * g.h * g.w
            let share = gradOutput[p * g.outH * g.outW + o] / Float(taps.divisor(countIncludePad))
            taps.forEach { dx[$0] += share }
        }
    }

    /// `y[n, c] = mean of x[n, c, :, :]`; `plane = h * w`.
    public static func globalAveragePool(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, n: Int, c: Int, plane: Int
    ) {
        for p in 0..<(n * c) {
            output[p] = Float(SIMDLoops.dot(input + p * plane, nil, plane) / Double(plane))
        }
    }

    /// `dX[n, c, :, :] = dY[n, c] / plane`.
    public static func globalAveragePoolBackward(
        gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
        n: Int, c: Int, plane: Int
    ) {
        for p in 0..<(n * c) {
            (gradInput + p * plane).update(repeating: gradOutput[p] / Float(plane), count: plane)
        }
    }

    /// `y[n, c] = max of x[n, c, :, :]`.
    public static func globalMaxPool(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, n: Int, c: Int, plane: Int
    ) {
        for p in 0..<(n * c) {
            let x = input + p * plane
            var best = -Float.infinity
            for i in 0..<plane { best = max(best, x[i]) }
            output[p] = best
        }
    }

    /// Routes `dY[n, c]` to the first maximal element of the plane.
    public static func globalMaxPoolBackward(
        input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>, n: Int, c: Int, plane: Int
    ) {
        gradInput.update(repeating: 0, count: n * c * plane)
        for p in 0..<(n * c) {
            let x = input + p * plane
            var at = 0
            for i in 1..<max(plane, 1) where x[i] > x[at] { at = i }
            gradInput[p * plane + at] = gradOutput[p]
        }
    }

    /// The taps of one window: rows and columns inside the image, and how many fell in padding.
    struct Window {
        var rows: StrideTo<Int>, cols: StrideTo<Int>
        var width: Int
        var inside: Int, insidePadding: Int

        @inline(__always)
        func forEach(_ body: (Int) -> Void) {
            for r in rows {
                for c in cols { body(r * width + c) }
            }
        }

        @inline(__always)
        func divisor(_ countIncludePad: Bool) -> Int { countIncludePad ? insidePadding : inside }
    }

    /// Calls `body(plane, outputIndex, window)` for every output element.
    private static func forEachWindow(
        _ g: PoolGeometry, _ body: (_ plane: Int, _ output: Int, _ window: Window) -> Void
    ) {
        let oh = g.outH, ow = g.outW
        let planes = g.n * g.c
        let workers = planes * oh * ow * g.kh * g.kw >= 1 << 16 ? Parallel.workerCount : 1
        Parallel.forEachChunk(count: planes, workers: workers) { _, range in
            for p in range {
                for r in 0..<oh {
                    let (rows, rowsIn, rowsPad) = taps(
                        r * g.strideH - g.padTop, g.kh, g.dilationH, g.h, g.padBottom)
                    for c in 0..<ow {
                        let (cols, colsIn, colsPad) = taps(
                            c * g.strideW - g.padLeft, g.kw, g.dilationW, g.w, g.padRight)
                        let window = Window(
                            rows: rows, cols: cols, width: g.w,
                            inside: rowsIn * colsIn, insidePadding: rowsPad * colsPad)
                        body(p, r * ow + c, window)
                    }
                }
            }
        }
    }

    /// Taps `start + i * d` (i < k) inside `0..<size`, their count, and the count inside
    /// `-padBegin ..< size + padEnd` (start is never below `-padBegin`).
    @inline(__always)
    private static func taps(
        _ start: Int, _ k: Int, _ d: Int, _ size: Int, _ padEnd: Int
    ) -> (StrideTo<Int>, Int, Int) {
        let first = start >= 0 ? 0 : (-start + d - 1) / d
        let lastInside = (size - 1 - start) / d  // last i with start + i*d < size
        let lastPad = (size + padEnd - 1 - start) / d
        let inside = max(0, min(k - 1, lastInside) - first + 1)
        let padded = max(0, min(k - 1, lastPad) + 1)
        let from = start + first * d
        return (stride(from: from, to: from + inside * d, by: d), inside, padded)
    }
}
