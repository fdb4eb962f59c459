import BasisPrune
import Foundation
import Testing
import TestSupport

extension KernelTests {
    static let activations: [Activation] = [
        .none, .relu, .clip(min: 0, max: 6), .clip(min: -0.5, max: 0.7), .leakyRelu(alpha: 0.01),
        .leakyRelu(alpha: 0.3), .sigmoid, .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish, .tanh,
    ]

    /// Inputs spread over `[-8, 8)`, away from the kinks so central differences are exact
    /// up to rounding; an odd count exercises the SIMD tail.
    static func activationInputs(_ f: Activation) -> [Float] {
        let kinks: [Float] = {
            switch f {
            case .relu, .leakyRelu: return [0]
            case .clip(let lo, let hi): return [lo, hi]
            case .hardSigmoid(let a, let b): return [-b / a, (1 - b) / a]
            case .hardSwish: return [-3, 3]
            default: return []
            }
        }()
        var rng = SplitMix64(seed: 31)
        return (0..<1001).map { _ in
            var v = rng.nextFloat() * 8
            while kinks.contains(where: { abs($0 - v) < 0.01 }) { v = rng.nextFloat() * 8 }
            return v
        }
    }

    @Test("activations forward and backward", arguments: activations)
    func activation(_ f: Activation) {
        let x = Self.activationInputs(f)
        var rng = SplitMix64(seed: 32)
        let dy = rng.floats(x.count)
        let y = Self.apply(x.count, x) { Elementwise.activation(f, $0, into: $1, count: x.count) }
        #expect(maxRelativeError(y, x.map { Reference.activation(f, Double($0)) }) <= 1e-5)

        let h = 1e-4
        let fd = zip(x, dy).map { v, g in
            g * Float((Reference.activation(f, Double(v) + h) - Reference.activation(f, Double(v) - h)) / (2 * h))
        }
        let dx = Self.apply(x.count, x) { xp, dxp in
            dy.withUnsafeBufferPointer {
                Elementwise.activationBackward(f, input: xp, dY: $0.baseAddress!, into: dxp, count: x.count)
            }
        }
        #expect(maxRelativeError(dx, fd.map(Double.init)) <= 1e-3, "\(f) from input")
        if f.derivativeFollowsFromOutput {
            let dxOut = Self.apply(x.count, y) { yp, dxp in
                dy.withUnsafeBufferPointer {
                    Elementwise.activationBackward(f, output: yp, dY: $0.baseAddress!, into: dxp, count: x.count)
                }
            }
            #expect(maxRelativeError(dxOut, fd.map(Double.init)) <= 1e-3, "\(f) from output")
        }
    }

    @Test("activations run in place")
    func activationInPlace() {
        var x = Self.activationInputs(.hardSwish)
        let want = x.map { Reference.activation(.hardSwish, Double($0)) }
        x.withUnsafeMutableBufferPointer {
            Elementwise.activation(.hardSwish, $0.baseAddress!, into: $0.baseAddress!, count: $0.count)
        }
        #expect(maxRelativeError(x, want) <= 1e-5)
    }

    @Test("binary ops, per-channel broadcast and per-channel reductions")
    func binaryOps() {
        let n = 2, c = 3, plane = 13, count = n * c * plane
        var rng = SplitMix64(seed: 33)
        let a = rng.floats(count), b = rng.floats(count).map { $0 + 3 }, v = rng.floats(c).map { $0 + 3 }
        let ops: [(BinaryOp, (Double, Double) -> Double)] = [
            (.add, +), (.sub, -), (.mul, *), (.div, /),
        ]
        for (op, f) in ops {
            let got = Self.apply(count, a) { ap, out in
                b.withUnsafeBufferPointer { Elementwise.binary(op, ap, $0.baseAddress!, into: out, count: count) }
            }
            #expect(maxRelativeError(got, zip(a, b).map { f(Double($0), Double($1)) }) <= 1e-6, "\(op)")
            let bc = Self.apply(count, a) { ap, out in
                v.withUnsafeBufferPointer {
                    Elementwise.binaryPerChannel(
                        op, ap, channelValues: $0.baseAddress!, into: out, n: n, c: c, plane: plane)
                }
            }
            let want = a.indices.map { f(Double(a[$0]), Double(v[($0 / plane) % c])) }
            #expect(maxRelativeError(bc, want) <= 1e-6, "\(op) per channel")
        }
        let sums = Self.apply(c, a) { Elementwise.sumPerChannel($0, n: n, c: c, plane: plane, into: $1) }
        let dots = Self.apply(c, a) { ap, out in
            b.withUnsafeBufferPointer {
                Elementwise.dotPerChannel(ap, $0.baseAddress!, n: n, c: c, plane: plane, into: out)
            }
        }
        for ch in 0..<c {
            let idx = a.indices.filter { ($0 / plane) % c == ch }
            #expect(abs(Double(sums[ch]) - idx.reduce(0.0) { $0 + Double(a[$1]) }) <= 1e-5)
            #expect(abs(Double(dots[ch]) - idx.reduce(0.0) { $0 + Double(a[$1]) * Double(b[$1]) }) <= 1e-4)
        }
    }

    @Test("softmax, log-softmax and their backward passes")
    func softmax() {
        let rows = 4, cols = 11
        var rng = SplitMix64(seed: 34)
        let x = rng.floats(rows * cols).map { $0 * 10 }, dy = rng.floats(rows * cols)
        let y = Self.apply(x.count, x) { Softmax.forward($0, into: $1, rows: rows, cols: cols) }
        let want = Reference.softmax(x.map(Double.init), rows: rows, cols: cols)
        #expect(maxRelativeError(y, want) <= 1e-5)
        let logY = Self.apply(x.count, x) { Softmax.logSoftmax($0, into: $1, rows: rows, cols: cols) }
        #expect(maxRelativeError(logY, want.map { Foundation.log($0) }) <= 1e-5)

        // Finite differences of <dY, softmax(x)> and <dY, logSoftmax(x)> in Double.
        func objective(_ xd: [Double], log: Bool) -> Double {
            let s = Reference.softmax(xd, rows: rows, cols: cols)
            return zip(s, dy).reduce(0.0) { $0 + (log ? Foundation.log($1.0) : $1.0) * Double($1.1) }
        }
        for useLog in [false, true] {
            let dx = Self.apply(x.count, useLog ? logY : y) { yp, dxp in
                dy.withUnsafeBufferPointer {
                    if useLog {
                        Softmax.logSoftmaxBackward(
                            output: yp, gradOutput: $0.baseAddress!, gradInput: dxp, rows: rows, cols: cols)
                    } else {
                        Softmax.backward(
                            output: yp, gradOutput: $0.baseAddress!, gradInput: dxp, rows: rows, cols: cols)
                    }
                }
            }
            let fd = Self.centralDifferences(x.map(Double.init), step: 1e-4) { objective($0, log: useLog) }
            #expect(maxRelativeError(dx, fd) <= 1e-4, "log \(useLog)")
        }
    }

    @Test("cross-entropy loss and its gradient")
    func crossEntropy() {
        let rows = 5, cols = 7
        var rng = SplitMix64(seed: 35)
        let x = rng.floats(rows * cols).map { $0 * 5 }
        let labels = (0..<rows).map { _ in rng.int(below: cols) }
        var grad = [Float](repeating: .nan, count: x.count)
        let loss = x.withUnsafeBufferPointer { xp in
            labels.withUnsafeBufferPointer { lp in
                grad.withUnsafeMutableBufferPointer { gp in
                    Softmax.crossEntropy(
                        logits: xp.baseAddress!, labels: lp.baseAddress!, rows: rows, cols: cols,
                        gradient: gp.baseAddress!)
                }
            }
        }
        let xd = x.map(Double.init)
        let want = Reference.crossEntropy(xd, labels: labels, rows: rows, cols: cols)
        #expect(abs(Double(loss) - want) <= 1e-5 * max(1, want))
        let fd = Self.centralDifferences(xd, step: 1e-4) {
            Reference.crossEntropy($0, labels: labels, rows: rows, cols: cols)
        }
        #expect(maxRelativeError(grad, fd) <= 1e-4)
    }

    static func centralDifferences(_ x: [Double], step h: Double, _ f: ([Double]) -> Double) -> [Double] {
        x.indices.map { i in
            var xp = x, xm = x
            xp[i] += h
            xm[i] -= h
            return (f(xp) - f(xm)) / (2 * h)
        }
    }
}
