internal import CBLAS

/// Single-precision matrix product through OpenBLAS: the only CBLAS caller in the package.
///
/// Layout: every matrix is **row-major** (C order), as NCHW tensors are. `lda`, `ldb`, `ldc`
/// are row strides in elements of the matrices *as stored*: A is stored `m x k` (or `k x m`
/// when `transA`), B is stored `k x n` (or `n x k` when `transB`), C is `m x n`.
/// Computes `C = alpha * op(A) * op(B) + beta * C`; with `beta == 0` C need not be initialised.
public enum GEMM {
    /// OpenBLAS starts with as many threads as cores; the engine wants `Parallel.workerCount`
    /// (2 unless `ComputeThreads.set` says otherwise), set once, lazily and thread-safely,
    /// before the first product.
    private static let configured: Void = { openblas_set_num_threads(Int32(Parallel.workerCount)) }()

    /// Sets OpenBLAS's thread count (`ComputeThreads.set`).
    static func setThreads(_ count: Int) {
        _ = configured
        openblas_set_num_threads(Int32(count))
    }

    public static func multiply(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = configured
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM: negative dimension")
        precondition(lda >= max(1, transA ? m : k), "GEMM: lda too small")
        precondition(ldb >= max(1, transB ? k : n), "GEMM: ldb too small")
        precondition(ldc >= max(1, n), "GEMM: ldc too small")
        if m == 0 || n == 0 { return }
        cblas_sgemm(
            CblasRowMajor,
            transA ? CblasTrans : CblasNoTrans,
            transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda),
            b, blasint(ldb),
            beta, c, blasint(ldc))
    }

    /// `C_i = op(A_i) * op(B_i)` for `count` products of packed matrices (A_i at `a + i * m * k`,
    /// B_i at `b + i * k * n`, C_i at `c + i * m * n`, each row-major with its natural leading
    /// dimension); an empty inner dimension (`k == 0`) gives zeros.
    public static func batched(
        count: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
    ) {
        guard m * n > 0 else { return }
        if k == 0 {
            c.update(repeating: 0, count: count * m * n)
            return
        }
        for i in 0..<count {
            multiply(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1,
                a: a + i * m * k, lda: transA ? m : k, b: b + i * k * n, ldb: transB ? k : n,
                beta: 0, c: c + i * m * n, ldc: n)
        }
    }

    /// Sets the OpenBLAS thread count for all later products (a process-wide setting).
    public static func setThreadCount(_ count: Int) {
        _ = configured
        precondition(count >= 1, "GEMM: thread count must be positive")
        openblas_set_num_threads(Int32(count))
    }

    /// The OpenBLAS thread count now in effect.
    public static var threadCount: Int {
        _ = configured
        return Int(openblas_get_num_threads())
    }

    /// Runs `body` with OpenBLAS single-threaded, for kernels that parallelise across images
    /// themselves, then restores the previous count. Not for use concurrently with other GEMM
    /// callers that rely on the thread count.
    static func withSingleThread<R>(_ body: () throws -> R) rethrows -> R {
        let previous = threadCount
        if previous == 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(previous)) }
        return try body()
    }
}
