internal import CDNNL
internal import CDNNLKernels
import Foundation

/// Matrix products (a Gemm, a conv whose kernel covers its whole input on a 1x1 plane, and
/// their backward-data steps) on `cdnnl_dense` instead of oneDNN's inner product, whose
/// GEMM splits each output's sum across threads for some shapes: its results, and so the
/// main job's output, changed with the thread count. Every output here is one thread's sum
/// in a fixed order, so a plan gives the same bits for any `--threads`.
extension DNNLForward {
    /// Weights packed for `cdnnl_dense`, owned by the plan.
    struct DenseWeights {
        var packed: UnsafePointer<Float>
        var bias: UnsafePointer<Float>?
        var outputs: Int
        var columns: Int
    }

    /// Packs `outputs x columns` weights whose element (o, k) is `w[o * outputStride + k *
    /// columnStride]`, with an optional bias of `outputs` values.
    func denseWeights(_ w: [Float], outputs: Int, columns: Int, outputStride: Int, columnStride: Int, bias: [Float]?) -> DenseWeights {
        let count = cdnnl_dense_packed_count(Int32(outputs), Int32(columns))
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        ownedBuffers.append(UnsafeMutableRawPointer(packed))
        w.withUnsafeBufferPointer { cdnnl_dense_pack($0.baseAddress!, outputStride, columnStride, Int32(outputs), Int32(columns), packed) }
        var biasPointer: UnsafePointer<Float>?
        if let bias {
            let b = UnsafeMutablePointer<Float>.allocate(capacity: outputs)
            b.initialize(from: bias, count: outputs)
            ownedBuffers.append(UnsafeMutableRawPointer(b))
            biasPointer = UnsafePointer(b)
        }
        return DenseWeights(packed: packed, bias: biasPointer, outputs: outputs, columns: columns)
    }

    /// The distance between the rows (images) of `md` of `dims` where each row's values lie in
    /// plain order (channels, then positions): any plain layout, or a blocked one on a 1x1
    /// plane (padded to whole blocks); nil for another layout.
    static func rowStride(dims: [Int], md: dnnl_memory_desc_t) -> Int? {
        guard let layout = ChannelLayout(dims: dims, md: md) else { return nil }
        if layout.block == 1 { return layout.channels * layout.positions }
        guard layout.positions == 1 else { return nil }
        return (layout.channels + layout.block - 1) / layout.block * layout.block
    }

    /// A step computing `rows` rows of `y` (`yStride` apart) as `clamp(x W' + bias)` from rows of
    /// `x` (`xStride` apart). Only the memories named in `args` are touched (the buffer plan
    /// reads them).
    static func denseStep(_ weights: DenseWeights, rows: Int, x: dnnl_memory_t, xStride: Int, y: dnnl_memory_t, yStride: Int,
                          clamp: (low: Float, high: Float)?, args: [dnnl_exec_arg_t]) -> Step {
        let (low, high) = clamp ?? (-.infinity, .infinity)
        return Step(primitive: nil, args: args) {
            var problem = cdnnl_dense_problem(packed: weights.packed, x: Self.handle(x), bias: weights.bias, y: Self.handle(y),
                                              x_stride: xStride, y_stride: yStride, rows: Int32(rows), columns: Int32(weights.columns),
                                              outputs: Int32(weights.outputs), low: low, high: high)
            cdnnl_dense(&problem)
        }
    }
}
