/// Axis and integer-argument checks shared by the data-movement and reduction operators.
extension Node {
    /// `axis` in [-rank, rank) as a non-negative axis, or an error naming the node.
    func normalizedAxis(_ axis: Int, rank: Int, _ what: String = "axis") throws(EngineError) -> Int {
        guard axis >= -rank, axis < rank else { throw EngineError(self, "\(what) \(axis) is out of range for rank \(rank)") }
        return axis < 0 ? axis + rank : axis
    }

    /// Distinct non-negative axes for `axes` at `rank`.
    func normalizedAxes(_ axes: [Int], rank: Int, _ what: String = "axes") throws(EngineError) -> [Int] {
        var result: [Int] = []
        for axis in axes {
            let a = try normalizedAxis(axis, rank: rank, what)
            guard !result.contains(a) else { throw EngineError(self, "\(what) \(axes) repeat axis \(a)") }
            result.append(a)
        }
        return result
    }

    /// The integers of optional input `index` (nil when omitted); an error when it is not an integer tensor.
    func integers(_ inputs: [Value?], _ index: Int, _ what: String) throws(EngineError) -> [Int]? {
        guard index < inputs.count, let value = inputs[index] else { return nil }
        guard value.dataType == .int64 || value.dataType == .int32, let ints = value.integers() else {
            throw EngineError(self, "\(what) (input \(index)) must be int64 or int32, got \(value.dataType)")
        }
        return ints
    }

    /// Bytes per element of `value`, for operators that only move data (whole-byte types only).
    func elementSize(of value: Value) throws(EngineError) -> Int {
        let bits = value.dataType.bitWidth
        guard bits > 0, bits % 8 == 0 else { throw EngineError(self, "tensors of type \(value.dataType) are not supported") }
        return bits / 8
    }
}

/// Row-major strides of `shape`, in elements.
func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = Array(repeating: 1, count: shape.count)
    var s = 1
    for i in shape.indices.reversed() {
        strides[i] = s
        s *= shape[i]
    }
    return strides
}
