/// Slice: starts, ends and axes attributes before opset 10; from 10 the inputs starts, ends,
/// optional axes and optional steps (negative steps walk backwards). Starts and ends are clamped
/// as the spec says, so INT64_MAX and INT64_MIN mean "to the end" in either direction.
struct SliceOp: Operator {
    let node: Node
    /// starts, ends and axes of the opset 1 form.
    let attributes: (starts: [Int], ends: [Int], axes: [Int]?)?

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        if context.opset < 10 {
            guard let starts = node.ints("starts"), let ends = node.ints("ends") else {
                throw EngineError(node, "the starts and ends attributes are required before opset 10")
            }
            attributes = (starts, ends, node.ints("axes"))
        } else {
            attributes = nil
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let size = try node.elementSize(of: x)
        let (base, strides, shape) = try view(inputs, x)
        let y = Value(uninitialized: x.dataType, shape: shape)
        x.storage.withUnsafeBytes { source in
            y.storage.withUnsafeMutableBytes { destination in
                guard let s = source.baseAddress, let d = destination.baseAddress else { return }
                stridedCopy(from: s, base: base, strides: strides, shape: shape, to: d, elementSize: size)
            }
        }
        return [y]
    }

    /// Where the output's elements lie in the input: offset of the first, per-axis strides
    /// (in elements) and the output shape.
    func view(_ inputs: [Value?], _ x: Value) throws(EngineError) -> (base: Int, strides: [Int], shape: [Int]) {
        let rank = x.shape.count
        let starts: [Int], ends: [Int], givenAxes: [Int]?, steps: [Int]?
        if let attributes {
            (starts, ends, givenAxes, steps) = (attributes.starts, attributes.ends, attributes.axes, nil)
        } else {
            guard let s = try node.integers(inputs, 1, "starts"), let e = try node.integers(inputs, 2, "ends") else {
                throw EngineError(node, "inputs 1 (starts) and 2 (ends) are required")
            }
            (starts, ends) = (s, e)
            givenAxes = try node.integers(inputs, 3, "axes")
            steps = try node.integers(inputs, 4, "steps")
        }
        let axes = try node.normalizedAxes(givenAxes ?? Array(0..<starts.count), rank: rank)
        guard ends.count == starts.count, axes.count == starts.count, steps.map({ $0.count == starts.count }) ?? true else {
            throw EngineError(node, "starts, ends, axes and steps have different lengths")
        }
        let inputStrides = rowMajorStrides(x.shape)
        var shape = x.shape, strides = inputStrides, base = 0
        for (i, axis) in axes.enumerated() {
            let step = steps?[i] ?? 1
            guard step != 0 else { throw EngineError(node, "step 0 on axis \(axis)") }
            let range = Self.range(start: starts[i], end: ends[i], step: step, size: x.shape[axis])
            shape[axis] = range.count
            // With two or more elements |step| < size, so the product cannot overflow.
            strides[axis] = range.count > 1 ? inputStrides[axis] * step : inputStrides[axis]
            if range.count > 0 { base += range.start * inputStrides[axis] }
        }
        return (base, strides, shape)
    }

    /// First index and element count along one axis of `size` (the spec's clamping).
    static func range(start: Int, end: Int, step: Int, size: Int) -> (start: Int, count: Int) {
        var s = start < 0 ? start + size : start
        var e = end < 0 ? end + size : end
        if step > 0 {
            s = min(max(s, 0), size)
            e = min(max(e, 0), size)
            return e > s ? (s, (e - s - 1) / step + 1) : (s, 0)
        }
        s = min(max(s, 0), size - 1)
        e = min(max(e, -1), size - 1)
        let magnitude = step == .min ? Int.max : -step
        return s > e ? (s, (s - e - 1) / magnitude + 1) : (s, 0)
    }
}
