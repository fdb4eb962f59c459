import Foundation

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
        base = BlockCache.shared.take(byteCount) ?? UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
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

    deinit {
        if !BlockCache.shared.give(base, byteCount: byteCount) { base.deallocate() }
    }

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

/// Keeps freed large blocks for reuse by size. The engine allocates the same activation sizes
/// on every batch; reusing them avoids the page faults of fresh memory (measured: a 77 MB
/// activation cost more to fault in than the 1x1 conv that writes it).
final class BlockCache: @unchecked Sendable {
    static let shared = BlockCache()
    /// Blocks smaller than this go back to malloc, which reuses them well already.
    let minimumBytes = 1 << 18
    /// The most bytes kept; past this, blocks are freed.
    let limitBytes = 1 << 31
    private var blocks: [Int: [UnsafeMutableRawPointer]] = [:]
    private var cachedBytes = 0
    private let lock = NSLock()

    func take(_ byteCount: Int) -> UnsafeMutableRawPointer? {
        guard byteCount >= minimumBytes else { return nil }
        lock.lock()
        defer { lock.unlock() }
        guard let block = blocks[byteCount]?.popLast() else { return nil }
        cachedBytes -= byteCount
        return block
    }

    /// Takes `block` into the cache; false when the caller must free it.
    func give(_ block: UnsafeMutableRawPointer, byteCount: Int) -> Bool {
        guard byteCount >= minimumBytes else { return false }
        lock.lock()
        defer { lock.unlock() }
        guard cachedBytes + byteCount <= limitBytes else { return false }
        blocks[byteCount, default: []].append(block)
        cachedBytes += byteCount
        return true
    }
}
