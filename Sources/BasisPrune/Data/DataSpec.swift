/// Which labelled images to load, parsed from `FORMAT:PATH[,split=train|test][,range=A:B]`.
///
/// FORMAT is `idx` (MNIST-style IDX files, gzipped or not), `cifar` (CIFAR-10 binary batches)
/// or `folder` (one subfolder of PNG/JPEG files per class). `split` defaults to `train` for
/// `idx` and `cifar`; `folder` has no split. `range=A:B` keeps images `A ..< B` of the split.
/// The path may not contain a comma.
/// Example: `idx:/usr/share/datasets/fashion-mnist,split=test,range=0:5000`.
public struct DataSpec: Equatable, Sendable, CustomStringConvertible {
    public enum Format: String, Sendable, CaseIterable {
        case idx, cifar, folder
    }

    public enum Split: String, Sendable, CaseIterable {
        case train, test
    }

    public var format: Format
    public var path: String
    /// nil for `folder`, which has no split.
    public var split: Split?
    /// Image indices within the split, end exclusive; nil for all.
    public var range: Range<Int>?

    public init(format: Format, path: String, split: Split? = nil, range: Range<Int>? = nil) {
        self.format = format
        self.path = path
        self.split = split ?? (format == .folder ? nil : .train)
        self.range = range
    }

    public init(parsing text: String) throws(DataError) {
        func bad(_ reason: String) -> DataError { .badSpec(spec: text, reason: reason) }
        guard let colon = text.firstIndex(of: ":") else { throw bad("no FORMAT: prefix") }
        let formatName = String(text[..<colon])
        guard let format = Format(rawValue: formatName) else {
            throw bad("unknown format '\(formatName)'")
        }
        let parts = text[text.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false)
        let path = String(parts[0])
        guard !path.isEmpty else { throw bad("empty path") }
        var split: Split?
        var range: Range<Int>?
        for option in parts.dropFirst() {
            guard let equals = option.firstIndex(of: "=") else { throw bad("option '\(option)' is not key=value") }
            let key = option[..<equals]
            let value = String(option[option.index(after: equals)...])
            switch key {
            case "split":
                guard split == nil else { throw bad("split given twice") }
                guard format != .folder else { throw bad("format folder has no splits") }
                guard let s = Split(rawValue: value) else { throw bad("split '\(value)' is not train or test") }
                split = s
            case "range":
                guard range == nil else { throw bad("range given twice") }
                let bounds = value.split(separator: ":", omittingEmptySubsequences: false)
                guard bounds.count == 2, let start = Int(bounds[0]), let end = Int(bounds[1]) else {
                    throw bad("range '\(value)' is not A:B with integers A and B")
                }
                guard start >= 0, start < end else { throw bad("range '\(value)' needs 0 <= A < B") }
                range = start ..< end
            default:
                throw bad("unknown option '\(key)'")
            }
        }
        self.init(format: format, path: path, split: split, range: range)
    }

    /// The canonical spec text; parsing it gives back this spec.
    public var description: String {
        var text = "\(format.rawValue):\(path)"
        if let split { text += ",split=\(split.rawValue)" }
        if let range { text += ",range=\(range.lowerBound):\(range.upperBound)" }
        return text
    }

    /// Reads the images this spec selects.
    public func load() throws(DataError) -> LabelledImages {
        var whole: LabelledImages
        switch format {
        case .idx: whole = try IDXDataset.load(directory: path, split: split ?? .train)
        case .cifar: whole = try CIFARDataset.load(directory: path, split: split ?? .train)
        case .folder: whole = try ImageFolderDataset.load(directory: path)
        }
        guard let range else {
            whole.source = description
            return whole
        }
        guard range.upperBound <= whole.count else {
            throw .rangeOutOfBounds(spec: description, range: range, count: whole.count)
        }
        return whole.subset(range, source: description)
    }
}
