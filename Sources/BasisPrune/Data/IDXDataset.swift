/// MNIST-format IDX files (`train-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]` ...),
/// as shipped for MNIST and Fashion-MNIST. Big-endian header: magic `0x00000803` (unsigned
/// bytes, 3 dimensions) then count, rows, columns for images; `0x00000801` then count for labels.
/// Images without a labels file beside them are an unlabeled set.
enum IDXDataset {
    static let imageMagic: UInt32 = 0x0000_0803
    static let labelMagic: UInt32 = 0x0000_0801
    /// Largest accepted image side, to keep a corrupt header from asking for absurd buffers.
    static let maxSide = 1 << 14
    /// Largest accepted pixel data of one file (16 GiB).
    static let maxBytes = 1 << 34

    static func load(directory: String, split: DataSpec.Split) throws(DataError) -> LabelledImages {
        try DataFiles.requireDirectory(directory)
        let prefix = split == .train ? "train" : "t10k"
        let imageFile = try locate(directory, "\(prefix)-images-idx3-ubyte")

        let images = try GzipReader(path: imageFile)
        let imageHeader = try header(images, magic: imageMagic, dimensions: 3)
        let (count, rows, columns) = (imageHeader[0], imageHeader[1], imageHeader[2])
        guard rows > 0, columns > 0, rows <= maxSide, columns <= maxSide else {
            throw .malformed(file: imageFile, reason: "bad image size \(rows)x\(columns) in the IDX header")
        }
        guard count > 0 else { throw .malformed(file: imageFile, reason: "the IDX header promises no images") }
        // Header sizes are checked against the file before anything is allocated for them.
        let (pixelBytes, overflow) = count.multipliedReportingOverflow(by: rows * columns)
        guard !overflow, pixelBytes <= maxBytes, pixelBytes + 16 <= images.maximumContentSize else {
            throw .malformed(file: imageFile, reason: "the IDX header promises \(count) images of \(rows)x\(columns), more than the \(images.fileSize)-byte file can hold")
        }

        guard let labelFile = try? locate(directory, "\(prefix)-labels-idx1-ubyte") else {
            let pixels = try body(images, bytes: pixelBytes, promise: "\(count) images of \(rows)x\(columns)")
            return LabelledImages(source: directory, height: rows, width: columns, channels: 1, unlabeledPixels: pixels)
        }
        let labels = try GzipReader(path: labelFile)
        let labelCount = try header(labels, magic: labelMagic, dimensions: 1)[0]
        guard labelCount + 8 <= labels.maximumContentSize else {
            throw .malformed(file: labelFile, reason: "the IDX header promises \(labelCount) labels, more than the \(labels.fileSize)-byte file can hold")
        }
        guard labelCount == count else {
            throw .countMismatch(labelFile: labelFile, labels: labelCount, imageFile: imageFile, images: count)
        }

        let pixels = try body(images, bytes: pixelBytes, promise: "\(count) images of \(rows)x\(columns)")
        let labelBytes = try body(labels, bytes: count, promise: "\(count) labels")
        let labelValues = labelBytes.map { Int32($0) }
        return LabelledImages(
            source: directory, height: rows, width: columns, channels: 1,
            classCount: Int(labelValues.max()!) + 1, pixels: pixels, labels: labelValues)
    }

    /// `directory/name.gz`, else `directory/name`.
    private static func locate(_ directory: String, _ name: String) throws(DataError) -> String {
        let gz = joinPath(directory, name + ".gz")
        if DataFiles.kind(gz) == .file { return gz }
        let plain = joinPath(directory, name)
        if DataFiles.kind(plain) == .file { return plain }
        throw .unreadable(path: gz, reason: "no such file (nor \(name))")
    }

    /// Checks the magic number and returns the `dimensions` sizes that follow it.
    private static func header(_ reader: GzipReader, magic: UInt32, dimensions: Int) throws(DataError) -> [Int] {
        let bytes = try reader.read(count: 4 * (1 + dimensions))
        func word(_ i: Int) -> UInt32 {
            bytes[4 * i ..< 4 * i + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        guard bytes.count >= 4 else {
            throw .truncated(file: reader.path, reason: "\(bytes.count) bytes, shorter than the 4-byte IDX magic number")
        }
        guard word(0) == magic else { throw .badMagic(file: reader.path, expected: magic, found: word(0)) }
        guard bytes.count == 4 * (1 + dimensions) else {
            throw .truncated(file: reader.path, reason: "\(bytes.count) bytes, shorter than the \(4 * (1 + dimensions))-byte IDX header")
        }
        return (1 ... dimensions).map { Int(word($0)) }
    }

    /// Reads exactly `bytes` bytes after the header and checks that nothing follows them.
    private static func body(_ reader: GzipReader, bytes: Int, promise: String) throws(DataError) -> [UInt8] {
        let data = try reader.read(count: bytes)
        guard data.count == bytes else {
            throw .truncated(
                file: reader.path,
                reason: "the header promises \(promise) (\(bytes) bytes) but only \(data.count) bytes follow")
        }
        guard try reader.read(count: 1).isEmpty else {
            throw .malformed(file: reader.path, reason: "bytes follow the \(promise) the header promises")
        }
        return data
    }
}
