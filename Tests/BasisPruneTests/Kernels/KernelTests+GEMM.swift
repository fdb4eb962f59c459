import BasisPrune
import TestSupport
import Testing

extension KernelTests {
    @Test("GEMM facade: row-major, both transposes, padded leading dimensions, alpha and beta",
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemm(_ transA: Bool, _ transB: Bool) {
        let m = 5, n = 7, k = 3, pad = 2
        var rng = SplitMix64(seed: 11)
        let lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
        let a = rng.floats((transA ? k : m) * lda), b = rng.floats((transB ? n : k) * ldb)
        let c0 = rng.floats(m * ldc)
        let alpha: Float = 0.5, beta: Float = -2
        var c = c0
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    GEMM.multiply(
                        transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                        a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                        beta: beta, c: cp.baseAddress!, ldc: ldc)
                }
            }
        }
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                let want = Double(alpha) * s + Double(beta) * Double(c0[i * ldc + j])
                #expect(abs(Double(c[i * ldc + j]) - want) <= 1e-5 * max(1, abs(want)))
            }
            for j in n..<ldc { #expect(c[i * ldc + j] == c0[i * ldc + j], "padding untouched") }
        }
        #expect(GEMM.threadCount >= 1)
    }
}
