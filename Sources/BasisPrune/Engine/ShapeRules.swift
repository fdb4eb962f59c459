/// The per-op rules of `ShapeInference`: one method per op or family of ops with the same
/// rule, each giving the facts of a node's outputs from those of its inputs.
extension ShapeInference {
    /// One node and the facts of its inputs (nil where absent), as an op's rule reads them.
    struct Rule {
        let node: Node
        let x: [ValueFacts?]
        let opset: Int64

        func fail(_ node: Node, _ reason: String) -> ShapeError {
            ShapeError(node: node.displayName, opType: node.opType, reason: reason)
        }

        func input(_ i: Int) throws(ShapeError) -> ValueFacts {
            guard i < x.count, let f = x[i] else { throw fail(node, "input \(i) is missing") }
            return f
        }
        func constant(_ i: Int) throws(ShapeError) -> [Int]? {
            guard i < x.count, let f = x[i] else { return nil }
            guard let v = f.values else {
                var error = fail(node, "input \(i) must be a constant here")
                error.needsRuntimeValues = true
                throw error
            }
            return v.map { Int(saturating: $0) }
        }
        func same(_ f: ValueFacts, values: [Double]? = nil) -> [ValueFacts] {
            [ValueFacts(dataType: f.dataType, shape: f.shape, values: values)]
        }

        /// A `Constant` node's value.
        func constantNode() -> [ValueFacts]? {
            if let t = node.tensor("value") {
                return [ValueFacts(dataType: t.dataType, shape: t.dims, values: t.elementCount <= ShapeInference.foldLimit ? t.doubleValues() : nil)]
            }
            if let v = node.float("value_float") { return [ValueFacts(dataType: .float, shape: [], values: [Double(v)])] }
            if let v = node.int("value_int") { return [ValueFacts(dataType: .int64, shape: [], values: [Double(v)])] }
            if let v = node.ints("value_ints") { return [ValueFacts(dataType: .int64, shape: [v.count], values: v.map(Double.init))] }
            if case .floats(let v)? = node.attribute("value_floats")?.value {
                return [ValueFacts(dataType: .float, shape: [v.count], values: v.map(Double.init))]
            }
            return nil
        }

        /// `Identity` and `Dropout`: the input as it is.
        func identity() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            return same(a, values: a.values)
        }

        /// Elementwise ops of one input and normalizations: the input's shape (a few values folded).
        func unary() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            var values: [Double]?
            if let v = a.values {
                switch node.opType {
                case "Abs": values = v.map { Swift.abs($0) }
                case "Floor": values = v.map { $0.rounded(.down) }
                case "Ceil": values = v.map { $0.rounded(.up) }
                case "Relu": values = v.map { Swift.max($0, 0) }
                default: values = nil
                }
            }
            return same(a, values: values)
        }

        func negation() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            return same(a, values: a.values?.map { -$0 })
        }

        /// `Clip`: the input's shape (bounds not folded).
        func clip() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            return same(a)
        }

        /// `Cast` and `CastLike`: the input's shape, the target type, values converted.
        func cast() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let target: DataType?
            if node.opType == "Cast" {
                target = node.int("to").flatMap { DataType(rawValue: Int32(truncatingIfNeeded: $0)) }
            } else {
                target = try input(1).dataType
            }
            return [ValueFacts(dataType: target, shape: a.shape, values: a.values.map { v in v.map { ShapeInference.cast($0, to: target) } })]
        }

        /// Elementwise ops of several inputs: the broadcast shape, values folded for two operands.
        func broadcasting() throws(ShapeError) -> [ValueFacts]? {
            let operands = try (0..<x.count).map { (i) throws(ShapeError) in try input(i) }
            var shape: [Int] = []
            for o in operands {
                guard let s = ShapeInference.broadcast(shape, o.shape) else {
                    throw fail(node, "shapes \(operands.map(\.shape)) do not broadcast")
                }
                shape = s
            }
            let comparison = ["Equal", "Less", "Greater", "And", "Or"].contains(node.opType)
            let type = comparison ? DataType.bool : (node.opType == "Where" ? operands.last?.dataType : operands[0].dataType)
            var values: [Double]?
            if operands.count == 2, let a = operands[0].values, let b = operands[1].values, ValueFacts.count(shape) ?? .max <= ShapeInference.foldLimit {
                let integer = type.map(ShapeInference.isInteger) ?? false
                let op: (Double, Double) -> Double
                switch node.opType {
                case "Add": op = (+)
                case "Sub": op = (-)
                case "Mul": op = (*)
                case "Div": op = { integer ? ($0 / $1).rounded(.towardZero) : $0 / $1 }
                case "Max": op = { Swift.max($0, $1) }
                case "Min": op = { Swift.min($0, $1) }
                case "Equal": op = { $0 == $1 ? 1 : 0 }
                case "Less": op = { $0 < $1 ? 1 : 0 }
                case "Greater": op = { $0 > $1 ? 1 : 0 }
                default: op = { _, _ in .nan }
                }
                if !["Pow", "Mod", "PRelu", "And", "Or"].contains(node.opType) {
                    let fa = ShapeInference.expand(a, from: operands[0].shape, to: shape), fb = ShapeInference.expand(b, from: operands[1].shape, to: shape)
                    values = zip(fa, fb).map { ShapeInference.cast(op($0, $1), to: type) }
                }
            }
            return [ValueFacts(dataType: type, shape: shape, values: values)]
        }

        func shapeOf() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let rank = a.shape.count
            var start = node.int("start", default: 0)!, end = node.int("end", default: rank)!
            if start < 0 { start += rank }
            if end < 0 { end += rank }
            start = Swift.min(Swift.max(start, 0), rank)
            end = Swift.min(Swift.max(end, start), rank)
            let dims = Array(a.shape[start..<end])
            return [ValueFacts(dataType: .int64, shape: [dims.count], values: dims.map(Double.init))]
        }

        func size() throws(ShapeError) -> [ValueFacts]? {
            return [ValueFacts(dataType: .int64, shape: [], values: [Double(try input(0).elementCount)])]
        }

        func constantOfShape() throws(ShapeError) -> [ValueFacts]? {
            guard let dims = try constant(0) else { throw fail(node, "no shape input") }
            guard let count = ValueFacts.count(dims) else { throw fail(node, "invalid shape \(dims)") }
            let value = node.tensor("value")
            let fill = value?.doubleValues()?.first ?? 0
            return [ValueFacts(dataType: value?.dataType ?? .float, shape: dims,
                               values: count <= ShapeInference.foldLimit ? Array(repeating: fill, count: count) : nil)]
        }

        func gather() throws(ShapeError) -> [ValueFacts]? {
            let data = try input(0), indices = try input(1)
            let rank = data.shape.count
            var axis = node.int("axis", default: 0)!
            if axis < 0 { axis += rank }
            guard axis >= 0, axis < rank else { throw fail(node, "axis out of range for rank \(rank)") }
            let shape = Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...])
            var values: [Double]?
            if let d = data.values, let idx = indices.values {
                let outer = data.shape[..<axis].reduce(1, *), inner = data.shape[(axis + 1)...].reduce(1, *)
                let n = data.shape[axis]
                var out: [Double] = []
                for o in 0..<outer {
                    for i in idx {
                        var k = Int(saturating: i)
                        if k < 0 { k += n }
                        guard k >= 0, k < n else { throw fail(node, "index \(k) out of range for size \(n)") }
                        out.append(contentsOf: d[(o * n + k) * inner..<(o * n + k + 1) * inner])
                    }
                }
                values = out
            }
            return [ValueFacts(dataType: data.dataType, shape: shape, values: values)]
        }

        func unsqueeze() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let axesInput = try constant(1)
            guard let axes = node.ints("axes") ?? axesInput else { throw fail(node, "no axes") }
            let rank = a.shape.count + axes.count
            let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            var shape: [Int] = []
            var source = a.shape.makeIterator()
            for i in 0..<rank { shape.append(normalized.contains(i) ? 1 : source.next() ?? 1) }
            return same(a, values: a.values).map { ValueFacts(dataType: $0.dataType, shape: shape, values: $0.values) }
        }

        func squeeze() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let rank = a.shape.count
            let axesInput = try constant(1)
            let axes = node.ints("axes") ?? axesInput
            let drop = axes.map { Set($0.map { $0 < 0 ? $0 + rank : $0 }) } ?? Set(a.shape.indices.filter { a.shape[$0] == 1 })
            let shape = a.shape.indices.filter { !drop.contains($0) }.map { a.shape[$0] }
            return [ValueFacts(dataType: a.dataType, shape: shape, values: a.values)]
        }

        func concat() throws(ShapeError) -> [ValueFacts]? {
            let operands = try (0..<x.count).map { (i) throws(ShapeError) in try input(i) }
            guard let first = operands.first else { throw fail(node, "no inputs") }
            let rank = first.shape.count
            var axis = node.int("axis", default: 0)!
            if axis < 0 { axis += rank }
            guard axis >= 0, axis < rank, operands.allSatisfy({ $0.shape.count == rank }) else {
                throw fail(node, "axis \(axis) or ranks \(operands.map(\.shape.count)) do not fit")
            }
            var shape = first.shape
            shape[axis] = operands.reduce(0) { $0 + $1.shape[axis] }
            var values: [Double]?
            if operands.allSatisfy({ $0.values != nil }) {
                let outer = first.shape[..<axis].reduce(1, *)
                var out: [Double] = []
                for o in 0..<outer {
                    for operand in operands {
                        let chunk = operand.shape[axis...].reduce(1, *)
                        out.append(contentsOf: operand.values![o * chunk..<(o + 1) * chunk])
                    }
                }
                values = out
            }
            return [ValueFacts(dataType: first.dataType, shape: shape, values: values)]
        }

        func reshape() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let shapeInput = try constant(1)
            guard let target = shapeInput ?? node.ints("shape") else { throw fail(node, "no shape") }
            guard target.allSatisfy({ $0 >= -1 }), target.filter({ $0 == -1 }).count <= 1 else {
                throw fail(node, "invalid target shape \(target)")
            }
            let allowZero = node.int("allowzero", default: 0)! != 0
            var shape = target.enumerated().map { i, d in d == 0 && !allowZero && i < a.shape.count ? a.shape[i] : d }
            if let minus = shape.firstIndex(of: -1) {
                guard let known = ValueFacts.count(shape.enumerated().filter { $0.offset != minus }.map(\.element)) else {
                    throw fail(node, "invalid target shape \(target)")
                }
                guard known > 0, a.elementCount % known == 0 else { throw fail(node, "cannot reshape \(a.shape) to \(target)") }
                shape[minus] = a.elementCount / known
            }
            guard ValueFacts.count(shape) == a.elementCount else { throw fail(node, "cannot reshape \(a.shape) to \(target)") }
            return [ValueFacts(dataType: a.dataType, shape: shape, values: a.values)]
        }

        func flatten() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            var axis = node.int("axis", default: 1)!
            if axis < 0 { axis += a.shape.count }
            guard axis >= 0, axis <= a.shape.count else { throw fail(node, "axis out of range for rank \(a.shape.count)") }
            return [ValueFacts(dataType: a.dataType, shape: [a.shape[..<axis].reduce(1, *), a.shape[axis...].reduce(1, *)], values: a.values)]
        }

        func transpose() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let perm = node.ints("perm") ?? Array(a.shape.indices.reversed())
            guard perm.sorted() == Array(a.shape.indices) else { throw fail(node, "perm \(perm) does not fit rank \(a.shape.count)") }
            let shape = perm.map { a.shape[$0] }
            var values: [Double]?
            if let v = a.values {
                let strides = ShapeInference.strides(a.shape)
                values = (0..<v.count).map { flat in
                    var rest = flat, offset = 0
                    for (axis, size) in shape.enumerated().reversed() {
                        offset += (rest % size) * strides[perm[axis]]
                        rest /= size
                    }
                    return v[offset]
                }
            }
            return [ValueFacts(dataType: a.dataType, shape: shape, values: values)]
        }

        func slice() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let rank = a.shape.count
            let starts: [Int], ends: [Int], axes: [Int], steps: [Int]
            if opset < 10 {
                starts = node.ints("starts") ?? []
                ends = node.ints("ends") ?? []
                axes = node.ints("axes") ?? Array(0..<starts.count)
                steps = Array(repeating: 1, count: starts.count)
            } else {
                guard let s = try constant(1), let e = try constant(2) else { throw fail(node, "starts and ends are required") }
                starts = s
                ends = e
                axes = try constant(3) ?? Array(0..<s.count)
                steps = try constant(4) ?? Array(repeating: 1, count: s.count)
            }
            var ranges = a.shape.map { (start: 0, step: 1, count: $0) }
            for (i, rawAxis) in axes.enumerated() {
                let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
                guard axis >= 0, axis < rank, i < starts.count, i < ends.count, steps[i] != 0 else {
                    throw fail(node, "bad slice parameters")
                }
                let (start, count) = SliceOp.range(start: starts[i], end: ends[i], step: steps[i], size: a.shape[axis])
                ranges[axis] = (start, steps[i], count)
            }
            let shape = ranges.map(\.count)
            var values: [Double]?
            if let v = a.values {
                let strides = ShapeInference.strides(a.shape)
                values = (0..<shape.reduce(1, *)).map { flat in
                    var rest = flat, offset = 0
                    for axis in (0..<rank).reversed() {
                        let i = rest % shape[axis]
                        rest /= shape[axis]
                        offset += (ranges[axis].start + i * ranges[axis].step) * strides[axis]
                    }
                    return v[offset]
                }
            }
            return [ValueFacts(dataType: a.dataType, shape: shape, values: values)]
        }

        func pad() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let rank = a.shape.count
            let padsInput = opset >= 11 ? try constant(1) : nil
            guard let pads = node.ints("pads") ?? padsInput else { throw fail(node, "no pads") }
            let axes = try constant(3).map { $0.map { $0 < 0 ? $0 + rank : $0 } } ?? Array(0..<rank)
            guard pads.count == 2 * axes.count, axes.allSatisfy({ $0 >= 0 && $0 < rank }) else { throw fail(node, "\(pads.count) pads for \(axes.count) axes") }
            var shape = a.shape
            for (i, axis) in axes.enumerated() { shape[axis] += pads[i] + pads[i + axes.count] }
            return [ValueFacts(dataType: a.dataType, shape: shape)]
        }

        func conv() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0), w = try input(1)
            guard a.shape.count >= 3, w.shape.count == a.shape.count else {
                throw fail(node, "input \(a.shape) and weight \(w.shape) do not fit")
            }
            let groups = node.int("group", default: 1)!
            guard groups > 0, a.shape[1] == w.shape[1] * groups, w.shape[0] % groups == 0 else {
                throw fail(node, "input channels \(a.shape[1]) do not match weight \(w.shape) with group \(groups)")
            }
            let spatial = try window(node, input: Array(a.shape[2...]), kernel: node.ints("kernel_shape") ?? Array(w.shape[2...]), ceil: false)
            return [ValueFacts(dataType: a.dataType, shape: [a.shape[0], w.shape[0]] + spatial)]
        }

        /// `MaxPool`, `AveragePool` and `LpPool` (and MaxPool's indices).
        func pool() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            guard let kernel = node.ints("kernel_shape"), a.shape.count == kernel.count + 2 else { throw fail(node, "kernel_shape does not fit input \(a.shape)") }
            let spatial = try window(node, input: Array(a.shape[2...]), kernel: kernel, ceil: node.int("ceil_mode", default: 0)! != 0)
            let out = ValueFacts(dataType: a.dataType, shape: Array(a.shape[..<2]) + spatial)
            return node.outputs.count > 1 ? [out, ValueFacts(dataType: .int64, shape: out.shape)] : [out]
        }

        /// Global pools: one position per channel.
        func globalPool() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            return [ValueFacts(dataType: a.dataType, shape: Array(a.shape.prefix(2)) + Array(repeating: 1, count: Swift.max(a.shape.count - 2, 0)))]
        }

        /// Reductions over `axes` (attribute or input), with `keepdims`.
        func reduce() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let rank = a.shape.count
            let axesInput = try constant(1)
            let axes = node.ints("axes") ?? axesInput ?? Array(0..<rank)
            let keep = node.int("keepdims", default: 1)! != 0
            let reduced = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            let shape = a.shape.indices.compactMap { i -> Int? in reduced.contains(i) ? (keep ? 1 : nil) : a.shape[i] }
            return [ValueFacts(dataType: a.dataType, shape: shape)]
        }

        func gemm() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0), b = try input(1)
            guard a.shape.count == 2, b.shape.count == 2 else { throw fail(node, "Gemm needs 2-D inputs, got \(a.shape) and \(b.shape)") }
            let transA = node.int("transA", default: 0)! != 0, transB = node.int("transB", default: 0)! != 0
            let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
            let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
            guard k == kb else { throw fail(node, "inner dimensions \(k) and \(kb) differ") }
            return [ValueFacts(dataType: a.dataType, shape: [m, n])]
        }

        func matMul() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0), b = try input(1)
            guard let shape = ShapeInference.matmulShape(a.shape, b.shape) else { throw fail(node, "shapes \(a.shape) and \(b.shape) do not multiply") }
            return [ValueFacts(dataType: a.dataType, shape: shape)]
        }

        func split() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            let rank = a.shape.count
            var axis = node.int("axis", default: 0)!
            if axis < 0 { axis += rank }
            guard axis >= 0, axis < rank else { throw fail(node, "axis out of range for rank \(rank)") }
            let parts = node.outputs.count
            let splitInput = try constant(1)
            let sizes = node.ints("split") ?? splitInput
                ?? (0..<parts).map { i in
                    let chunk = (a.shape[axis] + parts - 1) / parts
                    return Swift.max(0, Swift.min(chunk, a.shape[axis] - i * chunk))
                }
            return sizes.map { s in
                var shape = a.shape
                shape[axis] = s
                return ValueFacts(dataType: a.dataType, shape: shape)
            }
        }

        func expand() throws(ShapeError) -> [ValueFacts]? {
            let a = try input(0)
            guard let target = try constant(1), let shape = ShapeInference.broadcast(a.shape, target) else { throw fail(node, "cannot expand") }
            return [ValueFacts(dataType: a.dataType, shape: shape)]
        }

        /// Output spatial size of a sliding window (Conv and pools), with the spec's pads and auto_pad.
        func window(_ node: Node, input: [Int], kernel: [Int], ceil: Bool) throws(ShapeError) -> [Int] {
            let n = input.count
            let strides = node.ints("strides") ?? Array(repeating: 1, count: n)
            let dilations = node.ints("dilations") ?? Array(repeating: 1, count: n)
            let pads = node.ints("pads") ?? Array(repeating: 0, count: 2 * n)
            guard kernel.count == n, strides.count == n, dilations.count == n, pads.count == 2 * n else {
                throw fail(node, "kernel, strides, dilations or pads do not match \(n) spatial dims")
            }
            let autoPad = node.string("auto_pad", default: "NOTSET")!
            return try (0..<n).map { (i) throws(ShapeError) -> Int in
                let effective = dilations[i] * (kernel[i] - 1) + 1
                guard strides[i] > 0 else { throw fail(node, "stride must be positive") }
                switch autoPad {
                case "SAME_UPPER", "SAME_LOWER": return (input[i] + strides[i] - 1) / strides[i]
                case "VALID": return Swift.max(0, (input[i] - effective) / strides[i] + 1)
                default:
                    let span = input[i] + pads[i] + pads[i + n] - effective
                    guard span >= 0 else { throw fail(node, "window \(effective) is larger than padded input \(input[i] + pads[i] + pads[i + n])") }
                    var out = (ceil ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1
                    // The last window must start inside the input or left padding (ceil_mode rule).
                    if ceil, (out - 1) * strides[i] >= input[i] + pads[i] { out -= 1 }
                    return out
                }
            }
        }
    }
}
