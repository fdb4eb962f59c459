import BasisPrune
import Testing
import TestSupport

extension KernelTests {
    /// Kernel, stride, pads, dilation, ceil mode and both count_include_pad settings.
    static let poolGrid: [PoolGeometry] = {
        var grid: [PoolGeometry] = []
        let pads: [(Int, Int, Int, Int)] = [(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 1, 0)]
        for k in [2, 3] {
            for s in [1, 2, 3] {
                for d in [1, 2] {
                    for p in pads {
                        for ceil in [false, true] {
                            let g = PoolGeometry(
                                n: 2, c: 3, h: 7, w: 8, kh: k, kw: k == 2 ? 3 : k,
                                strideH: s, strideW: s, padTop: p.0, padLeft: p.1,
                                padBottom: p.2, padRight: p.3, dilationH: d, dilationW: 1,
                                ceilMode: ceil)
                            if g.isValid { grid.append(g) }
                        }
                    }
                }
            }
        }
        return grid
    }()

    static func apply(
        _ count: Int, _ a: [Float], _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        a.withUnsafeBufferPointer { ap in
            out.withUnsafeMutableBufferPointer { body(ap.baseAddress!, $0.baseAddress!) }
        }
        return out
    }

    @Test("pool output sizes follow ONNX", arguments: poolGrid.indices)
    func poolOutputSize(_ index: Int) {
        let g = Self.poolGrid[index]
        let oh = Reference.poolOutputSize(
            size: g.h, kernel: g.kh, stride: g.strideH, padBegin: g.padTop, padEnd: g.padBottom,
            dilation: g.dilationH, ceil: g.ceilMode)
        let ow = Reference.poolOutputSize(
            size: g.w, kernel: g.kw, stride: g.strideW, padBegin: g.padLeft, padEnd: g.padRight,
            dilation: g.dilationW, ceil: g.ceilMode)
        #expect(g.outH == oh && g.outW == ow, "\(g)")
    }

    @Test("max and average pool forward match the reference", arguments: poolGrid.indices)
    func poolForward(_ index: Int) {
        let g = Self.poolGrid[index]
        var rng = SplitMix64(seed: UInt64(index) &+ 5000)
        let x = rng.floats(g.inputCount)
        let maxGot = Self.apply(g.outputCount, x) { Pooling.maxPool(g, input: $0, output: $1) }
        #expect(maxRelativeError(maxGot, Reference.maxPool(g, x: x)) <= 1e-6, "\(g)")
        guard g.dilationH == 1 && g.dilationW == 1 else { return }
        for include in [false, true] {
            let got = Self.apply(g.outputCount, x) {
                Pooling.averagePool(g, countIncludePad: include, input: $0, output: $1)
            }
            let err = maxRelativeError(got, Reference.averagePool(g, countIncludePad: include, x: x))
            #expect(err <= 1e-5, "\(g) count_include_pad \(include): \(err)")
        }
    }

    /// Pool backward is the transpose of the (locally linear) forward: check
    /// `<dY, pool(x + h e_i)> - <dY, pool(x - h e_i)>` over `2h` against `dX[i]`.
    @Test("max and average pool backward agree with finite differences", arguments: poolGrid.indices)
    func poolBackward(_ index: Int) {
        let g = Self.poolGrid[index]
        var rng = SplitMix64(seed: UInt64(index) &+ 6000)
        let x = rng.floats(g.inputCount), dy = rng.floats(g.outputCount)
        // Well-separated values so a small step never changes a window's argmax.
        let xs = x.indices.map { Float(($0 * 7919) % x.count) / Float(x.count) + x[$0] * 1e-4 }
        func check(_ name: String, _ dx: [Float], _ f: ([Float]) -> [Double], _ input: [Float]) {
            let h: Float = 1e-3
            for i in input.indices {
                var xp = input, xm = input
                xp[i] += h
                xm[i] -= h
                let fp = zip(f(xp), dy).reduce(0.0) { $0 + $1.0 * Double($1.1) }
                let fm = zip(f(xm), dy).reduce(0.0) { $0 + $1.0 * Double($1.1) }
                let fd = (fp - fm) / Double(xp[i] - xm[i])
                if abs(fd - Double(dx[i])) > 1e-3 * max(1, abs(fd)) {
                    Issue.record("\(name) \(g): dx[\(i)] \(dx[i]) vs \(fd)")
                    return
                }
            }
        }
        let dxMax = Self.apply(g.inputCount, xs) { xp, dxp in
            dy.withUnsafeBufferPointer {
                Pooling.maxPoolBackward(g, input: xp, gradOutput: $0.baseAddress!, gradInput: dxp)
            }
        }
        check("maxPool", dxMax, { Reference.maxPool(g, x: $0) }, xs)
        guard g.dilationH == 1 && g.dilationW == 1 else { return }
        for include in [false, true] {
            let dx = Self.apply(g.inputCount, dy) {
                Pooling.averagePoolBackward(g, countIncludePad: include, gradOutput: $0, gradInput: $1)
            }
            check("averagePool", dx, { Reference.averagePool(g, countIncludePad: include, x: $0) }, x)
        }
    }

    /// onnx backend case `test_averagepool_2d_ceil`, and the same window with padding counted.
    @Test("pinned: averagepool_2d_ceil")
    func averagePoolCeilPinned() {
        let x: [Float] = (1...16).map(Float.init)
        let g = PoolGeometry(n: 1, c: 1, h: 4, w: 4, kh: 3, kw: 3, strideH: 2, strideW: 2, ceilMode: true)
        let y = Self.apply(g.outputCount, x) {
            Pooling.averagePool(g, countIncludePad: false, input: $0, output: $1)
        }
        #expect(y == [6, 7.5, 12, 13.5])
        var padded = g
        padded.padTop = 1
        padded.padLeft = 1
        let yp = Self.apply(padded.outputCount, x) {
            Pooling.averagePool(padded, countIncludePad: true, input: $0, output: $1)
        }
        // Windows start at -1 and 1: the first counts 9 cells (4 of them padding), the last
        // ends at row/column 3 with no padding beyond it.
        #expect(padded.outH == 2 && padded.outW == 2)
        let sums: [Float] = [1 + 2 + 5 + 6, 2 + 3 + 4 + 6 + 7 + 8, 5 + 6 + 9 + 10 + 13 + 14, 99]
        #expect(yp == sums.map { $0 / 9 })
    }

    @Test("global average and max pool, forward and backward")
    func globalPools() {
        let n = 3, c = 4, plane = 5 * 7
        var rng = SplitMix64(seed: 99)
        let x = rng.floats(n * c * plane), dy = rng.floats(n * c)
        let avg = Self.apply(n * c, x) {
            Pooling.globalAveragePool(input: $0, output: $1, n: n, c: c, plane: plane)
        }
        let mx = Self.apply(n * c, x) {
            Pooling.globalMaxPool(input: $0, output: $1, n: n, c: c, plane: plane)
        }
        let dAvg = Self.apply(n * c * plane, dy) {
            Pooling.globalAveragePoolBackward(gradOutput: $0, gradInput: $1, n: n, c: c, plane: plane)
        }
        let dMax = Self.apply(n * c * plane, x) { xp, dxp in
            dy.withUnsafeBufferPointer {
                Pooling.globalMaxPoolBackward(
                    input: xp, gradOutput: $0.baseAddress!, gradInput: dxp, n: n, c: c, plane: plane)
            }
        }
        for p in 0..<(n * c) {
            let slice = x[(p * plane)..<((p + 1) * plane)]
            let mean = slice.reduce(0.0) { $0 + Double($1) } / Double(plane)
            #expect(abs(Double(avg[p]) - mean) <= 1e-6)
            #expect(mx[p] == slice.max())
            let argmax = slice.firstIndex(of: slice.max()!)!
            for i in slice.indices {
                #expect(abs(dAvg[i] - dy[p] / Float(plane)) <= 1e-7)
                #expect(dMax[i] == (i == argmax ? dy[p] : 0))
            }
        }
    }
}
