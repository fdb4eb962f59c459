/// The one check of an imported model that every command runs before using it, so that
/// `inspect`, `split`, `eval` and the main job agree on what is valid: the default-domain
/// opset in the supported range, every op one the engine runs with its inputs and outputs in
/// the spec's counts, element types the engine handles, unique names, nodes in topological
/// order (so no cycle), attributes in range, and consistent shapes (static shape inference at
/// the declared input shapes, symbolic dims set to 1). Errors are one line naming the node.
public enum ModelValidation {
    /// Default-domain opset versions the engine's op rules follow.
    public static let supportedOpsets: ClosedRange<Int64> = 1...23

    /// Element types of initializers and graph inputs the engine handles.
    static let supportedTypes: Set<DataType> = [.float, .double, .int64, .int32, .int8, .uint8, .bool]

    /// Inputs (required...most) and outputs (required...most) of each op, at `opset`.
    static func arity(_ op: String, opset: Int64) -> (inputs: ClosedRange<Int>, outputs: ClosedRange<Int>)? {
        let many = Int.max
        switch op {
        case "Constant": return (0...0, 1...1)
        case "Identity", "GlobalAveragePool", "GlobalMaxPool", "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish",
            "Tanh", "Neg", "Flatten", "Shape", "Transpose", "ConstantOfShape", "Cast", "Softmax", "LogSoftmax", "AveragePool":
            return (1...1, 1...1)
        case "Dropout": return (opset >= 12 ? 1...3 : 1...1, 1...2)
        case "Conv": return (2...3, 1...1)
        case "MaxPool": return (1...1, 1...2)
        // Gemm's C became optional in opset 11.
        case "Gemm": return (opset >= 11 ? 2...3 : 3...3, 1...1)
        case "MatMul", "Gather", "Add", "Sub", "Mul", "Div": return (2...2, 1...1)
        case "BatchNormalization": return (5...5, 1...5)
        case "Clip": return (opset >= 11 ? 1...3 : 1...1, 1...1)
        case "Reshape": return (opset >= 5 ? 2...2 : 1...1, 1...1)
        case "Squeeze", "Unsqueeze", "ReduceMean": return (opset >= 13 ? 1...2 : 1...1, 1...1)
        case "Concat": return (1...many, 1...1)
        case "Split": return (opset >= 13 ? 1...2 : 1...1, 1...many)
        case "Slice": return (opset >= 10 ? 3...5 : 1...1, 1...1)
        case "Pad": return (opset >= 11 ? 2...4 : 1...1, 1...1)
        default: return nil
        }
    }

    /// Throws `invalidModel` naming `file` and the first node (or value) that is not valid.
    public static func check(_ model: Model, file: String) throws(ONNXError) {
        func invalid(_ reason: String) -> ONNXError { ONNXError(file: file, .invalidModel(reason: reason)) }
        let defaults = model.opsetImports.filter { ($0.domain ?? "").isEmpty || $0.domain == "ai.onnx" }
        guard let opset = defaults.first?.version else { throw invalid("no opset_import for the default ONNX domain") }
        guard defaults.count == 1 else { throw invalid("the default ONNX domain is imported \(defaults.count) times") }
        guard supportedOpsets.contains(opset) else {
            throw invalid("opset \(opset) of the default domain is not supported (\(supportedOpsets.lowerBound) to \(supportedOpsets.upperBound))")
        }
        let graph = model.graph
        var defined = Set<String>()
        for tensor in graph.initializers {
            guard let name = tensor.name, !name.isEmpty else { throw invalid("an initializer has no name") }
            guard defined.insert(name).inserted else { throw invalid("initializer '\(name)' is defined twice") }
            guard supportedTypes.contains(tensor.dataType) else {
                throw invalid("initializer '\(name)' has element type \(tensor.dataType), which the engine does not handle")
            }
        }
        let initializerNames = defined
        var inputNames = Set<String>()
        for input in graph.inputs {
            guard !input.name.isEmpty else { throw invalid("a graph input has an empty name") }
            guard inputNames.insert(input.name).inserted else { throw invalid("graph input '\(input.name)' is listed twice") }
            defined.insert(input.name)
            if let type = input.type?.tensor?.dataType, !supportedTypes.contains(type), !initializerNames.contains(input.name) {
                throw invalid("graph input '\(input.name)' has element type \(type), which the engine does not handle")
            }
        }
        for node in graph.nodes {
            let label = "node '\(node.displayName)' (\(node.opType))"
            if let domain = node.domain, !domain.isEmpty, domain != "ai.onnx" {
                throw invalid("\(label): domain '\(domain)' is not supported")
            }
            guard let arity = arity(node.opType, opset: opset), OperatorRegistry.builders[node.opType] != nil else {
                throw invalid("\(label): op type '\(node.opType)' is not one this tool runs")
            }
            guard arity.inputs.contains(node.inputs.count) else {
                throw invalid("\(label): has \(node.inputs.count) inputs; opset \(opset) takes \(describe(arity.inputs))")
            }
            guard arity.outputs.contains(node.outputs.count) else {
                throw invalid("\(label): has \(node.outputs.count) outputs; opset \(opset) gives \(describe(arity.outputs))")
            }
            for (i, input) in node.inputs.enumerated() {
                if input.isEmpty {
                    guard i >= arity.inputs.lowerBound else { throw invalid("\(label): required input \(i) has an empty name") }
                } else if !defined.contains(input) {
                    throw invalid("\(label): reads '\(input)' before any node computes it (the nodes are out of order or form a cycle)")
                }
            }
            guard let first = node.outputs.first, !first.isEmpty else { throw invalid("\(label): its first output has an empty name") }
            for output in node.outputs where !output.isEmpty {
                guard defined.insert(output).inserted else { throw invalid("\(label): output '\(output)' is already defined") }
            }
            try checkAttributes(node, label: label, invalid)
        }
        var outputNames = Set<String>()
        for output in graph.outputs {
            guard !output.name.isEmpty else { throw invalid("a graph output has an empty name") }
            guard outputNames.insert(output.name).inserted else { throw invalid("graph output '\(output.name)' is listed twice") }
            guard defined.contains(output.name) else { throw invalid("graph output '\(output.name)' is computed by no node") }
        }
        do { _ = try Executor(model: model, fuse: false) } catch { throw invalid(error.description) }
        let inference: ShapeInference
        do { inference = try ShapeInference(graph: graph, opset: opset) } catch { throw invalid(error.description) }
        if let mismatch = declaredShapeMismatch(graph, inference, initializers: initializerNames) { throw invalid(mismatch) }
    }

    /// With every input shape fixed, declared shapes must be the ones the graph computes.
    /// (Kept out of typed-throws code: Swift 6.3's ownership verifier rejects `knownSize` inlined there.)
    static func declaredShapeMismatch(_ graph: Graph, _ inference: ShapeInference, initializers: Set<String>) -> String? {
        let fixedInputs = graph.inputs.filter { !initializers.contains($0.name) }
            .allSatisfy { $0.type?.tensor?.shape?.allSatisfy { $0.knownSize != nil } ?? false }
        guard fixedInputs else { return nil }
        for declared in graph.outputs + graph.valueInfo {
            guard let dims = declared.type?.tensor?.shape?.map(\.knownSize), let computed = inference.facts[declared.name]?.shape else { continue }
            let agrees = dims.count == computed.count && zip(dims, computed).allSatisfy { pair in pair.0.map { $0 == pair.1 } ?? true }
            if !agrees {
                let shown = dims.map { $0.map(String.init) ?? "?" }.joined(separator: ", ")
                return "'\(declared.name)' is declared [\(shown)] but the graph computes \(computed)"
            }
        }
        return nil
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == Int.max ? "at least \(range.lowerBound)"
            : range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
    }

    /// The window attributes of Conv and the pools, and Conv's group, in range.
    static func checkAttributes(_ node: Node, label: String, _ invalid: (String) -> ONNXError) throws(ONNXError) {
        guard ["Conv", "MaxPool", "AveragePool"].contains(node.opType) else { return }
        for name in ["strides", "dilations", "kernel_shape"] {
            if let values = node.ints(name), values.contains(where: { $0 < 1 }) {
                throw invalid("\(label): \(name) \(values) must all be positive")
            }
        }
        if let pads = node.ints("pads"), pads.contains(where: { $0 < 0 }) {
            throw invalid("\(label): pads \(pads) must not be negative")
        }
        if node.opType == "Conv", let group = node.int("group", default: 1), group < 1 {
            throw invalid("\(label): group \(group) must be positive")
        }
    }
}
