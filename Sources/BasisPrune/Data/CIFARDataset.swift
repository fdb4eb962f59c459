/// The CIFAR-10 binary format: `data_batch_1.bin` ... `data_batch_5.bin` (train) and
/// `test_batch.bin` (test); each record is 1 label byte (0...9) then a 32x32 image as three
/// 1024-byte planes R, G, B, which is already the CHW layout of `LabelledImages`.
enum CIFARDataset {
    static let side = 32
    static let classCount = 10
    static let recordSize = 1 + 3 * 32 * 32

    static func files(split: DataSpec.Split) -> [String] {
        split == .train ? (1 ... 5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
    }

    static func load(directory: String, split: DataSpec.Split) throws(DataError) -> LabelledImages {
        try DataFiles.requireDirectory(directory)
        var pixels: [UInt8] = []
        var labels: [Int32] = []
        for name in files(split: split) {
            let path = joinPath(directory, name)
            let bytes = try DataFiles.read(path)
            guard !bytes.isEmpty else { throw .malformed(file: path, reason: "empty file") }
            guard bytes.count % recordSize == 0 else {
                throw .truncated(
                    file: path,
                    reason: "\(bytes.count) bytes is not a whole number of \(recordSize)-byte records "
                        + "(\(bytes.count / recordSize) records and \(bytes.count % recordSize) bytes)")
            }
            let records = bytes.count / recordSize
            pixels.reserveCapacity(pixels.count + records * (recordSize - 1))
            for record in 0 ..< records {
                let start = record * recordSize
                let label = bytes[start]
                guard label < classCount else {
                    throw .malformed(file: path, reason: "record \(record) has label \(label); CIFAR-10 labels are 0...9")
                }
                labels.append(Int32(label))
                pixels.append(contentsOf: bytes[start + 1 ..< start + recordSize])
            }
        }
        return LabelledImages(
            source: directory, height: side, width: side, channels: 3,
            classCount: classCount, pixels: pixels, labels: labels)
    }
}
