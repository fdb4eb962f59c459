/// One dimension of a tensor type: a number, a symbol such as a batch `N`, or unknown.
public struct Dimension: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case known(Int64)
        case symbolic(String)
        case unknown
    }

    public var value: Value
    public var denotation: String?
    public var extraFields: WireFields

    public init(_ value: Value, denotation: String? = nil, extraFields: WireFields = WireFields()) {
        self.value = value
        self.denotation = denotation
        self.extraFields = extraFields
    }

    /// The size, when it is a number.
    public var knownSize: Int? {
        switch value {
        case .known(let v): return Int(exactly: v)
        default: return nil
        }
    }
}

/// The type of a value (TypeProto). Tensor types are modelled; sequence, map, optional, sparse
/// and opaque types are carried in `extraFields`.
public struct TypeInfo: Sendable, Equatable {
    /// TypeProto.Tensor: element type code (0 = undefined) and shape (nil = unknown rank).
    public struct TensorType: Sendable, Equatable {
        public var elementType: Int32?
        public var shape: [Dimension]?
        /// Fields of TypeProto.Tensor the IR does not model.
        public var extraFields: WireFields
        /// Fields of TensorShapeProto the IR does not model.
        public var shapeExtraFields: WireFields

        public init(
            elementType: Int32?, shape: [Dimension]?, extraFields: WireFields = WireFields(),
            shapeExtraFields: WireFields = WireFields()
        ) {
            self.elementType = elementType
            self.shape = shape
            self.extraFields = extraFields
            self.shapeExtraFields = shapeExtraFields
        }

        /// The element type, when it is one the IR knows.
        public var dataType: DataType? { elementType.flatMap(DataType.init(rawValue:)) }
    }

    public var tensor: TensorType?
    public var denotation: String?
    public var extraFields: WireFields

    public init(tensor: TensorType?, denotation: String? = nil, extraFields: WireFields = WireFields()) {
        self.tensor = tensor
        self.denotation = denotation
        self.extraFields = extraFields
    }
}

/// A named value with its type: a graph input or output, or a value_info entry.
public struct ValueInfo: Sendable, Equatable {
    public var name: String
    public var type: TypeInfo?
    public var docString: String?
    public var extraFields: WireFields

    public init(name: String, type: TypeInfo?, docString: String? = nil, extraFields: WireFields = WireFields()) {
        self.name = name
        self.type = type
        self.docString = docString
        self.extraFields = extraFields
    }
}
