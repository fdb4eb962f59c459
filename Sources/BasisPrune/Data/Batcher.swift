/// Splits the indices `0 ..< count` of a set into mini-batches, in order or shuffled.
///
/// Shuffled orders come from `SeededRandom(seed: shuffleSeed, stream: epoch)`, so each epoch
/// has its own order and any epoch can be reproduced on any machine without replaying the others.
public struct Batcher: Sendable {
    public let count: Int
    public let batchSize: Int
    /// nil keeps the images in order.
    public let shuffleSeed: UInt64?
    /// Drop a last batch smaller than `batchSize`.
    public let dropLast: Bool

    public init(count: Int, batchSize: Int, shuffleSeed: UInt64? = nil, dropLast: Bool = false) {
        precondition(count >= 0 && batchSize > 0, "count must be >= 0 and batchSize > 0")
        self.count = count
        self.batchSize = batchSize
        self.shuffleSeed = shuffleSeed
        self.dropLast = dropLast
    }

    /// Number of batches per epoch.
    public var batchCount: Int { dropLast ? count / batchSize : (count + batchSize - 1) / batchSize }

    /// The order in which epoch `epoch` visits the images.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0 ..< count)
        if let shuffleSeed {
            var random = SeededRandom(seed: shuffleSeed, stream: UInt64(truncatingIfNeeded: epoch))
            order.seededShuffle(using: &random)
        }
        return order
    }

    /// The batches of epoch `epoch`, each a slice of image indices, for `Preprocessor.fillBatch`.
    public func batches(epoch: Int) -> [ArraySlice<Int>] {
        let order = order(epoch: epoch)
        return (0 ..< batchCount).map { b in
            order[b * batchSize ..< min((b + 1) * batchSize, count)]
        }
    }
}
