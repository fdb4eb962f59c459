/// One weight layer: a Conv, or a Gemm or MatMul whose weight is a constant.
public struct LayerSummary: Sendable, Equatable, Codable {
    public var name: String
    public var op: String
    /// Kernel size (empty for Gemm and MatMul).
    public var kernel: [Int]
    public var inputChannels: Int
    public var outputChannels: Int
    public var groups: Int
    /// Dims of the weight tensor as stored (`[Cout, Cin/groups, kH, kW]` for Conv).
    public var weightShape: [Int]
    /// Elements of the weight and bias.
    public var parameters: Int
    /// Multiply-accumulates at the summarised input shape, nil when shapes are unknown.
    public var macs: Int?
    public var outputShape: [Int]?

    enum CodingKeys: String, CodingKey {
        case name, op, kernel, groups, parameters, macs
        case inputChannels = "input_channels", outputChannels = "output_channels", outputShape = "output_shape"
        case weightShape = "weight_shape"
    }
}

/// A value's element type and declared shape, as text (`float32`, `["N", "3", "32", "32"]`).
public struct ValueSummary: Sendable, Equatable, Codable {
    public var name: String
    public var elementType: String
    public var shape: [String]?

    enum CodingKeys: String, CodingKey {
        case name, shape
        case elementType = "element_type"
    }
}

/// What `inspect` reports about a model.
public struct GraphSummary: Sendable, Codable {
    public struct Opset: Sendable, Equatable, Codable {
        public var domain: String
        public var version: Int64
    }

    public var producerName: String?
    public var producerVersion: String?
    public var irVersion: Int64
    public var opsets: [Opset]
    public var inputs: [ValueSummary]
    public var outputs: [ValueSummary]
    /// The concrete input shapes used for shape inference.
    public var inputShapes: [String: [Int]]
    /// Node count per op type.
    public var opCounts: [String: Int]
    public var nodeCount: Int
    public var initializerCount: Int
    /// Elements of all initializers (what the onnx package's numpy arrays count).
    public var totalParameters: Int
    public var layers: [LayerSummary]
    /// Sums over `layers`.
    public var layerParameters: Int
    public var layerMACs: Int?
    /// Ops without a shape rule, whose outputs (and what depends on them) have no shape.
    public var opsWithoutShapes: [String]

    enum CodingKeys: String, CodingKey {
        case opsets, inputs, outputs, layers
        case producerName = "producer_name", producerVersion = "producer_version", irVersion = "ir_version"
        case inputShapes = "input_shapes", opCounts = "op_counts", nodeCount = "node_count"
        case initializerCount = "initializer_count", totalParameters = "total_parameters"
        case layerParameters = "layer_parameters", layerMACs = "layer_macs", opsWithoutShapes = "ops_without_shapes"
    }

    /// Summarises `model`; `inputShapes` fills graph inputs (symbolic dims default to 1).
    public init(model: Model, inputShapes: [String: [Int]] = [:]) throws(ShapeError) {
        let graph = model.graph
        producerName = model.producerName
        producerVersion = model.producerVersion
        irVersion = model.irVersion
        opsets = model.opsetImports.map { Opset(domain: ($0.domain ?? "").isEmpty ? "ai.onnx" : $0.domain!, version: $0.version) }
        inputs = graph.inputs.map(Self.describe)
        outputs = graph.outputs.map(Self.describe)
        opCounts = graph.nodes.reduce(into: [:]) { $0[$1.opType, default: 0] += 1 }
        nodeCount = graph.nodes.count
        initializerCount = graph.initializers.count
        totalParameters = graph.initializers.reduce(0) { $0 + $1.elementCount }

        let inference = try ShapeInference(graph: graph, opset: model.defaultOpsetVersion ?? 21, inputShapes: inputShapes)
        opsWithoutShapes = inference.unknownOps.sorted()
        let initializerNames = Set(graph.initializers.compactMap(\.name))
        var shapes: [String: [Int]] = [:]
        for input in graph.inputs where !initializerNames.contains(input.name) {
            if let f = inference.facts[input.name] { shapes[input.name] = f.shape }
        }
        self.inputShapes = shapes

        let constants = initializerNames.union(graph.nodes.filter { $0.opType == "Constant" }.flatMap(\.outputs))
        var layers: [LayerSummary] = []
        for node in graph.nodes {
            guard ["Conv", "Gemm", "MatMul"].contains(node.opType), let weightName = node.input(1),
                  constants.contains(weightName), let weight = inference.facts[weightName] else { continue }
            let bias = node.input(2).flatMap { inference.facts[$0] }
            let parameters = weight.elementCount + (bias?.elementCount ?? 0)
            let output = node.outputs.first.flatMap { inference.facts[$0] }
            var layer: LayerSummary
            switch node.opType {
            case "Conv":
                let groups = node.int("group", default: 1)!
                let kernel = Array(weight.shape.dropFirst(2))
                let perOutput = weight.shape.dropFirst().reduce(1, *)  // (Cin/g) * kernel
                layer = LayerSummary(
                    name: node.displayName, op: "Conv", kernel: kernel, inputChannels: weight.shape[1] * groups,
                    outputChannels: weight.shape[0], groups: groups, weightShape: weight.shape, parameters: parameters,
                    macs: output.map { $0.elementCount * perOutput }, outputShape: output?.shape)
            case "Gemm":
                let transB = node.int("transB", default: 0)! != 0
                let k = transB ? weight.shape.last! : weight.shape.first!
                let n = transB ? weight.shape.first! : weight.shape.last!
                layer = LayerSummary(name: node.displayName, op: "Gemm", kernel: [], inputChannels: k, outputChannels: n,
                                     groups: 1, weightShape: weight.shape, parameters: parameters, macs: output.map { $0.elementCount * k }, outputShape: output?.shape)
            default:
                let k = weight.shape.count >= 2 ? weight.shape[weight.shape.count - 2] : weight.shape[0]
                let n = weight.shape.count >= 2 ? weight.shape.last! : 1
                layer = LayerSummary(name: node.displayName, op: "MatMul", kernel: [], inputChannels: k, outputChannels: n,
                                     groups: 1, weightShape: weight.shape, parameters: parameters, macs: output.map { $0.elementCount * k }, outputShape: output?.shape)
            }
            layers.append(layer)
        }
        self.layers = layers
        layerParameters = layers.reduce(0) { $0 + $1.parameters }
        layerMACs = layers.allSatisfy { $0.macs != nil } ? layers.reduce(0) { $0 + $1.macs! } : nil
    }

    static func describe(_ value: ValueInfo) -> ValueSummary {
        let tensor = value.type?.tensor
        let elementType = tensor?.dataType.map { String(describing: $0).lowercased() }
            ?? (tensor == nil ? "non-tensor" : "undefined")
        let shape = tensor?.shape?.map { d -> String in
            switch d.value {
            case .known(let v): "\(v)"
            case .symbolic(let s): s
            case .unknown: "?"
            }
        }
        return ValueSummary(name: value.name, elementType: elementType == "float" ? "float32" : elementType, shape: shape)
    }
}
