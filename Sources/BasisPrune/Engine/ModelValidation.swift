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
        case "Squeeze", "Unsqueeze", "ReduceMean", "ReduceSum": return (opset >= 13 ? 1...2 : 1...1, 1...1)
        case "Pow": return (2...2, 1...1)
        case "Sqrt", "Erf", "Exp", "Reciprocal": return (1...1, 1...1)
        case "LayerNormalization": return (2...3, 1...3)
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
            guard input.type?.tensor != nil || initializerNames.contains(input.name) else {
                throw invalid("graph input '\(input.name)' is not a tensor (sequences, maps and optionals are not supported)")
            }
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
            if let problem = constantTypeProblem(node, opset: opset) { throw invalid("\(label): \(problem)") }
        }
        guard !graph.outputs.isEmpty else { throw invalid("the graph has no outputs") }
        var outputNames = Set<String>()
        for output in graph.outputs {
            guard !output.name.isEmpty else { throw invalid("a graph output has an empty name") }
            guard outputNames.insert(output.name).inserted else { throw invalid("graph output '\(output.name)' is listed twice") }
            guard defined.contains(output.name) else { throw invalid("graph output '\(output.name)' is computed by no node") }
            guard output.type?.tensor != nil else { throw invalid("graph output '\(output.name)' is not a tensor") }
        }
        do { _ = try Executor(model: model, fuse: false) } catch { throw invalid(error.description) }
        let inference: ShapeInference
        do { inference = try ShapeInference(graph: graph, opset: opset) } catch { throw invalid(error.description) }
        if let mismatch = declaredShapeMismatch(graph, inference, initializers: initializerNames) { throw invalid(mismatch) }
    }

    /// Declared shapes must have the rank the graph computes and, with every input shape fixed,
    /// the same dims.
    /// (Kept out of typed-throws code: Swift 6.3's ownership verifier rejects `knownSize` inlined there.)
    static func declaredShapeMismatch(_ graph: Graph, _ inference: ShapeInference, initializers: Set<String>) -> String? {
        let fixedInputs = graph.inputs.filter { !initializers.contains($0.name) }
            .allSatisfy { $0.type?.tensor?.shape?.allSatisfy { $0.knownSize != nil } ?? false }
        for declared in graph.outputs + graph.valueInfo {
            guard let dims = declared.type?.tensor?.shape?.map(\.knownSize), let computed = inference.facts[declared.name]?.shape else { continue }
            let agrees = dims.count == computed.count
                && (!fixedInputs || zip(dims, computed).allSatisfy { pair in pair.0.map { $0 == pair.1 } ?? true })
            if !agrees {
                let shown = dims.map { $0.map(String.init) ?? "?" }.joined(separator: ", ")
                return "'\(declared.name)' is declared [\(shown)] but the graph computes \(computed)"
            }
        }
        return nil
    }

    /// Constant before opset 9 holds only float16, float or double tensors.
    static func constantTypeProblem(_ node: Node, opset: Int64) -> String? {
        guard node.opType == "Constant", opset < 9, let attribute = node.attribute("value"), case .tensor(let t) = attribute.value,
              ![.float, .float16, .double].contains(t.dataType) else { return nil }
        return "a \(t.dataType) constant needs opset 9 or later (opset \(opset) has float types only)"
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == Int.max ? "at least \(range.lowerBound)"
            : range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
    }

    /// The attributes each op has in some opset, with their AttributeProto type codes
    /// (f 1, i 2, s 3, t 4, floats 6, ints 7).
    static let attributeTypes: [String: [String: Int32]] = {
        let window: [String: Int32] = ["auto_pad": 3, "dilations": 7, "kernel_shape": 7, "pads": 7, "strides": 7]
        let old: [String: Int32] = ["consumed_inputs": 7]
        let broadcasting: [String: Int32] = ["axis": 2, "broadcast": 2, "consumed_inputs": 7]
        return [
            "Constant": ["value": 4, "value_float": 1, "value_floats": 6, "value_int": 2, "value_ints": 7, "value_string": 3,
                         "value_strings": 8, "sparse_value": 11],
            "Identity": [:], "GlobalAveragePool": [:], "GlobalMaxPool": [:], "MatMul": [:], "HardSwish": [:],
            "Dropout": ["ratio": 1, "seed": 2, "is_test": 2, "consumed_inputs": 7],
            "Conv": window.merging(["group": 2]) { a, _ in a },
            "MaxPool": window.merging(["ceil_mode": 2, "storage_order": 2]) { a, _ in a },
            "AveragePool": window.merging(["ceil_mode": 2, "count_include_pad": 2]) { a, _ in a },
            "Gemm": ["alpha": 1, "beta": 1, "transA": 2, "transB": 2, "broadcast": 2],
            "BatchNormalization": ["epsilon": 1, "momentum": 1, "spatial": 2, "is_test": 2, "training_mode": 2, "consumed_inputs": 7],
            "Relu": old, "Sigmoid": old, "Tanh": old, "Neg": old,
            "LeakyRelu": old.merging(["alpha": 1]) { a, _ in a }, "HardSigmoid": old.merging(["alpha": 1, "beta": 1]) { a, _ in a },
            "Clip": old.merging(["min": 1, "max": 1]) { a, _ in a },
            "Add": broadcasting, "Sub": broadcasting, "Mul": broadcasting, "Div": broadcasting,
            "Reshape": ["shape": 7, "allowzero": 2, "consumed_inputs": 7], "Flatten": ["axis": 2],
            "Squeeze": ["axes": 7], "Unsqueeze": ["axes": 7], "Shape": ["start": 2, "end": 2], "Transpose": ["perm": 7],
            "Concat": ["axis": 2], "Split": ["axis": 2, "split": 7, "num_outputs": 2], "Slice": ["axes": 7, "starts": 7, "ends": 7],
            "Gather": ["axis": 2], "Pad": ["mode": 3, "pads": 7, "value": 1, "paddings": 7], "ConstantOfShape": ["value": 4],
            "Cast": ["to": 2, "saturate": 2, "round_mode": 3], "ReduceMean": ["axes": 7, "keepdims": 2, "noop_with_empty_axes": 2],
            "ReduceSum": ["axes": 7, "keepdims": 2, "noop_with_empty_axes": 2], "Pow": [:], "Erf": [:],
            "Sqrt": old, "Exp": old, "Reciprocal": old, "LayerNormalization": ["axis": 2, "epsilon": 1, "stash_type": 2],
            "Softmax": ["axis": 2], "LogSoftmax": ["axis": 2],
        ]
    }()

    /// Attribute names and types the op has, and the window attributes of Conv and the pools,
    /// and Conv's group, in range.
    static func checkAttributes(_ node: Node, label: String, _ invalid: (String) -> ONNXError) throws(ONNXError) {
        if let problem = attributeProblem(node) { throw invalid("\(label): \(problem)") }
    }

    /// (Kept out of typed-throws code: Swift 6.3's ownership verifier rejects switches over
    /// enum payloads inlined there.)
    static func attributeProblem(_ node: Node) -> String? {
        var seen = Set<String>()
        for attribute in node.attributes {
            guard seen.insert(attribute.name).inserted else { return "attribute '\(attribute.name)' is given twice" }
            guard let expected = attributeTypes[node.opType]?[attribute.name] else {
                return "attribute '\(attribute.name)' is not one \(node.opType) has"
            }
            guard attribute.typeCode == expected, attribute.extraFields.isEmpty else {
                return "attribute '\(attribute.name)' has type code \(attribute.typeCode) or stray fields; \(node.opType) takes type \(expected)"
            }
        }
        guard ["Conv", "MaxPool", "AveragePool"].contains(node.opType) else { return nil }
        // Sizes past 2^24 are corrupt, not large: no image has that many pixels a side.
        for name in ["strides", "dilations", "kernel_shape"] {
            if let values = node.ints(name), values.contains(where: { $0 < 1 || $0 > 1 << 24 }) {
                return "\(name) \(values) must all be in 1...\(1 << 24)"
            }
        }
        if let pads = node.ints("pads"), pads.contains(where: { $0 < 0 || $0 > 1 << 24 }) {
            return "pads \(pads) must all be in 0...\(1 << 24)"
        }
        if let autoPad = node.attribute("auto_pad"), case .string(let bytes) = autoPad.value, bytes != Array("NOTSET".utf8),
           node.attribute("pads") != nil {
            return "pads cannot be given with auto_pad \(String(decoding: bytes, as: UTF8.self))"
        }
        if node.opType == "Conv", let group = node.int("group", default: 1), group < 1 {
            return "group \(group) must be positive"
        }
        return nil
    }
}
