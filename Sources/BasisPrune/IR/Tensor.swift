/// A constant tensor: an initializer, a Constant's value or a tensor attribute.
///
/// Numeric data is kept in ONNX `raw_data` layout (little-endian, sub-byte types packed);
/// `encoding` remembers how the file stored it so that export writes it the same way.
public struct Tensor: Sendable {
    /// How a tensor's values were stored in the file.
    public enum Encoding: Sendable, Equatable {
        /// In `raw_data`.
        case raw
        /// In the type-specific repeated field (`float_data`, `int64_data`, ...).
        case typed
        /// In a file beside the model (`location`, `offset`, `length` as the file said);
        /// the values are loaded, and export writes them inline as `raw_data`.
        case external(location: String, offset: Int, length: Int?)
    }

    public var name: String?
    public var dataType: DataType
    public var dims: [Int]
    /// The values of numeric tensors (empty for strings).
    public var storage: TensorStorage
    /// The values of string tensors (empty otherwise).
    public var strings: [[UInt8]]
    public var encoding: Encoding
    public var docString: String?
    public var extraFields: WireFields

    public init(
        name: String?, dataType: DataType, dims: [Int], storage: TensorStorage,
        strings: [[UInt8]] = [], encoding: Encoding = .raw, docString: String? = nil,
        extraFields: WireFields = WireFields()
    ) {
        self.name = name
        self.dataType = dataType
        self.dims = dims
        self.storage = storage
        self.strings = strings
        self.encoding = encoding
        self.docString = docString
        self.extraFields = extraFields
    }

    /// A float32 tensor holding `values`.
    public init(name: String?, dims: [Int], floats values: [Float]) {
        precondition(values.count == dims.reduce(1, *), "value count does not match dims")
        self.init(name: name, dataType: .float, dims: dims, storage: TensorStorage(values: values))
    }

    /// Number of elements (the product of dims; 1 for a scalar).
    public var elementCount: Int { dims.reduce(1, *) }

    /// The values converted to Double, for numeric types up to 64 bits that shape inference and
    /// reports read (nil for strings, complex and sub-byte or 8-bit float types).
    public func doubleValues() -> [Double]? {
        let n = elementCount
        func read<T: BitwiseCopyable>(_: T.Type, _ convert: (T) -> Double) -> [Double] {
            storage.withUnsafeBytes { raw in
                (0..<n).map { convert(raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
            }
        }
        switch dataType {
        case .float: return read(Float.self) { Double($0) }
        case .double: return read(Double.self) { $0 }
        case .int64: return read(Int64.self) { Double($0) }
        case .int32: return read(Int32.self) { Double($0) }
        case .int16: return read(Int16.self) { Double($0) }
        case .int8: return read(Int8.self) { Double($0) }
        case .uint8, .bool: return read(UInt8.self) { Double($0) }
        case .uint16: return read(UInt16.self) { Double($0) }
        case .uint32: return read(UInt32.self) { Double($0) }
        case .uint64: return read(UInt64.self) { Double($0) }
        case .float16: return read(UInt16.self) { Double(Float16(bitPattern: $0)) }
        default: return nil
        }
    }
}
