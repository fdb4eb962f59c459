/// A computation graph (GraphProto): nodes in file order, which ONNX requires to be topological.
public struct Graph: Sendable {
    public var name: String?
    public var nodes: [Node]
    public var initializers: [Tensor]
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    public var valueInfo: [ValueInfo]
    public var docString: String?
    public var extraFields: WireFields

    public init(
        name: String?, nodes: [Node], initializers: [Tensor] = [], inputs: [ValueInfo],
        outputs: [ValueInfo], valueInfo: [ValueInfo] = [], docString: String? = nil,
        extraFields: WireFields = WireFields()
    ) {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
        self.docString = docString
        self.extraFields = extraFields
    }

    /// Initializers by name.
    /// Initializers that are no graph input, by name: the values a pass may treat as constants
    /// (an initializer that is also a graph input may be overridden at run time).
    public var constantInitializers: [String: Tensor] {
        let inputNames = Set(inputs.map(\.name))
        return initializersByName.filter { !inputNames.contains($0.key) }
    }

    public var initializersByName: [String: Tensor] {
        var byName: [String: Tensor] = [:]
        for tensor in initializers { if let name = tensor.name { byName[name] = tensor } }
        return byName
    }
}

/// An operator set the model uses (OperatorSetIdProto).
public struct OpsetImport: Sendable, Equatable {
    public var domain: String?
    public var version: Int64
    public var extraFields: WireFields

    public init(domain: String?, version: Int64, extraFields: WireFields = WireFields()) {
        self.domain = domain
        self.version = version
        self.extraFields = extraFields
    }
}

/// A key-value pair of metadata (StringStringEntryProto).
public struct MetadataEntry: Sendable, Equatable {
    public var key: String?
    public var value: String?
    public var extraFields: WireFields

    public init(key: String?, value: String?, extraFields: WireFields = WireFields()) {
        self.key = key
        self.value = value
        self.extraFields = extraFields
    }
}

/// A whole ONNX model (ModelProto).
public struct Model: Sendable {
    public var irVersion: Int64
    public var opsetImports: [OpsetImport]
    public var producerName: String?
    public var producerVersion: String?
    public var domain: String?
    public var modelVersion: Int64?
    public var docString: String?
    public var graph: Graph
    public var metadataProps: [MetadataEntry]
    /// Fields the IR does not model: training info, local functions, device configurations,
    /// and any field of a newer schema.
    public var extraFields: WireFields

    public init(
        irVersion: Int64, opsetImports: [OpsetImport], producerName: String? = nil,
        producerVersion: String? = nil, domain: String? = nil, modelVersion: Int64? = nil,
        docString: String? = nil, graph: Graph, metadataProps: [MetadataEntry] = [],
        extraFields: WireFields = WireFields()
    ) {
        self.irVersion = irVersion
        self.opsetImports = opsetImports
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.docString = docString
        self.graph = graph
        self.metadataProps = metadataProps
        self.extraFields = extraFields
    }

    /// The version of the default ("" or "ai.onnx") operator set, if imported.
    public var defaultOpsetVersion: Int64? {
        opsetImports.first { ($0.domain ?? "").isEmpty || $0.domain == "ai.onnx" }?.version
    }
}
