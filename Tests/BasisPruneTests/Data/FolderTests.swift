import BasisPrune
import Foundation
import Testing

extension DataTests {
    @Suite struct Folder {
        /// Writes PNG files with Python's standard library only (zlib + struct): arguments are
        /// triples PATH WIDTH HEIGHT-xCHANNELS ... e.g. `a.png 4 3x1`. Pixel (x, y, c) of every
        /// image is (7x + 13y + 50c) % 256, colour type 0 (grey) or 2 (RGB), 8 bits.
        static let pngScript = #"""
            import struct, sys, zlib
            args = sys.argv[1:]
            for k in range(0, len(args), 3):
                path, width = args[k], int(args[k + 1])
                height, channels = (int(v) for v in args[k + 2].split("x"))
                rows = b"".join(
                    b"\x00" + bytes((7 * x + 13 * y + 50 * c) % 256 for x in range(width) for c in range(channels))
                    for y in range(height))
                def chunk(kind, data):
                    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
                header = struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0)
                with open(path, "wb") as f:
                    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
            """#

        static func pixel(x: Int, y: Int, c: Int) -> UInt8 { UInt8((7 * x + 13 * y + 50 * c) % 256) }

        func writePNGs(_ files: [(path: String, width: Int, height: Int, channels: Int)]) throws {
            for file in files {
                try FileManager.default.createDirectory(
                    atPath: (file.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            }
            _ = try runPython(Self.pngScript, files.flatMap { [$0.path, "\($0.width)", "\($0.height)x\($0.channels)"] })
        }

        /// A smooth HWC test picture (JPEG is lossy; smooth pictures survive it nearly unchanged).
        func smoothPixels(width: Int, height: Int, channels: Int) -> [UInt8] {
            var pixels: [UInt8] = []
            for y in 0 ..< height {
                for x in 0 ..< width {
                    for c in 0 ..< channels { pixels.append(UInt8(40 + 4 * x + 2 * y + 30 * c)) }
                }
            }
            return pixels
        }

        @Test func pngClassesInNameOrder() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writePNGs([
                (dir.file("shirt/b.png"), 5, 3, 1), (dir.file("shirt/a.png"), 5, 3, 1),
                (dir.file("boot/only.PNG"), 5, 3, 1),
            ])
            try dir.write("shirt/notes.txt", Array("not an image".utf8))
            try dir.write("README", Array("ignored".utf8))
            let images = try DataSpec(parsing: "folder:\(dir.path)").load()
            #expect(images.count == 3)
            #expect(images.classCount == 2 && images.classNames == ["boot", "shirt"])
            #expect(images.labels == [0, 1, 1])
            #expect(images.height == 3 && images.width == 5 && images.channels == 1)
            let expected = (0 ..< 3).flatMap { y in (0 ..< 5).map { x in Self.pixel(x: x, y: y, c: 0) } }
            #expect(Array(images.image(1)) == expected)
        }

        @Test func rgbPNGBecomesCHWAndGreyIsReplicated() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writePNGs([(dir.file("a/grey.png"), 4, 2, 1), (dir.file("b/rgb.png"), 4, 2, 3)])
            let images = try DataSpec(parsing: "folder:\(dir.path)").load()
            #expect(images.channels == 3)
            let planes = (0 ..< 3).map { c in
                (0 ..< 2).flatMap { y in (0 ..< 4).map { x in Self.pixel(x: x, y: y, c: c) } }
            }
            #expect(Array(images.image(1)) == planes.flatMap { $0 })
            #expect(Array(images.image(0)) == planes[0] + planes[0] + planes[0])
        }

        @Test func jpegFilesDecode() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try dir.makeDirectory("cat")
            try dir.makeDirectory("dog")
            let rgb = smoothPixels(width: 8, height: 8, channels: 3)
            try ImageCodec.writeJPEG(dir.file("cat/1.jpg"), pixels: rgb, width: 8, height: 8, channels: 3, quality: 100)
            let grey = smoothPixels(width: 8, height: 8, channels: 1)
            try ImageCodec.writeJPEG(dir.file("dog/1.jpeg"), pixels: grey, width: 8, height: 8, channels: 1, quality: 100)
            let images = try DataSpec(parsing: "folder:\(dir.path)").load()
            #expect(images.count == 2 && images.channels == 3 && images.height == 8 && images.width == 8)
            #expect(images.labels == [0, 1])
            // Compare CHW output with the HWC input, allowing JPEG's small errors.
            let cat = Array(images.image(0))
            var worst = 0
            for p in 0 ..< 64 {
                for c in 0 ..< 3 { worst = max(worst, abs(Int(cat[c * 64 + p]) - Int(rgb[p * 3 + c]))) }
            }
            #expect(worst <= 6, "largest JPEG error \(worst)")
            let dog = Array(images.image(1))
            let worstGrey = (0 ..< 64).map { p in abs(Int(dog[p]) - Int(grey[p])) }.max()!
            #expect(worstGrey <= 3, "largest JPEG error \(worstGrey)")
            #expect(dog[0 ..< 64] == dog[128 ..< 192])
        }

        @Test func corruptPNG() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writePNGs([(dir.file("a/good.png"), 4, 4, 1)])
            try dir.write("a/zbad.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 40))
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "folder:\(dir.path)").load() }
            expectMessage(error, startsWith: dir.file("a/zbad.png"), contains: "cannot decode image")
        }

        @Test func corruptJPEG() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try dir.write("a/bad.jpg", [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0x42, count: 60))
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "folder:\(dir.path)").load() }
            expectMessage(error, startsWith: dir.file("a/bad.jpg"), contains: "cannot decode image")
        }

        @Test func truncatedJPEG() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try dir.makeDirectory("a")
            try ImageCodec.writeJPEG(
                dir.file("a/full.jpg"), pixels: smoothPixels(width: 16, height: 16, channels: 3), width: 16, height: 16, channels: 3)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.file("a/full.jpg")))
            try dir.write("a/full.jpg", Array(bytes.prefix(bytes.count / 2)))
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "folder:\(dir.path)").load() }
            expectMessage(error, startsWith: dir.file("a/full.jpg"), contains: "cannot decode image")
        }

        @Test func imagesOfDifferentSizes() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writePNGs([(dir.file("a/1.png"), 4, 4, 1), (dir.file("b/2.png"), 5, 4, 1)])
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "folder:\(dir.path)").load() }
            expectMessage(error, startsWith: dir.file("b/2.png"), contains: "image is 5x4 but 1.png is 4x4")
        }

        @Test func folderWithNoImages() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "folder:\(dir.path)").load() }
            expectMessage(error, startsWith: dir.path, contains: "no PNG or JPEG images")
        }

        @Test func classFolderWithNoImages() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writePNGs([(dir.file("a/1.png"), 4, 4, 1)])
            try dir.write("b/readme.txt", Array("no images here".utf8))
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "folder:\(dir.path)").load() }
            expectMessage(error, startsWith: dir.file("b"), contains: "no PNG or JPEG images")
        }

        @Test func missingDirectory() throws {
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "folder:/nonexistent/pictures").load() }
            expectMessage(error, startsWith: "/nonexistent/pictures", contains: "no such directory")
        }
    }
}
