/// Multidirectional (numpy) broadcasting of values, for every whole-byte element type.
enum Broadcast {
    /// `value` repeated to `shape` (nil if it does not broadcast); the value itself when the
    /// shapes agree. Copies runs of contiguous bytes, not single elements.
    static func expand(_ value: Value, to shape: [Int]) -> Value? {
        if value.shape == shape { return value }
        guard shape.count >= value.shape.count else { return nil }
        let source = Array(repeating: 1, count: shape.count - value.shape.count) + value.shape
        for (s, t) in zip(source, shape) where s != t && s != 1 { return nil }
        let size = value.elementSize
        let out = Value(uninitialized: value.dataType, shape: shape)
        let total = shape.reduce(1, *)
        if total == 0 { return out }
        // The innermost axes that are not broadcast form one contiguous run.
        var run = 1, inner = shape.count
        while inner > 0 && source[inner - 1] == shape[inner - 1] {
            run *= shape[inner - 1]
            inner -= 1
        }
        var strides = Array(repeating: 0, count: shape.count)
        var step = run
        for axis in stride(from: inner - 1, through: 0, by: -1) {
            strides[axis] = source[axis] == 1 ? 0 : step
            step *= source[axis]
        }
        value.storage.withUnsafeBytes { src in
            out.storage.withUnsafeMutableBytes { dst in
                let runBytes = run * size
                var index = Array(repeating: 0, count: inner)
                var offset = 0
                for chunk in 0..<(total / run) {
                    (dst.baseAddress! + chunk * runBytes).copyMemory(from: src.baseAddress! + offset * size, byteCount: runBytes)
                    var axis = inner - 1
                    while axis >= 0 {
                        index[axis] += 1
                        offset += strides[axis]
                        if index[axis] < shape[axis] { break }
                        offset -= strides[axis] * shape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return out
    }
}
