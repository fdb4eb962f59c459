/// A folder of class folders: `DIR/<class>/<image>.png|.jpg|.jpeg`. Classes are the subfolders
/// sorted by name (UTF-8 byte order; index = label); images in each are sorted the same way.
/// A folder with no subfolders but images of its own, `DIR/<image>.png`, is an unlabeled set
/// (images in name order); where there are class subfolders, images beside them are ignored.
/// All images must have one size. Grey and colour may be mixed: then grey images are
/// replicated to RGB. Hidden entries and files with other extensions are ignored.
enum ImageFolderDataset {
    static func load(directory: String) throws(DataError) -> LabelledImages {
        try DataFiles.requireDirectory(directory)
        var classNames: [String] = []
        var files: [(path: String, kind: ImageCodec.Kind, label: Int32)] = []
        var loose: [(path: String, kind: ImageCodec.Kind, label: Int32)] = []
        for name in try DataFiles.list(directory) {
            let classDirectory = joinPath(directory, name)
            guard DataFiles.kind(classDirectory) == .directory else {
                if let kind = ImageCodec.kind(ofFileNamed: name) { loose.append((path: classDirectory, kind: kind, label: -1)) }
                continue
            }
            let images = try DataFiles.list(classDirectory).compactMap { file in
                ImageCodec.kind(ofFileNamed: file).map { (path: joinPath(classDirectory, file), kind: $0) }
            }
            guard !images.isEmpty else { throw .noImages(directory: classDirectory) }
            let label = Int32(classNames.count)
            classNames.append(name)
            files += images.map { (path: $0.path, kind: $0.kind, label: label) }
        }
        let labelled = !classNames.isEmpty
        if !labelled { files = loose }
        guard let first = files.first else { throw .noImages(directory: directory) }

        var decoded: [DecodedImage] = []
        decoded.reserveCapacity(files.count)
        for file in files {
            let image = try ImageCodec.decode(file.path, kind: file.kind)
            if let size = decoded.first, image.width != size.width || image.height != size.height {
                throw .sizeMismatch(
                    file: file.path, found: "\(image.width)x\(image.height)",
                    expected: "\(size.width)x\(size.height)", firstFile: first.path)
            }
            decoded.append(image)
        }

        let (width, height) = (decoded[0].width, decoded[0].height)
        let channels = decoded.contains { $0.channels == 3 } ? 3 : 1
        let plane = width * height
        var pixels = [UInt8](repeating: 0, count: decoded.count * channels * plane)
        pixels.withUnsafeMutableBufferPointer { out in
            for (n, image) in decoded.enumerated() {
                image.pixels.withUnsafeBufferPointer { hwc in
                    let base = n * channels * plane
                    // HWC -> CHW; a grey source feeds every output channel.
                    for c in 0 ..< channels {
                        let sourceChannel = image.channels == 1 ? 0 : c
                        for p in 0 ..< plane {
                            out[base + c * plane + p] = hwc[p * image.channels + sourceChannel]
                        }
                    }
                }
            }
        }
        guard labelled else { return LabelledImages(source: directory, height: height, width: width, channels: channels, unlabeledPixels: pixels) }
        return LabelledImages(
            source: directory, height: height, width: width, channels: channels,
            classCount: classNames.count, classNames: classNames,
            pixels: pixels, labels: files.map(\.label))
    }
}
