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

    /// Output facts of `node`, or nil for an op without a rule here (`ShapeRules.swift`).
    func infer(_ node: Node, _ x: [ValueFacts?]) throws(ShapeError) -> [ValueFacts]? {
        let rule = Rule(node: node, x: x, opset: opset)
        switch node.opType {
        case "Constant": return rule.constantNode()
        case "Identity", "Dropout": return try rule.identity()
        case "Relu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu", "Selu", "Softplus",
            "Exp", "Log", "Sqrt", "Reciprocal", "Abs", "Floor", "Ceil", "Round", "Erf", "Softmax", "LogSoftmax",
            "BatchNormalization", "LRN", "InstanceNormalization", "LayerNormalization", "Sign", "Not":
            return try rule.unary()
        case "Neg": return try rule.negation()
        case "Clip": return try rule.clip()
        case "Cast", "CastLike": return try rule.cast()
        case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Equal", "Less", "Greater", "And", "Or", "Mod", "PRelu", "Where", "Sum", "Mean":
            return try rule.broadcasting()
        case "Shape": return try rule.shapeOf()
        case "Size": return try rule.size()
        case "ConstantOfShape": return try rule.constantOfShape()
        case "Gather": return try rule.gather()
        case "Unsqueeze": return try rule.unsqueeze()
        case "Squeeze": return try rule.squeeze()
        case "Concat": return try rule.concat()
        case "Reshape": return try rule.reshape()
        case "Flatten": return try rule.flatten()
        case "Transpose": return try rule.transpose()
        case "Slice": return try rule.slice()
        case "Pad": return try rule.pad()
        case "Conv": return try rule.conv()
        case "MaxPool", "AveragePool", "LpPool": return try rule.pool()
        case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool": return try rule.globalPool()
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2": return try rule.reduce()
        case "Gemm": return try rule.gemm()
        case "MatMul": return try rule.matMul()
        case "Split": return try rule.split()
        case "Expand": return try rule.expand()
        default: return nil
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
