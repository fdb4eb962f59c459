/// An immutable, 64-byte aligned block of tensor bytes: the one place tensor memory is reached.
///
/// Tensors share storage when copied; code that changes values allocates a new storage
/// (`TensorStorage(byteCount:)` then `initialize`), so a graph pass copies indexes, not weights.
public final class TensorStorage: @unchecked Sendable {
    public let byteCount: Int
    private let base: UnsafeMutableRawPointer

    /// Zero-filled storage of `byteCount` bytes.
    public convenience init(byteCount: Int) {
        self.init(uninitializedByteCount: byteCount)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    /// Storage whose bytes the caller writes before anything reads them (saves a pass over
    /// memory for kernel outputs).
    public init(uninitializedByteCount byteCount: Int) {
        self.byteCount = byteCount
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    /// Storage holding a copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(byteCount: bytes.count)
        if let source = bytes.baseAddress, bytes.count > 0 {
            base.copyMemory(from: source, byteCount: bytes.count)
        }
    }

    /// Storage holding the elements of `values` in memory order.
    public convenience init<T: BitwiseCopyable>(values: [T]) {
        let byteCount = values.count * MemoryLayout<T>.stride
        self.init(byteCount: byteCount)
        values.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: byteCount) }
    }

    deinit { base.deallocate() }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: byteCount))
    }

    /// Write access, for code that has just allocated this storage and fills it.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R)
        rethrows -> R
    {
        try body(UnsafeMutableRawBufferPointer(start: base, count: byteCount))
    }

    /// Typed write access, for code that has just allocated this storage and fills it.
    public func withUnsafeMutableBufferPointer<T, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        let typed = base.assumingMemoryBound(to: T.self)
        return try body(UnsafeMutableBufferPointer(start: typed, count: byteCount / MemoryLayout<T>.stride))
    }

    public func withUnsafeBufferPointer<T, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        let typed = base.assumingMemoryBound(to: T.self)
        return try body(UnsafeBufferPointer(start: typed, count: byteCount / MemoryLayout<T>.stride))
    }
}
