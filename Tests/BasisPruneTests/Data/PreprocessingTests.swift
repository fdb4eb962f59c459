import BasisPrune
import Foundation
import TestSupport
import Testing

extension DataTests {
    @Suite struct PreprocessingReference {
        /// The reference: Tests/TestSupport/python/fmnist_reference.py (numpy only; torch is not
        /// installed), PyTorch's bilinear formula written out in float32, reading the gzipped IDX
        /// file itself. Writes float32 NCHW bytes to stdout.
        static let script = """
            import runpy, sys
            sys.argv = sys.argv[1:]
            runpy.run_path(sys.argv[0], run_name="__main__")
            """

        static let reference = Fixtures.repositoryRoot + "/Tests/TestSupport/python/fmnist_reference.py"

        @Test(arguments: [(32, 32), (20, 45), (28, 28)])
        func matchesNumpyReference(height: Int, width: Int) throws {
            let images = try DataSpec(parsing: "idx:\(DataTests.fashionMNIST),split=test,range=0:4").load()
            let preprocessor = try Preprocessor(
                images: images, preprocessing: Preprocessing(height: height, width: width))
            let (inputs, labels) = preprocessor.batch(indices: [0, 1, 2, 3])
            #expect(labels == images.labels)
            #expect(inputs.count == 4 * 3 * height * width)

            let output = try runPython(
                Self.script,
                [Self.reference, DataTests.fashionMNIST + "/t10k-images-idx3-ubyte.gz", "\(height)", "\(width)", "0", "1", "2", "3"])
            let reference = output.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            try #require(reference.count == inputs.count)
            let worst = zip(inputs, reference).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-5, "largest difference \(worst) for 28x28 -> \(height)x\(width)")
        }

        /// Values PyTorch gives for interpolate(..., mode="bilinear", align_corners=False):
        /// [0, 10] -> 4 wide is [0, 2.5, 7.5, 10]; [0, 10, 20, 30] -> 2 wide is [5, 25].
        @Test(arguments: [
            ([0, 10], [0, 2.5, 7.5, 10]),
            ([0, 10, 20, 30], [5, 25]),
            ([0, 10, 20, 30], [0, 10, 20, 30]),
        ] as [([UInt8], [Float])])
        func knownPyTorchValues(row: [UInt8], expected: [Float]) throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try dir.write("t10k-images-idx3-ubyte", idxHeader(magic: 0x803, [1, 1, UInt32(row.count)]) + row)
            try dir.write("t10k-labels-idx1-ubyte", idxHeader(magic: 0x801, [1]) + [0])
            let images = try DataSpec(parsing: "idx:\(dir.path),split=test").load()
            let preprocessor = try Preprocessor(
                images: images,
                preprocessing: Preprocessing(height: 1, width: expected.count, channels: 1, mean: [0], std: [1]))
            #expect(preprocessor.batch(indices: [0]).inputs == expected)
        }

        @Test func sharedModelDefaults() {
            #expect(Preprocessing.sharedModels == Preprocessing(height: 32, width: 32, channels: 3, mean: [127], std: [128]))
        }

        @Test func perChannelMeanAndStdOnColourImages() throws {
            // One 1x2 RGB image, CHW: R = [0, 255], G = [10, 20], B = [100, 200].
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try dir.write("test_batch.bin", [3] + [0, 255] + Array(repeating: 0, count: 1022)
                + [10, 20] + Array(repeating: 0, count: 1022) + [100, 200] + Array(repeating: 0, count: 1022))
            let images = try DataSpec(parsing: "cifar:\(dir.path),split=test").load()
            let preprocessor = try Preprocessor(
                images: images,
                preprocessing: Preprocessing(height: 32, width: 32, mean: [0, 10, 100], std: [255, 10, 100]))
            let (inputs, labels) = preprocessor.batch(indices: [0])
            #expect(labels == [3])
            let plane = 32 * 32
            #expect(Array(inputs[0 ..< 2]) == [0, 1])
            #expect(Array(inputs[plane ..< plane + 2]) == [0, 1])
            #expect(Array(inputs[2 * plane ..< 2 * plane + 2]) == [0, 1])
        }

        @Test func rejectsColourImagesForAGreyModel() throws {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            try dir.write("test_batch.bin", [UInt8](repeating: 1, count: 3073))
            let images = try DataSpec(parsing: "cifar:\(dir.path),split=test").load()
            let error = #expect(throws: DataError.self) {
                try Preprocessor(images: images, preprocessing: Preprocessing(height: 8, width: 8, channels: 1))
            }
            expectMessage(error, startsWith: "cifar:\(dir.path),split=test", contains: "3 channels but the model takes 1")
        }
    }
}
