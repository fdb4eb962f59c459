/// A set of 8-bit images of one size, all pixels in one contiguous buffer, labelled or not.
///
/// Layout: image `i` occupies `pixels[i * pixelsPerImage ..< (i + 1) * pixelsPerImage]` and is
/// planar **CHW** (channel, row, column), which is the order the models' NCHW inputs need.
/// Grey images have `channels == 1`; colour images have `channels == 3` in RGB order.
public struct LabelledImages: Sendable {
    /// What the set was loaded from (a spec or a directory), for messages.
    public internal(set) var source: String
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Number of classes; labels are in `0 ..< classCount` (0 for an unlabeled set).
    public let classCount: Int
    /// False for images without labels (a `folder:` of images with no class subfolders, IDX
    /// images without a labels file): they can only train against a teacher's outputs.
    public let labelled: Bool
    /// The class folder names of a `folder:` set (index = label); nil for other formats.
    public let classNames: [String]?
    /// All pixels, `count * pixelsPerImage` bytes, each image CHW.
    public let pixels: [UInt8]
    /// One label per image; -1 for every image of an unlabeled set.
    public let labels: [Int32]

    init(
        source: String, height: Int, width: Int, channels: Int, classCount: Int,
        classNames: [String]? = nil, pixels: [UInt8], labels: [Int32], labelled: Bool = true
    ) {
        precondition(pixels.count == labels.count * height * width * channels, "pixel buffer does not match the labels")
        self.source = source
        self.height = height
        self.width = width
        self.channels = channels
        self.classCount = classCount
        self.classNames = classNames
        self.pixels = pixels
        self.labels = labels
        self.labelled = labelled
    }

    /// `count` images without labels.
    init(source: String, height: Int, width: Int, channels: Int, unlabeledPixels pixels: [UInt8]) {
        let count = pixels.count / max(height * width * channels, 1)
        self.init(source: source, height: height, width: width, channels: channels, classCount: 0, pixels: pixels,
                  labels: Array(repeating: -1, count: count), labelled: false)
    }

    public var count: Int { labels.count }
    public var pixelsPerImage: Int { channels * height * width }

    /// The label of image `index`.
    public func label(_ index: Int) -> Int { Int(labels[index]) }

    /// The CHW pixels of image `index`.
    public func image(_ index: Int) -> ArraySlice<UInt8> {
        pixels[index * pixelsPerImage ..< (index + 1) * pixelsPerImage]
    }

    /// The same images with `labels` (one per image, -1 for none) in `classCount` classes:
    /// the agreement certification labels images with the input model's own answers.
    public func relabelled(_ labels: [Int32], classCount: Int, source: String? = nil) -> LabelledImages {
        LabelledImages(source: source ?? self.source, height: height, width: width, channels: channels, classCount: classCount,
                       classNames: classNames, pixels: pixels, labels: labels, labelled: true)
    }

    /// The images `range` of this set, with the same class count, as a new set named `source`.
    public func subset(_ range: Range<Int>, source: String? = nil) -> LabelledImages {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "subset \(range) outside 0..<\(count)")
        return LabelledImages(
            source: source ?? self.source, height: height, width: width, channels: channels,
            classCount: classCount, classNames: classNames,
            pixels: Array(pixels[range.lowerBound * pixelsPerImage ..< range.upperBound * pixelsPerImage]),
            labels: Array(labels[range]), labelled: labelled)
    }
}
