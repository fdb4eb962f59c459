import BasisPrune
import Foundation
import Testing

extension DataTests {
    @Suite struct IDX {
        // The expected values were computed independently with python3 and gzip:
        //   raw = gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').read()
        //   sum(raw[16 + 784 * i : 16 + 784 * (i + 1)])  and the label byte lb[8 + i] of the labels file;
        // sum of all labels likewise (uniform classes: 10000 * 4.5 and 60000 * 4.5).
        @Test func fashionMNISTTestSplit() throws {
            let images = try DataSpec(parsing: "idx:\(DataTests.fashionMNIST),split=test").load()
            #expect(images.count == 10_000)
            #expect(images.height == 28 && images.width == 28 && images.channels == 1)
            #expect(images.classCount == 10)
            #expect(images.pixels.count == 10_000 * 784)
            #expect(images.label(0) == 9)
            #expect(images.image(0).reduce(0) { $0 + Int($1) } == 33_456)
            #expect(images.label(1) == 2)
            #expect(images.image(1).reduce(0) { $0 + Int($1) } == 100_994)
            #expect(images.label(9_999) == 5)
            #expect(images.image(9_999).reduce(0) { $0 + Int($1) } == 24_390)
            #expect(images.labels.reduce(0) { $0 + Int($1) } == 45_000)
        }

        @Test func fashionMNISTTrainSplitIsTheDefault() throws {
            let images = try DataSpec(parsing: "idx:\(DataTests.fashionMNIST)").load()
            #expect(images.count == 60_000)
            #expect(images.height == 28 && images.width == 28 && images.channels == 1)
            #expect(images.classCount == 10)
            #expect(images.label(0) == 9)
            #expect(images.image(0).reduce(0) { $0 + Int($1) } == 76_247)
            #expect(images.label(59_999) == 5)
            #expect(images.image(59_999).reduce(0) { $0 + Int($1) } == 16_684)
            #expect(images.labels.reduce(0) { $0 + Int($1) } == 270_000)
        }

        @Test func rangeSelectsImagesOfTheSplit() throws {
            let all = try DataSpec(parsing: "idx:\(DataTests.fashionMNIST),split=test").load()
            let part = try DataSpec(parsing: "idx:\(DataTests.fashionMNIST),split=test,range=9998:10000").load()
            #expect(part.count == 2)
            #expect(part.classCount == 10)
            #expect(part.source == "idx:\(DataTests.fashionMNIST),split=test,range=9998:10000")
            #expect(Array(part.image(1)) == Array(all.image(9_999)))
            #expect(part.labels == [all.labels[9_998], all.labels[9_999]])
        }

        @Test func rangePastTheEndNamesTheSpec() throws {
            let spec = try DataSpec(parsing: "idx:\(DataTests.fashionMNIST),split=test,range=5000:10001")
            let error = #expect(throws: DataError.self) { try spec.load() }
            expectMessage(error, startsWith: spec.description, contains: "10000 images")
        }

        /// A small uncompressed IDX pair: 3 images of 2x4 and their labels.
        func writeSmallSet(_ dir: TemporaryDirectory, labels: [UInt8] = [1, 0, 2], imageMagic: UInt32 = 0x803,
                           labelCount: UInt32? = nil, dropPixels: Int = 0) throws {
            let pixels = (0 ..< 24).map { UInt8($0 * 10) }
            try dir.write("t10k-images-idx3-ubyte", idxHeader(magic: imageMagic, [3, 2, 4]) + pixels.dropLast(dropPixels))
            try dir.write("t10k-labels-idx1-ubyte", idxHeader(magic: 0x801, [labelCount ?? UInt32(labels.count)]) + labels)
        }

        @Test func readsUncompressedFiles() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writeSmallSet(dir)
            let images = try DataSpec(parsing: "idx:\(dir.path),split=test").load()
            #expect(images.count == 3 && images.height == 2 && images.width == 4 && images.classCount == 3)
            #expect(Array(images.image(2)) == (16 ..< 24).map { UInt8($0 * 10) })
            #expect(images.labels == [1, 0, 2])
        }

        @Test func missingDirectory() throws {
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "idx:/nonexistent/fmnist").load() }
            expectMessage(error, startsWith: "/nonexistent/fmnist", contains: "no such directory")
        }

        @Test func missingFile() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writeSmallSet(dir)
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "idx:\(dir.path)").load() }
            expectMessage(error, startsWith: dir.file("train-images-idx3-ubyte.gz"), contains: "no such file")
        }

        @Test func badMagic() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writeSmallSet(dir, imageMagic: 0x801)
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "idx:\(dir.path),split=test").load() }
            expectMessage(error, startsWith: dir.file("t10k-images-idx3-ubyte"), contains: "magic number 0x00000801, expected 0x00000803")
        }

        @Test func labelCountDisagreesWithImageCount() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writeSmallSet(dir, labels: [1, 0])
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "idx:\(dir.path),split=test").load() }
            expectMessage(error, startsWith: dir.file("t10k-labels-idx1-ubyte"),
                          contains: "2 labels but t10k-images-idx3-ubyte has 3 images")
        }

        @Test func truncatedImageFile() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writeSmallSet(dir, dropPixels: 5)
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "idx:\(dir.path),split=test").load() }
            expectMessage(error, startsWith: dir.file("t10k-images-idx3-ubyte"),
                          contains: "the IDX header promises 3 images of 2x4, more than the 35-byte file can hold")
        }

        @Test func truncatedLabelFile() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try writeSmallSet(dir, labels: [1, 0], labelCount: 3)
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "idx:\(dir.path),split=test").load() }
            expectMessage(error, startsWith: dir.file("t10k-labels-idx1-ubyte"), contains: "the IDX header promises 3 labels, more than the 10-byte file can hold")
        }

        @Test func truncatedGzipStream() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let gz = try Data(contentsOf: URL(fileURLWithPath: DataTests.fashionMNIST + "/t10k-images-idx3-ubyte.gz"))
            try dir.write("t10k-images-idx3-ubyte.gz", Array(gz.prefix(200_000)))
            try FileManager.default.copyItem(
                atPath: DataTests.fashionMNIST + "/t10k-labels-idx1-ubyte.gz", toPath: dir.file("t10k-labels-idx1-ubyte.gz"))
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "idx:\(dir.path),split=test").load() }
            expectMessage(error, startsWith: dir.file("t10k-images-idx3-ubyte.gz"), contains: "truncated")
        }
    }
}
