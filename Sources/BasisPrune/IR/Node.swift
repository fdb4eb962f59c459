/// One operator application (NodeProto). Inputs and outputs name tensors; an empty input name
/// is an omitted optional input.
public struct Node: Sendable {
    public var name: String?
    public var opType: String
    public var domain: String?
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [Attribute]
    public var docString: String?
    public var extraFields: WireFields

    public init(
        name: String?, opType: String, domain: String? = nil, inputs: [String], outputs: [String],
        attributes: [Attribute] = [], docString: String? = nil, extraFields: WireFields = WireFields()
    ) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
        self.docString = docString
        self.extraFields = extraFields
    }

    public func attribute(_ name: String) -> Attribute? { attributes.first { $0.name == name } }

    /// A name for messages: the node's name, or its op and first output.
    public var displayName: String {
        if let name, !name.isEmpty { return name }
        return "\(opType)(\(outputs.first ?? "?"))"
    }
}
