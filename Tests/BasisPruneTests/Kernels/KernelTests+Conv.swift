import BasisPrune
import Testing
import TestSupport

extension KernelTests {
    /// Every combination the brief lists; geometries whose output would be empty are skipped.
    static let convGrid: [ConvGeometry] = {
        var grid: [ConvGeometry] = []
        let pads: [(Int, Int, Int, Int)] = [(0, 0, 0, 0), (0, 1, 1, 0), (2, 1, 1, 2)]
        for k in [1, 3, 5] {
            for s in [1, 2] {
                for d in [1, 2] where !(k == 1 && d == 2) {
                    for groups in [1, 2, 0] {
                        for p in pads {
                            for n in [1, 3] {
                                let cin = groups == 0 ? 6 : 4
                                let cout = groups == 0 ? 6 : 6
                                var g = ConvGeometry(
                                    n: n, cin: cin, h: 9, w: 7, cout: cout, kh: k, kw: k,
                                    strideH: s, strideW: s, dilationH: d, dilationW: d,
                                    padTop: p.0, padLeft: p.1, padBottom: p.2, padRight: p.3,
                                    groups: groups == 0 ? cin : groups)
                                if k == 3 && s == 2 { g.kw = 1 }  // a non-square kernel too
                                if g.isValid { grid.append(g) }
                            }
                        }
                    }
                }
            }
        }
        return grid
    }()

    static func runConv(
        _ g: ConvGeometry, x: [Float], w: [Float], b: [Float]?, activation: Activation = .none,
        useScratch: Bool = true
    ) -> [Float] {
        var y = [Float](repeating: .nan, count: g.outputCount)
        var scratch = [Float](repeating: 0, count: ConvForward.scratchCount(g))
        let bias = b.map { b in UnsafeMutablePointer<Float>.allocate(capacity: b.count) }
        defer { bias?.deallocate() }
        if let b, let bias { bias.initialize(from: b, count: b.count) }
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    scratch.withUnsafeMutableBufferPointer { sp in
                        ConvForward.run(
                            g, input: xp.baseAddress!, weight: wp.baseAddress!,
                            bias: bias.map { UnsafePointer($0) }, output: yp.baseAddress!,
                            activation: activation, scratch: useScratch ? sp.baseAddress : nil)
                    }
                }
            }
        }
        return y
    }

    static func runConvBackward(_ g: ConvGeometry, dy: [Float], w: [Float]) -> [Float] {
        var dx = [Float](repeating: .nan, count: g.inputCount)
        dy.withUnsafeBufferPointer { dyp in
            w.withUnsafeBufferPointer { wp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    ConvBackward.gradInput(
                        g, gradOutput: dyp.baseAddress!, weight: wp.baseAddress!,
                        gradInput: dxp.baseAddress!)
                }
            }
        }
        return dx
    }

    @Test("conv forward matches the reference over the grid", arguments: convGrid.indices)
    func convForward(_ index: Int) {
        let g = Self.convGrid[index]
        var rng = SplitMix64(seed: UInt64(index) &+ 1)
        let x = rng.floats(g.inputCount), w = rng.floats(g.weightCount)
        let b: [Float]? = index % 2 == 0 ? rng.floats(g.cout) : nil
        let got = Self.runConv(g, x: x, w: w, b: b, useScratch: index % 3 != 0)
        let err = maxRelativeError(got, Reference.conv(g, x: x, w: w, b: b))
        #expect(err <= 1e-4, "\(g): relative error \(err)")
    }

    @Test("conv backward matches the reference transpose over the grid", arguments: convGrid.indices)
    func convBackward(_ index: Int) {
        let g = Self.convGrid[index]
        var rng = SplitMix64(seed: UInt64(index) &+ 1000)
        let dy = rng.floats(g.outputCount), w = rng.floats(g.weightCount)
        let got = Self.runConvBackward(g, dy: dy, w: w)
        let err = maxRelativeError(got, Reference.convTranspose(g, dy: dy, w: w))
        #expect(err <= 1e-4, "\(g): relative error \(err)")
    }

    /// Big enough to take the parallel paths (2 workers, single-threaded GEMMs).
    static let parallelGrid: [ConvGeometry] = [
        ConvGeometry(n: 3, cin: 8, h: 12, w: 11, cout: 16, kh: 3, kw: 3, strideH: 2, strideW: 2,
                     padTop: 0, padLeft: 0, padBottom: 1, padRight: 1),
        ConvGeometry(n: 3, cin: 16, h: 12, w: 12, cout: 24, kh: 1, kw: 1),
        ConvGeometry(n: 3, cin: 32, h: 15, w: 13, cout: 32, kh: 3, kw: 3, padTop: 1, padLeft: 1,
                     padBottom: 1, padRight: 1, groups: 32),
        ConvGeometry(n: 3, cin: 24, h: 16, w: 16, cout: 24, kh: 5, kw: 5, strideH: 2, strideW: 2,
                     padTop: 1, padLeft: 1, padBottom: 2, padRight: 2, groups: 24),
    ]

    @Test("parallel conv paths match the reference", arguments: parallelGrid)
    func convParallel(_ g: ConvGeometry) {
        #expect(g.macs >= 1 << 16)
        var rng = SplitMix64(seed: UInt64(g.macs))
        let x = rng.floats(g.inputCount), w = rng.floats(g.weightCount), b = rng.floats(g.cout)
        let y = Self.runConv(g, x: x, w: w, b: b, activation: .clip(min: 0, max: 6))
        let want = Reference.conv(g, x: x, w: w, b: b).map { Reference.activation(.clip(min: 0, max: 6), $0) }
        #expect(maxRelativeError(y, want) <= 1e-4, "\(g) forward")
        let dy = rng.floats(g.outputCount)
        let dx = Self.runConvBackward(g, dy: dy, w: w)
        #expect(maxRelativeError(dx, Reference.convTranspose(g, dy: dy, w: w)) <= 1e-4, "\(g) backward")
    }

    @Test(
        "fused activations equal conv then activation",
        arguments: [
            Activation.relu, .clip(min: 0, max: 6), .leakyRelu(alpha: 0.1), .sigmoid,
            .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish, .tanh,
        ])
    func convFusedActivation(_ f: Activation) {
        var rng = SplitMix64(seed: 77)
        let geometries = [
            ConvGeometry(n: 2, cin: 3, h: 8, w: 8, cout: 5, kh: 3, kw: 3, padTop: 1, padLeft: 1,
                         padBottom: 1, padRight: 1),
            ConvGeometry(n: 2, cin: 4, h: 5, w: 6, cout: 8, kh: 1, kw: 1),
            ConvGeometry(n: 2, cin: 4, h: 7, w: 7, cout: 4, kh: 3, kw: 3, strideH: 2, strideW: 2,
                         padTop: 0, padLeft: 0, padBottom: 1, padRight: 1, groups: 4),
        ]
        for g in geometries {
            let x = rng.floats(g.inputCount).map { $0 * 4 }, w = rng.floats(g.weightCount)
            let b = rng.floats(g.cout)
            let got = Self.runConv(g, x: x, w: w, b: b, activation: f)
            let want = Reference.conv(g, x: x, w: w, b: b).map { Reference.activation(f, $0) }
            let err = maxRelativeError(got, want)
            #expect(err <= 1e-4, "\(g) \(f): relative error \(err)")
        }
    }

    /// `d<dY, conv(x)>/dx` by central differences in Double through the reference conv.
    @Test("conv backward agrees with finite differences", arguments: [1, 2, 4])
    func convBackwardFiniteDifference(_ groups: Int) {
        let g = ConvGeometry(
            n: 1, cin: 4, h: 5, w: 6, cout: 4, kh: 3, kw: 3, strideH: 2, strideW: 1,
            dilationH: 1, dilationW: 2, padTop: 0, padLeft: 1, padBottom: 1, padRight: 0,
            groups: groups)
        var rng = SplitMix64(seed: 4242)
        let x = rng.floats(g.inputCount), w = rng.floats(g.weightCount), dy = rng.floats(g.outputCount)
        func objective(_ x: [Float]) -> Double {
            zip(Reference.conv(g, x: x, w: w, b: nil), dy).reduce(0) { $0 + $1.0 * Double($1.1) }
        }
        let dx = Self.runConvBackward(g, dy: dy, w: w)
        let h: Float = 0.25  // the objective is linear in x, so a large step is exact
        for i in 0..<x.count {
            var xp = x, xm = x
            xp[i] += h
            xm[i] -= h
            let fd = (objective(xp) - objective(xm)) / Double(xp[i] - xm[i])
            #expect(abs(fd - Double(dx[i])) <= 1e-4 * max(abs(fd), 1), "dx[\(i)] \(dx[i]) vs \(fd)")
        }
    }
}
