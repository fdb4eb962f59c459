/// ReduceMean and ReduceSum over float, double, float16, int32 and int64 (integer means
/// truncate). Axes are an attribute before opset 18 (ReduceMean) or 13 (ReduceSum) and the
/// optional input 1 after; no axes means every axis unless noop_with_empty_axes=1 (then the
/// input passes through); keepdims keeps reduced dims as 1.
struct ReduceOp: Operator {
    let node: Node
    let isMean: Bool
    /// The first opset in which the axes are input 1.
    let axesInputOpset: Int64
    let opset: Int64
    let attributeAxes: [Int]?
    let keepDims: Bool
    let noopWithEmptyAxes: Bool

    init(node: Node, context: BuildContext, isMean: Bool) throws(EngineError) {
        self.node = node
        self.isMean = isMean
        axesInputOpset = isMean ? 18 : 13
        opset = context.opset
        attributeAxes = context.opset < axesInputOpset ? node.ints("axes") : nil
        keepDims = node.int("keepdims", default: 1) != 0
        noopWithEmptyAxes = node.int("noop_with_empty_axes", default: 0) != 0
    }

    /// The reduced axes (sorted, non-negative) for input `x`, or nil when the input passes through.
    func axes(_ inputs: [Value?], rank: Int) throws(EngineError) -> [Int]? {
        let given = try opset < axesInputOpset ? attributeAxes : node.integers(inputs, 1, "axes")
        if given?.isEmpty ?? true, noopWithEmptyAxes { return nil }
        return try node.normalizedAxes(given.flatMap { $0.isEmpty ? nil : $0 } ?? Array(0..<rank), rank: rank).sorted()
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let rank = x.shape.count
        guard let axes = try axes(inputs, rank: rank) else { return [x] }
        // Reduced dims get output stride 0, so each input element adds into its output element.
        var outputShape: [Int] = [], keptShape = x.shape
        for axis in 0..<rank {
            if axes.contains(axis) {
                keptShape[axis] = 1
                if keepDims { outputShape.append(1) }
            } else {
                outputShape.append(x.shape[axis])
            }
        }
        let keptStrides = rowMajorStrides(keptShape)
        let outputStrides = x.shape.indices.map { axes.contains($0) ? 0 : keptStrides[$0] }
        let y = Value(uninitialized: x.dataType, shape: outputShape)
        let divisor = isMean ? axes.reduce(1) { $0 * x.shape[$1] } : 1
        switch x.dataType {
        case .float: reduceMean(Float.self, x, y, outputStrides, divisor)
        case .double: reduceMean(Double.self, x, y, outputStrides, divisor)
        case .float16: reduceMean(Float16.self, x, y, outputStrides, divisor)
        case .int32: reduceMean(Int32.self, x, y, outputStrides, divisor)
        case .int64: reduceMean(Int64.self, x, y, outputStrides, divisor)
        default: throw EngineError(node, "\(node.opType) of \(x.dataType) is not supported")
        }
        return [y]
    }
}

/// Sums `x` into a Double accumulator per output element (output strides 0 on reduced axes),
/// then divides by `divisor` (1 for a sum; NaN for an empty mean, as numpy's).
private func reduceMean<T: CastElement>(_: T.Type, _ x: Value, _ y: Value, _ outputStrides: [Int], _ divisor: Int) {
    var sums = [Double](repeating: 0, count: y.count)
    let shape = x.shape, rank = shape.count
    x.withElements(as: T.self) { input in
        sums.withUnsafeMutableBufferPointer { sum in
            guard rank > 0 else {
                sum[0] = input[0].castDouble
                return
            }
            guard !input.isEmpty else { return }
            let width = shape[rank - 1], innerStride = outputStrides[rank - 1]
            var index = Array(repeating: 0, count: rank - 1)
            var offset = 0, read = 0
            while true {
                var o = offset
                for j in 0..<width {
                    sum[o] += input[read + j].castDouble
                    o += innerStride
                }
                read += width
                var axis = rank - 2
                while axis >= 0 {
                    index[axis] += 1
                    offset += outputStrides[axis]
                    if index[axis] < shape[axis] { break }
                    offset -= outputStrides[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
                if axis < 0 { return }
            }
        }
    }
    y.withMutableElements(as: T.self) { out in
        for i in out.indices { out[i] = T(castFrom: sums[i] / Double(divisor)) }
    }
}
