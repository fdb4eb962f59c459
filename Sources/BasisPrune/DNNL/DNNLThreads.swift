internal import CDNNL

/// oneDNN's thread count: Debian's oneDNN runs on OpenMP, so it is OpenMP's.
enum DNNLThreads {
    static func set(_ count: Int) { omp_set_num_threads(Int32(count)) }
    static var current: Int { Int(omp_get_max_threads()) }
}
