#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
internal import CPNG
internal import CImageDecode

/// One decoded image, interleaved (HWC) as the codecs deliver it.
struct DecodedImage {
    var width: Int
    var height: Int
    var channels: Int
    var pixels: [UInt8]
}

/// PNG (libpng's simplified API) and JPEG (libjpeg via CImageDecode) decoding to 8-bit grey or RGB.
package enum ImageCodec {
    enum Kind { case png, jpeg }

    /// The codec for a file name by its extension, or nil for other files.
    static func kind(ofFileNamed name: String) -> Kind? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "png": return .png
        case "jpg", "jpeg": return .jpeg
        default: return nil
        }
    }

    /// Decodes `path` to its own channel count: 1 for grey, 3 for colour (alpha is dropped).
    static func decode(_ path: String, kind: Kind) throws(DataError) -> DecodedImage {
        switch kind {
        case .png: return try decodePNG(path)
        case .jpeg: return try decodeJPEG(path)
        }
    }

    static func decodePNG(_ path: String) throws(DataError) -> DecodedImage {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        func failure() -> DataError {
            let message = withUnsafeBytes(of: image.message) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            png_image_free(&image)
            return .malformedImage(file: path, reason: message.isEmpty ? "libpng failed" : message)
        }
        if DataFiles.kind(path) != .file { throw .unreadable(path: path, reason: "no such file") }
        guard png_image_begin_read_from_file(&image, path) != 0 else { throw failure() }
        let colour = image.format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
        // PNG_FORMAT_RGB is #defined as PNG_FORMAT_FLAG_COLOR and PNG_FORMAT_GRAY as 0.
        image.format = colour ? png_uint_32(PNG_FORMAT_FLAG_COLOR) : 0
        let channels = colour ? 3 : 1
        let (width, height) = (Int(image.width), Int(image.height))
        if let reason = implausibleSize(width: width, height: height, path: path, ratio: 1032) {
            png_image_free(&image)
            throw .malformedImage(file: path, reason: reason)
        }
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        // Row stride 0 means "packed"; with a nil background any alpha is composed onto the
        // buffer, whose zeros make that black.
        let ok = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw failure() }
        png_image_free(&image)
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Largest accepted image: 2^26 pixels (8192x8192), sides up to 2^16.
    static let maxPixels = 1 << 26

    /// Why a header's `width` x `height` cannot be believed: past `maxPixels`, or more pixels than
    /// the file's compressed bytes can hold at the codec's best `ratio` of pixels to bytes.
    static func implausibleSize(width: Int, height: Int, path: String, ratio: Int) -> String? {
        var status = stat()
        let fileSize = stat(path, &status) == 0 ? Int(status.st_size) : 0
        let pixels = width * height
        if width <= 0 || height <= 0 || pixels > maxPixels {
            return "the header claims \(width)x\(height) pixels; the largest image read is \(maxPixels) pixels"
        }
        if pixels > fileSize * ratio + 4096 {
            return "the header claims \(width)x\(height) pixels, more than the \(fileSize)-byte file can hold"
        }
        return nil
    }

    static func decodeJPEG(_ path: String) throws(DataError) -> DecodedImage {
        var data: UnsafeMutablePointer<UInt8>?
        var (width, height, channels): (Int32, Int32, Int32) = (0, 0, 0)
        var reason = [CChar](repeating: 0, count: 256)
        let status = decode_jpeg(path, 0, &data, &width, &height, &channels, &reason, reason.count)
        guard status == 0, let data else {
            let text = String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if DataFiles.kind(path) != .file { throw .unreadable(path: path, reason: text) }
            throw .malformedImage(file: path, reason: text)
        }
        defer { free(data) }
        let count = Int(width) * Int(height) * Int(channels)
        return DecodedImage(
            width: Int(width), height: Int(height), channels: Int(channels),
            pixels: Array(UnsafeBufferPointer(start: data, count: count)))
    }

    /// Writes interleaved (HWC) grey or RGB pixels as a JPEG file; tests use it to make fixtures.
    package static func writeJPEG(
        _ path: String, pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int = 95
    ) throws(DataError) {
        precondition(pixels.count == width * height * channels, "pixel count does not match the size")
        var reason = [CChar](repeating: 0, count: 256)
        let status = encode_jpeg(path, pixels, Int32(width), Int32(height), Int32(channels), Int32(quality), &reason, reason.count)
        guard status == 0 else {
            throw .unreadable(path: path, reason: String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}
