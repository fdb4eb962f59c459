import BasisPrune
import Foundation

/// Best wall time in seconds of `reps` calls of `body`, after one warm-up call.
func bestTime(reps: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<reps {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    for i in 0..<count { p[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
    return p
}

func row(_ name: String, flops: Double, seconds: Double) {
    print(
        name.padding(toLength: 44, withPad: " ", startingAt: 0)
            + String(format: "%9.2f ms %9.1f GFLOP/s", seconds * 1e3, flops / seconds / 1e9))
}

print("GEMM threads: \(GEMM.threadCount)")

do {
    let n = 1024
    let a = buffer(n * n), b = buffer(n * n), c = buffer(n * n)
    let t = bestTime(reps: 10) {
        GEMM.multiply(
            transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: a, lda: n, b: b, ldb: n,
            beta: 0, c: c, ldc: n)
    }
    row("sgemm 1024^3", flops: 2 * Double(n * n * n), seconds: t)
}

let batch = 256
let layers: [(String, ConvGeometry)] = [
    ("stem 3x3/2 3->32 @32x32", ConvGeometry(
        n: batch, cin: 3, h: 32, w: 32, cout: 32, kh: 3, kw: 3, strideH: 2, strideW: 2,
        padTop: 0, padLeft: 0, padBottom: 1, padRight: 1)),
    ("depthwise 3x3 32 @16x16", ConvGeometry(
        n: batch, cin: 32, h: 16, w: 16, cout: 32, kh: 3, kw: 3,
        padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 32)),
    ("pointwise 1x1 32->16 @16x16", ConvGeometry(
        n: batch, cin: 32, h: 16, w: 16, cout: 16, kh: 1, kw: 1)),
    ("pointwise 1x1 16->96 @16x16", ConvGeometry(
        n: batch, cin: 16, h: 16, w: 16, cout: 96, kh: 1, kw: 1)),
    ("depthwise 3x3/2 96 @16x16", ConvGeometry(
        n: batch, cin: 96, h: 16, w: 16, cout: 96, kh: 3, kw: 3, strideH: 2, strideW: 2,
        padTop: 0, padLeft: 0, padBottom: 1, padRight: 1, groups: 96)),
    ("depthwise 3x3 96 @8x8", ConvGeometry(
        n: batch, cin: 96, h: 8, w: 8, cout: 96, kh: 3, kw: 3,
        padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 96)),
]

/// `bench [substring]` times only the layers whose name contains it (sgemm always runs).
let filter = CommandLine.arguments.dropFirst().first
for (name, g) in layers where filter.map({ name.contains($0) }) ?? true {
    let x = buffer(g.inputCount), w = buffer(g.weightCount), bias = buffer(g.cout)
    let y = buffer(g.outputCount)
    let scratch = buffer(max(ConvForward.scratchCount(g), ConvBackward.scratchCount(g)))
    let flops = 2 * Double(g.macs)
    let forward = bestTime(reps: 10) {
        ConvForward.run(
            g, input: x, weight: w, bias: bias, output: y, activation: .clip(min: 0, max: 6),
            scratch: scratch)
    }
    row("fwd+bias+relu6 " + name, flops: flops, seconds: forward)
    let backward = bestTime(reps: 10) {
        ConvBackward.gradInput(g, gradOutput: y, weight: w, gradInput: x, scratch: scratch)
    }
    row("bwd " + name, flops: flops, seconds: backward)
    for p in [x, w, bias, y, scratch] { p.deallocate() }
}
