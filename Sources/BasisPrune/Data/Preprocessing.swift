/// How images become model inputs: bilinear resize to `height` x `width`, grey replicated to
/// `channels`, then `(pixel - mean) / std` per channel with pixels in 0...255.
///
/// The resize is PyTorch's `interpolate(mode="bilinear", align_corners=False)` without
/// antialiasing: source coordinate `(dst + 0.5) * (in / out) - 0.5`, clamped to >= 0, the
/// two neighbours clamped to the last row/column, all in Float32.
public struct Preprocessing: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int
    /// One value for all channels, or one per channel.
    public var mean: [Float]
    /// One value for all channels, or one per channel.
    public var std: [Float]

    public init(height: Int, width: Int, channels: Int = 3, mean: [Float] = [127], std: [Float] = [128]) {
        self.height = height
        self.width = width
        self.channels = channels
        self.mean = mean
        self.std = std
    }

    /// What the shared models expect (fmnist-lite0-32.onnx: 32x32, 3 channels, (p - 127) / 128).
    public static let sharedModels = Preprocessing(height: 32, width: 32)
}

/// Fills float32 NCHW batches from a set of labelled images with one `Preprocessing`.
/// The resize weights are computed once, here.
public struct Preprocessor: Sendable {
    public let images: LabelledImages
    public let preprocessing: Preprocessing
    private let rows: ResizeAxis
    private let columns: ResizeAxis
    private let mean: [Float]
    private let std: [Float]

    public init(images: LabelledImages, preprocessing: Preprocessing) throws(DataError) {
        let p = preprocessing
        func incompatible(_ reason: String) -> DataError { .incompatible(source: images.source, reason: reason) }
        guard p.height > 0, p.width > 0, p.channels > 0 else {
            throw incompatible("input size \(p.channels)x\(p.height)x\(p.width) is empty")
        }
        guard images.channels == 1 || images.channels == p.channels else {
            throw incompatible("images have \(images.channels) channels but the model takes \(p.channels)")
        }
        func perChannel(_ values: [Float], _ name: String) throws(DataError) -> [Float] {
            if values.count == 1 { return Array(repeating: values[0], count: p.channels) }
            guard values.count == p.channels else {
                throw incompatible("\(values.count) \(name) values for \(p.channels) channels")
            }
            return values
        }
        mean = try perChannel(p.mean, "mean")
        std = try perChannel(p.std, "std")
        guard std.allSatisfy({ $0 != 0 && $0.isFinite }) else { throw incompatible("std must be finite and non-zero") }
        self.images = images
        self.preprocessing = p
        rows = ResizeAxis(input: images.height, output: p.height)
        columns = ResizeAxis(input: images.width, output: p.width)
    }

    /// Floats one image takes in a batch: channels * height * width.
    public var floatsPerImage: Int { preprocessing.channels * preprocessing.height * preprocessing.width }

    /// Writes images `indices` (in that order) to `inputs` as NCHW float32
    /// (`indices.count * floatsPerImage` floats) and their labels to `labels` if given.
    public func fillBatch(
        indices: ArraySlice<Int>, inputs: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>? = nil
    ) {
        let (outHeight, outWidth) = (preprocessing.height, preprocessing.width)
        let outPlane = outHeight * outWidth
        let inPlane = images.height * images.width
        let inWidth = images.width
        // One resized plane per source channel; a grey image is resized once for all channels.
        let resized = UnsafeMutablePointer<Float>.allocate(capacity: outPlane)
        defer { resized.deallocate() }
        images.pixels.withUnsafeBufferPointer { pixels in
            rows.withPointers { y0, y1, wy0, wy1 in
                columns.withPointers { x0, x1, wx0, wx1 in
                    for (n, index) in indices.enumerated() {
                        precondition(index >= 0 && index < images.count, "image index \(index) outside 0..<\(images.count)")
                        labels?[n] = images.labels[index]
                        let image = pixels.baseAddress! + index * images.pixelsPerImage
                        for c in 0 ..< preprocessing.channels {
                            if c == 0 || images.channels > 1 {
                                let source = image + c * inPlane
                                for oy in 0 ..< outHeight {
                                    let r0 = source + y0[oy] * inWidth
                                    let r1 = source + y1[oy] * inWidth
                                    let (h0, h1) = (wy0[oy], wy1[oy])
                                    let row = resized + oy * outWidth
                                    for ox in 0 ..< outWidth {
                                        let (a, b) = (x0[ox], x1[ox])
                                        let (w0, w1) = (wx0[ox], wx1[ox])
                                        // Same association as PyTorch's CPU kernel.
                                        let top = w0 * Float(r0[a]) + w1 * Float(r0[b])
                                        let bottom = w0 * Float(r1[a]) + w1 * Float(r1[b])
                                        row[ox] = h0 * top + h1 * bottom
                                    }
                                }
                            }
                            let out = inputs + (n * preprocessing.channels + c) * outPlane
                            let (m, s) = (mean[c], std[c])
                            for i in 0 ..< outPlane { out[i] = (resized[i] - m) / s }
                        }
                    }
                }
            }
        }
    }

    /// Images `indices` as a new NCHW float32 array, with their labels.
    public func batch(indices: ArraySlice<Int>) -> (inputs: [Float], labels: [Int32]) {
        guard !indices.isEmpty else { return ([], []) }
        var inputs = [Float](repeating: 0, count: indices.count * floatsPerImage)
        var labels = [Int32](repeating: 0, count: indices.count)
        inputs.withUnsafeMutableBufferPointer { i in
            labels.withUnsafeMutableBufferPointer { l in
                fillBatch(indices: indices, inputs: i.baseAddress!, labels: l.baseAddress!)
            }
        }
        return (inputs, labels)
    }
}

/// Bilinear neighbours and weights along one axis, half-pixel centres (align_corners=False).
private struct ResizeAxis: Sendable {
    var first: [Int]
    var second: [Int]
    var firstWeight: [Float]
    var secondWeight: [Float]

    init(input: Int, output: Int) {
        let scale = Float(input) / Float(output)
        first = []
        second = []
        firstWeight = []
        secondWeight = []
        for o in 0 ..< output {
            let real = max(scale * (Float(o) + 0.5) - 0.5, 0)
            let i0 = min(Int(real), input - 1)
            let lambda = min(max(real - Float(i0), 0), 1)
            first.append(i0)
            second.append(i0 < input - 1 ? i0 + 1 : i0)
            firstWeight.append(1 - lambda)
            secondWeight.append(lambda)
        }
    }

    func withPointers<R>(
        _ body: (UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Float>, UnsafePointer<Float>) -> R
    ) -> R {
        first.withUnsafeBufferPointer { f in
            second.withUnsafeBufferPointer { s in
                firstWeight.withUnsafeBufferPointer { fw in
                    secondWeight.withUnsafeBufferPointer { sw in
                        body(f.baseAddress!, s.baseAddress!, fw.baseAddress!, sw.baseAddress!)
                    }
                }
            }
        }
    }
}
