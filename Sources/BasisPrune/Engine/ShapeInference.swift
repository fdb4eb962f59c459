/// What static analysis knows about one value: its element type, its concrete shape and, for
/// small tensors computed from constants and shapes (the padding arithmetic exporters emit),
/// its values.
public struct ValueFacts: Sendable, Equatable {
    public var dataType: DataType?
    public var shape: [Int]
    /// The values in row-major order, when known (integers are exact up to 2^53).
    public var values: [Double]?

    public init(dataType: DataType?, shape: [Int], values: [Double]? = nil) {
        self.dataType = dataType
        self.shape = shape
        self.values = values
    }

    /// The product of the dims (saturating, so that a corrupt shape cannot trap).
    public var elementCount: Int { Self.count(shape) ?? .max }

    /// The product of `shape`'s dims, or nil for a negative dim or a product past 2^48.
    public static func count(_ shape: [Int]) -> Int? {
        var product = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow, p <= 1 << 48 else { return nil }
            product = p
        }
        return product
    }
}

/// Why shape inference stopped at a node. One line naming the node and op.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public var node: String
    public var opType: String
    public var reason: String
    /// The node's outputs depend on values known only at run time (so they stay unknown).
    public var needsRuntimeValues = false

    public var description: String { "node '\(node)' (\(opType)): \(reason)" }
}

/// Static shape inference for concrete input shapes, with constant folding of small tensors.
///
/// Nodes of ops it does not know leave their outputs unknown (and so everything computed from
/// them); `unknownOps` lists them. Values are folded only for tensors of at most
/// `foldLimit` elements, which covers shape arithmetic without copying weights.
public struct ShapeInference {
    public static let foldLimit = 4096

    public private(set) var facts: [String: ValueFacts] = [:]
    public private(set) var unknownOps: Set<String> = []
    let opset: Int64

    /// Infers every value of `graph` with graph inputs given the shapes in `inputShapes`
    /// (an input missing there takes its declared shape, with symbolic dims set to 1).
    public init(graph: Graph, opset: Int64, inputShapes: [String: [Int]] = [:]) throws(ShapeError) {
        self.opset = opset
        for tensor in graph.initializers {
            guard let name = tensor.name else { continue }
            facts[name] = ValueFacts(dataType: tensor.dataType, shape: tensor.dims,
                                     values: tensor.elementCount <= Self.foldLimit ? tensor.doubleValues() : nil)
        }
        for input in graph.inputs where facts[input.name] == nil || inputShapes[input.name] != nil {
            guard let type = input.type?.tensor else { continue }
            if let shape = inputShapes[input.name] {
                facts[input.name] = ValueFacts(dataType: type.dataType, shape: shape)
            } else if let dims = type.shape {
                let shape = dims.map { d -> Int in
                    if case .known(let v) = d.value { return Int(v) }
                    return 1
                }
                facts[input.name] = ValueFacts(dataType: type.dataType, shape: shape)
            }
        }
        for node in graph.nodes {
            let inputs = node.inputs.map { $0.isEmpty ? nil : facts[$0] }
            // A node whose present inputs are not all known stays unknown.
            if zip(node.inputs, inputs).contains(where: { !$0.0.isEmpty && $0.1 == nil }) { continue }
            let inferred: [ValueFacts]?
            do { inferred = try infer(node, inputs) } catch {
                // Shapes that depend on run-time values (a Reshape target fed by a graph input) stay unknown.
                if error.needsRuntimeValues { continue }
                throw error
            }
            guard let outputs = inferred else {
                unknownOps.insert(node.opType)
                continue
            }
            for output in outputs where ValueFacts.count(output.shape) == nil {
                throw fail(node, "computes an invalid shape \(output.shape)")
            }
            for (name, fact) in zip(node.outputs, outputs) where !name.isEmpty { facts[name] = fact }
        }
    }

    // MARK: per-op rules

    func fail(_ node: Node, _ reason: String) -> ShapeError {
        ShapeError(node: node.displayName, opType: node.opType, reason: reason)
    }

    /// Output facts of `node`, or nil for an op without a rule here.
    func infer(_ node: Node, _ x: [ValueFacts?]) throws(ShapeError) -> [ValueFacts]? {
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
        switch node.opType {
        case "Constant":
            if let t = node.tensor("value") {
                return [ValueFacts(dataType: t.dataType, shape: t.dims, values: t.elementCount <= Self.foldLimit ? t.doubleValues() : nil)]
            }
            if let v = node.float("value_float") { return [ValueFacts(dataType: .float, shape: [], values: [Double(v)])] }
            if let v = node.int("value_int") { return [ValueFacts(dataType: .int64, shape: [], values: [Double(v)])] }
            if let v = node.ints("value_ints") { return [ValueFacts(dataType: .int64, shape: [v.count], values: v.map(Double.init))] }
            if case .floats(let v)? = node.attribute("value_floats")?.value {
                return [ValueFacts(dataType: .float, shape: [v.count], values: v.map(Double.init))]
            }
            return nil

        case "Identity", "Dropout":
            let a = try input(0)
            return same(a, values: a.values)

        case "Relu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu", "Selu", "Softplus",
            "Exp", "Log", "Sqrt", "Reciprocal", "Abs", "Floor", "Ceil", "Round", "Erf", "Softmax", "LogSoftmax",
            "BatchNormalization", "LRN", "InstanceNormalization", "LayerNormalization", "Sign", "Not":
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

        case "Neg":
            let a = try input(0)
            return same(a, values: a.values?.map { -$0 })

        case "Clip":
            let a = try input(0)
            return same(a)

        case "Cast", "CastLike":
            let a = try input(0)
            let target: DataType?
            if node.opType == "Cast" {
                target = node.int("to").flatMap { DataType(rawValue: Int32(truncatingIfNeeded: $0)) }
            } else {
                target = try input(1).dataType
            }
            return [ValueFacts(dataType: target, shape: a.shape, values: a.values.map { v in v.map { Self.cast($0, to: target) } })]

        case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Equal", "Less", "Greater", "And", "Or", "Mod", "PRelu", "Where", "Sum", "Mean":
            let operands = try (0..<x.count).map { (i) throws(ShapeError) in try input(i) }
            var shape: [Int] = []
            for o in operands {
                guard let s = Self.broadcast(shape, o.shape) else {
                    throw fail(node, "shapes \(operands.map(\.shape)) do not broadcast")
                }
                shape = s
            }
            let comparison = ["Equal", "Less", "Greater", "And", "Or"].contains(node.opType)
            let type = comparison ? DataType.bool : (node.opType == "Where" ? operands.last?.dataType : operands[0].dataType)
            var values: [Double]?
            if operands.count == 2, let a = operands[0].values, let b = operands[1].values, ValueFacts.count(shape) ?? .max <= Self.foldLimit {
                let integer = type.map(Self.isInteger) ?? false
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
                    let fa = Self.expand(a, from: operands[0].shape, to: shape), fb = Self.expand(b, from: operands[1].shape, to: shape)
                    values = zip(fa, fb).map { Self.cast(op($0, $1), to: type) }
                }
            }
            return [ValueFacts(dataType: type, shape: shape, values: values)]

        case "Shape":
            let a = try input(0)
            let rank = a.shape.count
            var start = node.int("start", default: 0)!, end = node.int("end", default: rank)!
            if start < 0 { start += rank }
            if end < 0 { end += rank }
            start = Swift.min(Swift.max(start, 0), rank)
            end = Swift.min(Swift.max(end, start), rank)
            let dims = Array(a.shape[start..<end])
            return [ValueFacts(dataType: .int64, shape: [dims.count], values: dims.map(Double.init))]

        case "Size":
            return [ValueFacts(dataType: .int64, shape: [], values: [Double(try input(0).elementCount)])]

        case "ConstantOfShape":
            guard let dims = try constant(0) else { throw fail(node, "no shape input") }
            guard let count = ValueFacts.count(dims) else { throw fail(node, "invalid shape \(dims)") }
            let value = node.tensor("value")
            let fill = value?.doubleValues()?.first ?? 0
            return [ValueFacts(dataType: value?.dataType ?? .float, shape: dims,
                               values: count <= Self.foldLimit ? Array(repeating: fill, count: count) : nil)]

        case "Gather":
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

        case "Unsqueeze":
            let a = try input(0)
            let axesInput = try constant(1)
            guard let axes = node.ints("axes") ?? axesInput else { throw fail(node, "no axes") }
            let rank = a.shape.count + axes.count
            let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            var shape: [Int] = []
            var source = a.shape.makeIterator()
            for i in 0..<rank { shape.append(normalized.contains(i) ? 1 : source.next() ?? 1) }
            return same(a, values: a.values).map { ValueFacts(dataType: $0.dataType, shape: shape, values: $0.values) }

        case "Squeeze":
            let a = try input(0)
            let rank = a.shape.count
            let axesInput = try constant(1)
            let axes = node.ints("axes") ?? axesInput
            let drop = axes.map { Set($0.map { $0 < 0 ? $0 + rank : $0 }) } ?? Set(a.shape.indices.filter { a.shape[$0] == 1 })
            let shape = a.shape.indices.filter { !drop.contains($0) }.map { a.shape[$0] }
            return [ValueFacts(dataType: a.dataType, shape: shape, values: a.values)]

        case "Concat":
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

        case "Reshape":
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

        case "Flatten":
            let a = try input(0)
            var axis = node.int("axis", default: 1)!
            if axis < 0 { axis += a.shape.count }
            guard axis >= 0, axis <= a.shape.count else { throw fail(node, "axis out of range for rank \(a.shape.count)") }
            return [ValueFacts(dataType: a.dataType, shape: [a.shape[..<axis].reduce(1, *), a.shape[axis...].reduce(1, *)], values: a.values)]

        case "Transpose":
            let a = try input(0)
            let perm = node.ints("perm") ?? Array(a.shape.indices.reversed())
            guard perm.sorted() == Array(a.shape.indices) else { throw fail(node, "perm \(perm) does not fit rank \(a.shape.count)") }
            let shape = perm.map { a.shape[$0] }
            var values: [Double]?
            if let v = a.values {
                let strides = Self.strides(a.shape)
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

        case "Slice":
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
                let strides = Self.strides(a.shape)
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

        case "Pad":
            let a = try input(0)
            let rank = a.shape.count
            let padsInput = opset >= 11 ? try constant(1) : nil
            guard let pads = node.ints("pads") ?? padsInput else { throw fail(node, "no pads") }
            let axes = try constant(3).map { $0.map { $0 < 0 ? $0 + rank : $0 } } ?? Array(0..<rank)
            guard pads.count == 2 * axes.count, axes.allSatisfy({ $0 >= 0 && $0 < rank }) else { throw fail(node, "\(pads.count) pads for \(axes.count) axes") }
            var shape = a.shape
            for (i, axis) in axes.enumerated() { shape[axis] += pads[i] + pads[i + axes.count] }
            return [ValueFacts(dataType: a.dataType, shape: shape)]

        case "Conv":
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

        case "MaxPool", "AveragePool", "LpPool":
            let a = try input(0)
            guard let kernel = node.ints("kernel_shape"), a.shape.count == kernel.count + 2 else { throw fail(node, "kernel_shape does not fit input \(a.shape)") }
            let spatial = try window(node, input: Array(a.shape[2...]), kernel: kernel, ceil: node.int("ceil_mode", default: 0)! != 0)
            let out = ValueFacts(dataType: a.dataType, shape: Array(a.shape[..<2]) + spatial)
            return node.outputs.count > 1 ? [out, ValueFacts(dataType: .int64, shape: out.shape)] : [out]

        case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
            let a = try input(0)
            return [ValueFacts(dataType: a.dataType, shape: Array(a.shape.prefix(2)) + Array(repeating: 1, count: Swift.max(a.shape.count - 2, 0)))]

        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2":
            let a = try input(0)
            let rank = a.shape.count
            let axesInput = try constant(1)
            let axes = node.ints("axes") ?? axesInput ?? Array(0..<rank)
            let keep = node.int("keepdims", default: 1)! != 0
            let reduced = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            let shape = a.shape.indices.compactMap { i -> Int? in reduced.contains(i) ? (keep ? 1 : nil) : a.shape[i] }
            return [ValueFacts(dataType: a.dataType, shape: shape)]

        case "Gemm":
            let a = try input(0), b = try input(1)
            guard a.shape.count == 2, b.shape.count == 2 else { throw fail(node, "Gemm needs 2-D inputs, got \(a.shape) and \(b.shape)") }
            let transA = node.int("transA", default: 0)! != 0, transB = node.int("transB", default: 0)! != 0
            let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
            let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
            guard k == kb else { throw fail(node, "inner dimensions \(k) and \(kb) differ") }
            return [ValueFacts(dataType: a.dataType, shape: [m, n])]

        case "MatMul":
            let a = try input(0), b = try input(1)
            guard let shape = Self.matmulShape(a.shape, b.shape) else { throw fail(node, "shapes \(a.shape) and \(b.shape) do not multiply") }
            return [ValueFacts(dataType: a.dataType, shape: shape)]

        case "Split":
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

        case "Expand":
            let a = try input(0)
            guard let target = try constant(1), let shape = Self.broadcast(a.shape, target) else { throw fail(node, "cannot expand") }
            return [ValueFacts(dataType: a.dataType, shape: shape)]

        default:
            return nil
        }
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

    // MARK: helpers

    static func isInteger(_ type: DataType) -> Bool {
        [.int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool].contains(type)
    }

    static func cast(_ v: Double, to type: DataType?) -> Double {
        guard let type else { return v }
        if type == .bool { return v != 0 ? 1 : 0 }
        if isInteger(type) { return v.isFinite ? v.rounded(.towardZero) : 0 }
        if type == .float { return Double(Float(v)) }
        return v
    }

    /// Multidirectional (numpy) broadcasting of two shapes.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out: [Int] = []
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard x == y || x == 1 || y == 1 else { return nil }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    static func strides(_ shape: [Int]) -> [Int] {
        var strides = Array(repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        return strides
    }

    /// Values of a tensor of `shape` broadcast to `target`.
    static func expand(_ values: [Double], from shape: [Int], to target: [Int]) -> [Double] {
        if shape == target { return values }
        let padded = Array(repeating: 1, count: target.count - shape.count) + shape
        let strides = Self.strides(padded)
        return (0..<target.reduce(1, *)).map { flat in
            var rest = flat, offset = 0
            for axis in (0..<target.count).reversed() {
                let i = rest % target[axis]
                rest /= target[axis]
                if padded[axis] != 1 { offset += i * strides[axis] }
            }
            return values[offset]
        }
    }

    static func matmulShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        guard !a.isEmpty, !b.isEmpty else { return nil }
        let a2 = a.count == 1 ? [1] + a : a, b2 = b.count == 1 ? b + [1] : b
        guard a2[a2.count - 1] == b2[b2.count - 2],
              let batch = broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2))) else { return nil }
        var shape = batch + [a2[a2.count - 2], b2[b2.count - 1]]
        if b.count == 1 { shape.removeLast() }
        if a.count == 1 { shape.remove(at: shape.count - (b.count == 1 ? 1 : 2)) }
        return shape
    }
}

extension Int {
    /// `value` rounded toward zero and clamped to Int's range (NaN gives 0); int64 values such
    /// as INT64_MAX that shape inference holds as Double come back without trapping.
    init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9.223_372_036_854_775e18 {
            self = .max
        } else if value <= -9.223_372_036_854_775e18 {
            self = .min
        } else {
            self = Int(value.rounded(.towardZero))
        }
    }
}
