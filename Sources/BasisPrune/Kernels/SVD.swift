internal import CLAPACKE

/// Thin singular value decomposition in double precision through LAPACKE (`dgesdd`): the only
/// LAPACKE caller in the package.
public enum SVD {
    public struct Failure: Error, CustomStringConvertible {
        public var info: Int32
        public var description: String {
            info < 0 ? "LAPACKE_dgesdd: argument \(-info) is invalid" : "LAPACKE_dgesdd: the SVD did not converge (info \(info))"
        }
    }

    /// `a` (row-major, `rows` x `columns`) = `u` · diag(`s`) · `vt`, with `k = min(rows, columns)`:
    /// `u` is `rows` x `k` and `vt` is `k` x `columns`, both row-major; `s` descends.
    public static func thin(_ a: [Double], rows: Int, columns: Int) throws(Failure) -> (u: [Double], s: [Double], vt: [Double]) {
        precondition(a.count == rows * columns, "SVD: matrix has \(a.count) values, not \(rows) x \(columns)")
        let k = min(rows, columns)
        var work = a  // dgesdd overwrites its input
        var s = [Double](repeating: 0, count: k)
        var u = [Double](repeating: 0, count: rows * k)
        var vt = [Double](repeating: 0, count: k * columns)
        // Row-major layout: LAPACKE transposes internally; leading dimensions are row strides.
        // On one OpenBLAS thread: its threaded level-2 routines split sums by thread, and the
        // bases (so the job's output) would change with --threads.
        let info = GEMM.withSingleThread {
            LAPACKE_dgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(rows), Int32(columns),
                           &work, /* lda */ Int32(columns), &s, &u, /* ldu */ Int32(k), &vt, /* ldvt */ Int32(columns))
        }
        guard info == 0 else { throw Failure(info: info) }
        return (u, s, vt)
    }
}
