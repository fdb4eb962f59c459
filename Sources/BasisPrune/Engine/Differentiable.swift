/// An operator with a reverse-mode gradient rule (vector-Jacobian product).
public protocol Differentiable: Operator {
    /// Gradients of the loss w.r.t. the node's inputs, given its inputs and outputs from the
    /// forward pass and the gradients of its outputs (nil = zero). Return nil for inputs whose
    /// `needed` flag is false, and for absent inputs.
    func backward(inputs: [Value?], outputs: [Value], outputGradients: [Value?], needed: [Bool]) throws(EngineError) -> [Value?]
}

/// Float32 helpers shared by the gradient rules.
extension Value {
    /// A float32 value of `shape` filled with zeros.
    static func zeros(_ shape: [Int]) -> Value {
        let z = Value(uninitialized: .float, shape: shape)
        z.withMutableElements(as: Float.self) { $0.update(repeating: 0) }
        return z
    }

    /// The same elements viewed with `shape` (storage shared).
    func reshaped(_ shape: [Int]) -> Value {
        Value(dataType: dataType, shape: shape, storage: storage)
    }

    /// `self + other`, elementwise, into new storage (same shapes).
    func adding(_ other: Value) -> Value {
        precondition(shape == other.shape, "adding gradients of shapes \(shape) and \(other.shape)")
        let y = Value(uninitialized: .float, shape: shape)
        withElements(as: Float.self) { a in
            other.withElements(as: Float.self) { b in
                y.withMutableElements(as: Float.self) { Elementwise.binary(.add, a.baseAddress!, b.baseAddress!, into: $0.baseAddress!, count: $0.count) }
            }
        }
        return y
    }

    /// `f(self)` elementwise into new storage of the same shape.
    func mapFloats(_ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Value {
        let y = Value(uninitialized: .float, shape: shape)
        withElements(as: Float.self) { x in y.withMutableElements(as: Float.self) { body(x.baseAddress!, $0.baseAddress!, $0.count) } }
        return y
    }

    /// The sum of `self` (of a broadcast shape) over the axes along which `shape` was broadcast:
    /// the gradient of an operand of `shape`. NCHW to a per-channel `[C,1,1]`/`[1,C,1,1]` shape
    /// runs `Elementwise.sumPerChannel`.
    func reduced(to shape: [Int]) -> Value {
        if self.shape == shape { return self }
        let out = Value.zeros(shape)
        let rank = self.shape.count
        let padded = Array(repeating: 1, count: rank - shape.count) + shape
        if rank >= 3, padded[0] == 1, padded[1] == self.shape[1], padded.dropFirst(2).allSatisfy({ $0 == 1 }) {
            withElements(as: Float.self) { g in
                out.withMutableElements(as: Float.self) {
                    Elementwise.sumPerChannel(g.baseAddress!, n: self.shape[0], c: self.shape[1], plane: self.shape.dropFirst(2).reduce(1, *), into: $0.baseAddress!)
                }
            }
            return out
        }
        // The innermost axes that are not broadcast form one contiguous run added at once.
        var run = 1, inner = rank
        while inner > 0 && padded[inner - 1] == self.shape[inner - 1] {
            run *= self.shape[inner - 1]
            inner -= 1
        }
        var strides = Array(repeating: 0, count: rank)
        var step = run
        for axis in stride(from: inner - 1, through: 0, by: -1) {
            strides[axis] = padded[axis] == 1 ? 0 : step
            step *= padded[axis]
        }
        let total = count
        if total == 0 { return out }
        withElements(as: Float.self) { g in
            out.withMutableElements(as: Float.self) { o in
                var index = Array(repeating: 0, count: inner)
                var offset = 0
                for chunk in 0..<(total / run) {
                    let dst = o.baseAddress! + offset
                    Elementwise.binary(.add, dst, g.baseAddress! + chunk * run, into: dst, count: run)
                    var axis = inner - 1
                    while axis >= 0 {
                        index[axis] += 1
                        offset += strides[axis]
                        if index[axis] < self.shape[axis] { break }
                        offset -= strides[axis] * self.shape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return out
    }
}
