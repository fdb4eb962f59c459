/// A tensor flowing through the engine: element type, shape, and storage in row-major order.
/// Copies share storage; kernels write only into storage they have just allocated.
public struct Value: Sendable {
    public var dataType: DataType
    public var shape: [Int]
    public var storage: TensorStorage

    public init(dataType: DataType, shape: [Int], storage: TensorStorage) {
        self.dataType = dataType
        self.shape = shape
        self.storage = storage
    }

    /// Uninitialized storage for `shape`, to be filled by the caller.
    public init(uninitialized dataType: DataType, shape: [Int]) {
        self.dataType = dataType
        self.shape = shape
        storage = TensorStorage(uninitializedByteCount: dataType.rawByteCount(elements: shape.reduce(1, *)))
    }

    /// A float32 value holding `values`.
    public init(shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "value count does not match shape")
        self.init(dataType: .float, shape: shape, storage: TensorStorage(values: floats))
    }

    /// An int64 value holding `values`.
    public init(shape: [Int], int64s: [Int64]) {
        precondition(int64s.count == shape.reduce(1, *), "value count does not match shape")
        self.init(dataType: .int64, shape: shape, storage: TensorStorage(values: int64s))
    }

    /// The value of a constant tensor (shares its storage).
    public init(_ tensor: Tensor) {
        self.init(dataType: tensor.dataType, shape: tensor.dims, storage: tensor.storage)
    }

    public var count: Int { shape.reduce(1, *) }

    /// Bytes per element (whole-byte types only).
    public var elementSize: Int { dataType.bitWidth / 8 }

    /// Read access to the elements as `T`.
    public func withElements<T, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(as: T.self) { try body(UnsafeBufferPointer(rebasing: $0.prefix(count))) }
    }

    /// Write access to the elements as `T`; only for a value whose storage was just allocated.
    public func withMutableElements<T, R>(as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(as: T.self) { try body(UnsafeMutableBufferPointer(rebasing: $0.prefix(count))) }
    }

    /// The elements as Float (float32 values only).
    public var floats: [Float] { withElements(as: Float.self) { Array($0) } }

    /// The elements as integers (int64, int32 and other integer types), for shape arguments.
    public func integers() -> [Int]? {
        switch dataType {
        case .int64: withElements(as: Int64.self) { $0.map { Int(truncatingIfNeeded: $0) } }
        case .int32: withElements(as: Int32.self) { $0.map { Int($0) } }
        case .int16: withElements(as: Int16.self) { $0.map { Int($0) } }
        case .int8: withElements(as: Int8.self) { $0.map { Int($0) } }
        case .uint8, .bool: withElements(as: UInt8.self) { $0.map { Int($0) } }
        case .uint16: withElements(as: UInt16.self) { $0.map { Int($0) } }
        case .uint32: withElements(as: UInt32.self) { $0.map { Int($0) } }
        case .uint64: withElements(as: UInt64.self) { $0.map { Int(truncatingIfNeeded: $0) } }
        default: nil
        }
    }

    /// As a constant tensor (for export and for tests).
    public func tensor(name: String?) -> Tensor {
        Tensor(name: name, dataType: dataType, dims: shape, storage: storage)
    }
}
