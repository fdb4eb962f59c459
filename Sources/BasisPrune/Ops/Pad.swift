/// Pad: modes constant, reflect, edge and (opset 19) wrap. Before opset 11 the pads and the
/// float `value` are attributes; from 11 pads is input 1, the optional constant_value input 2
/// (of the data's type), and from 18 the optional axes input 3. Negative pads crop. Byte-generic.
struct PadOp: Operator {
    enum Mode: String { case constant, reflect, edge, wrap }

    let node: Node
    let mode: Mode
    /// pads and value of the attribute form (before opset 11).
    let attributes: (pads: [Int], value: Float)?

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        let name = node.string("mode", default: "constant")!
        guard let mode = Mode(rawValue: name), mode != .wrap || context.opset >= 19 else {
            throw EngineError(node, "mode '\(name)' is not supported (constant, reflect, edge; wrap from opset 19)")
        }
        self.mode = mode
        if context.opset < 11 {
            guard let pads = node.ints("pads") ?? node.ints("paddings") else {
                throw EngineError(node, "the pads attribute is required before opset 11")
            }
            attributes = (pads, node.float("value", default: 0)!)
        } else {
            attributes = nil
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let size = try node.elementSize(of: x)
        let rank = x.shape.count
        let (begin, shape, fill) = try layout(inputs, x)
        guard let count = ValueFacts.count(shape) else { throw EngineError(node, "padded shape \(shape) is too large") }
        // Per axis: the input index each output index reads, or -1 for the constant.
        let sources = (0..<rank).map { axis in
            (0..<shape[axis]).map { Self.source($0 - begin[axis], size: x.shape[axis], mode: mode) }
        }
        let y = Value(uninitialized: x.dataType, shape: shape)
        if count == 0 { return [y] }
        let zero = [UInt8](repeating: 0, count: size)
        func copy(_ constant: UnsafeRawBufferPointer) {
            x.storage.withUnsafeBytes { source in
                y.storage.withUnsafeMutableBytes { destination in
                    switch size {
                    case 1: pad(UInt8.self, source, destination, x.shape, shape, sources, constant)
                    case 2: pad(UInt16.self, source, destination, x.shape, shape, sources, constant)
                    case 4: pad(UInt32.self, source, destination, x.shape, shape, sources, constant)
                    case 8: pad(UInt64.self, source, destination, x.shape, shape, sources, constant)
                    default: pad(SIMD2<UInt64>.self, source, destination, x.shape, shape, sources, constant)
                    }
                }
            }
        }
        if let fill { fill.storage.withUnsafeBytes { copy($0) } } else { zero.withUnsafeBytes { copy($0) } }
        return [y]
    }

    /// Padding before each axis, the output shape and the constant (nil for zero).
    func layout(_ inputs: [Value?], _ x: Value) throws(EngineError) -> (begin: [Int], shape: [Int], fill: Value?) {
        let rank = x.shape.count
        let pads: [Int], axes: [Int], fill: Value?
        if let attributes {
            pads = attributes.pads
            axes = Array(0..<rank)
            fill = attributes.value == 0 ? nil : cast(Value(shape: [], floats: [attributes.value]), to: x.dataType)
            if attributes.value != 0, fill == nil { throw EngineError(node, "a pad value for type \(x.dataType) is not supported") }
        } else {
            guard let p = try node.integers(inputs, 1, "pads") else { throw EngineError(node, "input 1 (pads) is required") }
            pads = p
            axes = try node.normalizedAxes(node.integers(inputs, 3, "axes") ?? Array(0..<rank), rank: rank)
            fill = inputs.count > 2 ? inputs[2] : nil
            if let fill {
                guard fill.dataType == x.dataType, fill.count == 1 else {
                    throw EngineError(node, "constant_value must be one \(x.dataType) element, got \(fill.count) of \(fill.dataType)")
                }
            }
        }
        guard pads.count == 2 * axes.count else {
            throw EngineError(node, "\(pads.count) pads for \(axes.count) axes (need begin and end for each)")
        }
        var begin = Array(repeating: 0, count: rank), shape = x.shape
        for (i, axis) in axes.enumerated() {
            begin[axis] = pads[i]
            let (grown, overflow) = shape[axis].addingReportingOverflow(pads[i])
            let (total, overflow2) = grown.addingReportingOverflow(pads[i + axes.count])
            guard !overflow, !overflow2 else { throw EngineError(node, "pads \(pads) overflow axis \(axis)") }
            shape[axis] = total
            guard shape[axis] >= 0 else { throw EngineError(node, "pads \(pads) crop axis \(axis) of size \(x.shape[axis]) below zero") }
            if mode != .constant, x.shape[axis] == 0, shape[axis] > 0 {
                throw EngineError(node, "\(mode.rawValue) padding of an empty axis \(axis)")
            }
        }
        return (begin, shape, fill)
    }

    /// The input index output position `i - begin` reads along an axis of `size`, or -1.
    static func source(_ i: Int, size: Int, mode: Mode) -> Int {
        if i >= 0 && i < size { return i }
        switch mode {
        case .constant: return -1
        case .edge: return i < 0 ? 0 : size - 1
        case .wrap: return ((i % size) + size) % size
        case .reflect:
            guard size > 1 else { return 0 }
            let period = 2 * (size - 1)
            let r = ((i % period) + period) % period
            return r < size ? r : period - r
        }
    }
}

/// Fills `destination` (shape `outputShape`) row by row: each element reads the input at the
/// per-axis `sources` indices, or takes `constant` where any of them is -1.
private func pad<T: BitwiseCopyable>(
    _: T.Type, _ source: UnsafeRawBufferPointer, _ destination: UnsafeMutableRawBufferPointer, _ inputShape: [Int],
    _ outputShape: [Int], _ sources: [[Int]], _ constant: UnsafeRawBufferPointer
) {
    let fill = constant.loadUnaligned(as: T.self)
    let src = source.baseAddress!.assumingMemoryBound(to: T.self)
    var dst = destination.baseAddress!.assumingMemoryBound(to: T.self)
    let rank = outputShape.count
    guard rank > 0 else {
        dst[0] = src[0]
        return
    }
    let strides = rowMajorStrides(inputShape)
    let innerMap = sources[rank - 1], width = outputShape[rank - 1]
    var index = Array(repeating: 0, count: rank - 1)
    while true {
        var offset = 0, inside = true
        for axis in 0..<(rank - 1) {
            let s = sources[axis][index[axis]]
            if s < 0 { inside = false; break }
            offset += s * strides[axis]
        }
        if inside {
            let row = src + offset
            for j in 0..<width {
                let s = innerMap[j]
                dst[j] = s < 0 ? fill : row[s]
            }
        } else {
            dst.update(repeating: fill, count: width)
        }
        dst += width
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < outputShape[axis] { break }
            index[axis] = 0
            axis -= 1
        }
        if axis < 0 { return }
    }
}
