/// A node attribute (AttributeProto), with its value in the form the schema gives it.
public struct Attribute: Sendable {
    public enum Value: Sendable {
        case float(Float)
        case int(Int64)
        case string([UInt8])
        case tensor(Tensor)
        case graph(Graph)
        case floats([Float])
        case ints([Int64])
        case strings([[UInt8]])
        case tensors([Tensor])
        case graphs([Graph])
        /// A kind the IR carries without reading it (sparse tensors, type protos): the value
        /// is in `extraFields`, the number is the AttributeType code.
        case opaque(type: Int32)
        /// A reference to an attribute of the enclosing function (`ref_attr_name`).
        case reference(type: Int32?)
    }

    public var name: String
    public var value: Value
    public var refAttrName: String?
    public var docString: String?
    public var extraFields: WireFields

    public init(
        name: String, value: Value, refAttrName: String? = nil, docString: String? = nil,
        extraFields: WireFields = WireFields()
    ) {
        self.name = name
        self.value = value
        self.refAttrName = refAttrName
        self.docString = docString
        self.extraFields = extraFields
    }

    /// The AttributeProto.AttributeType code of the value (0 for an untyped reference).
    public var typeCode: Int32 {
        switch value {
        case .float: 1
        case .int: 2
        case .string: 3
        case .tensor: 4
        case .graph: 5
        case .floats: 6
        case .ints: 7
        case .strings: 8
        case .tensors: 9
        case .graphs: 10
        case .opaque(let type): type
        case .reference(let type): type ?? 0
        }
    }

    /// The schema's name for the kind of value (`INT`, `FLOATS`, ...).
    public var typeName: String {
        let names: [Int32: String] = [
            1: "FLOAT", 2: "INT", 3: "STRING", 4: "TENSOR", 5: "GRAPH", 6: "FLOATS", 7: "INTS",
            8: "STRINGS", 9: "TENSORS", 10: "GRAPHS", 11: "SPARSE_TENSOR", 12: "SPARSE_TENSORS",
            13: "TYPE_PROTO", 14: "TYPE_PROTOS",
        ]
        return names[typeCode] ?? "UNDEFINED"
    }
}
