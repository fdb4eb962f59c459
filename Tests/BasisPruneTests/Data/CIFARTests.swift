import BasisPrune
import Foundation
import Testing

extension DataTests {
    @Suite struct CIFAR {
        /// `count` records; record r has label r % 10 and every pixel of channel c equal to r + 10 * c.
        func records(_ count: Int, from first: Int = 0) -> [UInt8] {
            (first ..< first + count).flatMap { r -> [UInt8] in
                [UInt8(r % 10)] + (0 ..< 3).flatMap { c in [UInt8](repeating: UInt8(r + 10 * c), count: 1024) }
            }
        }

        @Test func testSplit() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try dir.write("test_batch.bin", records(4))
            let images = try DataSpec(parsing: "cifar:\(dir.path),split=test").load()
            #expect(images.count == 4)
            #expect(images.height == 32 && images.width == 32 && images.channels == 3 && images.classCount == 10)
            #expect(images.labels == [0, 1, 2, 3])
            let third = Array(images.image(2))
            #expect(third[0] == 2 && third[1023] == 2 && third[1024] == 12 && third[3071] == 22)
        }

        @Test func trainSplitJoinsTheFiveBatchesInOrder() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            for b in 1 ... 5 { try dir.write("data_batch_\(b).bin", records(2, from: 2 * (b - 1))) }
            let images = try DataSpec(parsing: "cifar:\(dir.path),range=3:9").load()
            #expect(images.count == 6)
            #expect(images.labels == [3, 4, 5, 6, 7, 8])
            #expect(images.image(5).first == 8)
        }

        @Test func missingBatchFile() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            for b in 1 ... 4 { try dir.write("data_batch_\(b).bin", records(1)) }
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "cifar:\(dir.path)").load() }
            expectMessage(error, startsWith: dir.file("data_batch_5.bin"), contains: "cannot read")
        }

        @Test func truncatedFile() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try dir.write("test_batch.bin", Array(records(3).dropLast(100)))
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "cifar:\(dir.path),split=test").load() }
            expectMessage(error, startsWith: dir.file("test_batch.bin"), contains: "not a whole number of 3073-byte records")
        }

        @Test func labelOutOfRange() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            var bytes = records(2)
            bytes[3073] = 10
            try dir.write("test_batch.bin", bytes)
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: "cifar:\(dir.path),split=test").load() }
            expectMessage(error, startsWith: dir.file("test_batch.bin"), contains: "record 1 has label 10")
        }
    }
}
