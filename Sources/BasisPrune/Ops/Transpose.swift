/// Transpose: output dim i is input dim perm[i]; perm defaults to the reversed axes. Byte-generic.
struct TransposeOp: Operator {
    let node: Node
    let perm: [Int]?

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        perm = node.ints("perm")
        if let perm, perm.sorted() != Array(0..<perm.count) {
            throw EngineError(node, "perm \(perm) is not a permutation of 0..<\(perm.count)")
        }
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        let size = try node.elementSize(of: x)
        let rank = x.shape.count
        let perm = self.perm ?? Array((0..<rank).reversed())
        guard perm.count == rank else { throw EngineError(node, "perm \(perm) does not fit input of rank \(rank)") }
        let inputStrides = rowMajorStrides(x.shape)
        let shape = perm.map { x.shape[$0] }
        if perm == Array(0..<rank) { return [x] }
        let y = Value(uninitialized: x.dataType, shape: shape)
        x.storage.withUnsafeBytes { source in
            y.storage.withUnsafeMutableBytes { destination in
                guard let s = source.baseAddress, let d = destination.baseAddress else { return }
                stridedCopy(from: s, base: 0, strides: perm.map { inputStrides[$0] }, shape: shape, to: d, elementSize: size)
            }
        }
        return [y]
    }
}

/// Copies the elements at `base + Σ index[i] * strides[i]` of `source` (offsets in elements;
/// strides may be negative or zero) for every index of `shape`, in row-major order, into the
/// contiguous `destination`. Serves Transpose and Slice.
///
/// Dims that stay contiguous are merged first; a contiguous innermost dim is copied by rows,
/// a last pair of dims read transposed (NCHW <-> NHWC and 2-D transposes) is copied in 32x32 tiles.
func stridedCopy(
    from source: UnsafeRawPointer, base: Int, strides: [Int], shape: [Int], to destination: UnsafeMutableRawPointer,
    elementSize: Int
) {
    guard !shape.contains(0) else { return }
    var dims: [(size: Int, stride: Int)] = []
    for (size, stride) in zip(shape, strides) where size != 1 {
        if let last = dims.last, last.stride == stride * size {
            dims[dims.count - 1] = (last.size * size, stride)
        } else {
            dims.append((size, stride))
        }
    }
    switch elementSize {
    case 1: stridedCopy(UInt8.self, source, base, dims, destination)
    case 2: stridedCopy(UInt16.self, source, base, dims, destination)
    case 4: stridedCopy(UInt32.self, source, base, dims, destination)
    case 8: stridedCopy(UInt64.self, source, base, dims, destination)
    case 16: stridedCopy(SIMD2<UInt64>.self, source, base, dims, destination)
    default: preconditionFailure("element size \(elementSize) is not a whole-byte type's")
    }
}

private func stridedCopy<T: BitwiseCopyable>(
    _: T.Type, _ rawSource: UnsafeRawPointer, _ base: Int, _ dims: [(size: Int, stride: Int)],
    _ rawDestination: UnsafeMutableRawPointer
) {
    let src = rawSource.assumingMemoryBound(to: T.self)
    var dst = rawDestination.assumingMemoryBound(to: T.self)
    guard let inner = dims.last else {
        dst[0] = src[base]
        return
    }
    let tiled = dims.count >= 2 && dims[dims.count - 2].stride == 1 && inner.stride != 1
    let outerCount = dims.count - (tiled ? 2 : 1)
    var index = Array(repeating: 0, count: outerCount)
    var offset = base
    while true {
        if tiled {
            let rows = dims[dims.count - 2].size, columns = inner.size, columnStride = inner.stride
            for r0 in stride(from: 0, to: rows, by: 32) {
                for c0 in stride(from: 0, to: columns, by: 32) {
                    for r in r0..<min(r0 + 32, rows) {
                        let row = dst + r * columns
                        var from = offset + r + c0 * columnStride
                        for c in c0..<min(c0 + 32, columns) {
                            row[c] = src[from]
                            from += columnStride
                        }
                    }
                }
            }
            dst += rows * columns
        } else if inner.stride == 1 {
            dst.update(from: src + offset, count: inner.size)
            dst += inner.size
        } else {
            var from = offset
            for c in 0..<inner.size {
                dst[c] = src[from]
                from += inner.stride
            }
            dst += inner.size
        }
        // Advance the odometer over the outer dims.
        var axis = outerCount - 1
        while axis >= 0 {
            index[axis] += 1
            offset += dims[axis].stride
            if index[axis] < dims[axis].size { break }
            offset -= dims[axis].stride * dims[axis].size
            index[axis] = 0
            axis -= 1
        }
        if axis < 0 { return }
    }
}
