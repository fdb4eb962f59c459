/// Why a labelled-image data set could not be loaded. `description` is one line that starts
/// with the file, directory or spec at fault.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A `--data` spec that does not parse, or asks for something its format does not have.
    case badSpec(spec: String, reason: String)
    /// A file or directory that does not exist or cannot be read.
    case unreadable(path: String, reason: String)
    /// An IDX file whose first four bytes are not the expected magic number.
    case badMagic(file: String, expected: UInt32, found: UInt32)
    /// A file that ends before the bytes its header (or record size) promises.
    case truncated(file: String, reason: String)
    /// A file whose header or records make no sense (zero dimensions, label out of range ...).
    case malformed(file: String, reason: String)
    /// A PNG or JPEG file the decoder rejects.
    case malformedImage(file: String, reason: String)
    /// A label file whose count disagrees with its image file.
    case countMismatch(labelFile: String, labels: Int, imageFile: String, images: Int)
    /// A folder set (or one of its class folders) with no PNG or JPEG files.
    case noImages(directory: String)
    /// An image whose size or channel count differs from the first image of its set.
    case sizeMismatch(file: String, found: String, expected: String, firstFile: String)
    /// An index range that reaches past the end of the selected set.
    case rangeOutOfBounds(spec: String, range: Range<Int>, count: Int)
    /// Preprocessing that does not fit a set (e.g. RGB images for a one-channel model).
    case incompatible(source: String, reason: String)

    public var description: String {
        switch self {
        case .badSpec(let spec, let reason):
            return "\(spec): bad data spec: \(reason) (expected FORMAT:PATH[,split=train|test][,range=A:B] with FORMAT idx, cifar or folder)"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .badMagic(let file, let expected, let found):
            return "\(file): bad IDX magic number \(hex(found)), expected \(hex(expected))"
        case .truncated(let file, let reason):
            return "\(file): truncated: \(reason)"
        case .malformed(let file, let reason):
            return "\(file): \(reason)"
        case .malformedImage(let file, let reason):
            return "\(file): cannot decode image: \(reason)"
        case .countMismatch(let labelFile, let labels, let imageFile, let images):
            return "\(labelFile): \(labels) labels but \(baseName(imageFile)) has \(images) images"
        case .noImages(let directory):
            return "\(directory): no PNG or JPEG images found"
        case .sizeMismatch(let file, let found, let expected, let firstFile):
            return "\(file): image is \(found) but \(baseName(firstFile)) is \(expected); all images of a set must have one size"
        case .rangeOutOfBounds(let spec, let range, let count):
            return "\(spec): range \(range.lowerBound):\(range.upperBound) reaches past the \(count) images of the set"
        case .incompatible(let source, let reason):
            return "\(source): \(reason)"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// The last path component, for messages that name a second file beside the first.
func baseName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}

/// `directory/name` without doubling a trailing slash.
func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
