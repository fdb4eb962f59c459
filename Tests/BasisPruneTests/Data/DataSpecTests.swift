import BasisPrune
import Testing

extension DataTests {
    @Suite struct Spec {
        @Test func parsesAllParts() throws {
            let spec = try DataSpec(parsing: "idx:/usr/share/datasets/fashion-mnist,split=test,range=0:5000")
            #expect(spec == DataSpec(format: .idx, path: "/usr/share/datasets/fashion-mnist", split: .test, range: 0 ..< 5000))
            #expect(spec.description == "idx:/usr/share/datasets/fashion-mnist,split=test,range=0:5000")
        }

        @Test func defaults() throws {
            #expect(try DataSpec(parsing: "idx:/d").split == .train)
            #expect(try DataSpec(parsing: "cifar:/d,range=1:2").split == .train)
            let folder = try DataSpec(parsing: "folder:/pictures")
            #expect(folder.split == nil && folder.range == nil)
            #expect(folder.description == "folder:/pictures")
        }

        @Test func descriptionParsesBack() throws {
            for text in ["idx:/a,split=train", "cifar:relative/dir,split=test,range=3:4", "folder:/p,range=0:1"] {
                let spec = try DataSpec(parsing: text)
                #expect(try DataSpec(parsing: spec.description) == spec)
            }
        }

        @Test(arguments: [
            ("/usr/share/datasets/fashion-mnist", "no FORMAT: prefix"),
            ("png:/d", "unknown format 'png'"),
            ("idx:", "empty path"),
            ("idx:/d,split=validation", "split 'validation' is not train or test"),
            ("folder:/d,split=test", "format folder has no splits"),
            ("idx:/d,range=5", "range '5' is not A:B"),
            ("idx:/d,range=5:5", "range '5:5' needs 0 <= A < B"),
            ("idx:/d,range=-1:5", "range '-1:5' needs 0 <= A < B"),
            ("idx:/d,seed=3", "unknown option 'seed'"),
            ("idx:/d,test", "option 'test' is not key=value"),
            ("idx:/d,split=test,split=train", "split given twice"),
        ])
        func badSpec(text: String, reason: String) {
            let error = #expect(throws: DataError.self) { try DataSpec(parsing: text) }
            expectMessage(error, startsWith: text, contains: "bad data spec: \(reason)")
        }
    }

    @Suite struct Shuffling {
        @Test func sameSeedSameOrderDifferentSeedDifferentOrder() {
            let a = Batcher(count: 1000, batchSize: 64, shuffleSeed: 42)
            let b = Batcher(count: 1000, batchSize: 64, shuffleSeed: 42)
            let c = Batcher(count: 1000, batchSize: 64, shuffleSeed: 43)
            #expect(a.order(epoch: 0) == b.order(epoch: 0))
            #expect(a.order(epoch: 3) == b.order(epoch: 3))
            #expect(a.order(epoch: 0) != c.order(epoch: 0))
            #expect(a.order(epoch: 0) != a.order(epoch: 1))
            #expect(a.order(epoch: 0).sorted() == Array(0 ..< 1000))
        }

        /// Pinned values: the generator must give the same numbers on every machine and toolchain.
        @Test func pinnedSequences() {
            var random = SeededRandom(seed: 0)
            let first = (0 ..< 3).map { _ in random.next() }
            #expect(first == SeededRandomPins.seed0)
            #expect(Batcher(count: 10, batchSize: 4, shuffleSeed: 7).order(epoch: 0) == SeededRandomPins.order10seed7)
        }

        @Test func belowIsInRangeAndCoversIt() {
            var random = SeededRandom(seed: 9)
            var seen = Set<Int>()
            for _ in 0 ..< 1000 {
                let v = random.below(7)
                #expect(v >= 0 && v < 7)
                seen.insert(v)
            }
            #expect(seen.count == 7)
        }

        @Test func batchesCoverTheSetOnce() {
            let batcher = Batcher(count: 10, batchSize: 4, shuffleSeed: 1)
            let batches = batcher.batches(epoch: 2)
            #expect(batches.map(\.count) == [4, 4, 2])
            #expect(batches.flatMap { $0 } == batcher.order(epoch: 2))
            #expect(Batcher(count: 10, batchSize: 4, dropLast: true).batches(epoch: 0).map { Array($0) } == [[0, 1, 2, 3], [4, 5, 6, 7]])
            #expect(Batcher(count: 5, batchSize: 2).order(epoch: 9) == [0, 1, 2, 3, 4])
        }

        @Test func batchesFeedThePreprocessor() throws {
            let images = try DataSpec(parsing: "idx:\(DataTests.fashionMNIST),split=test,range=0:10").load()
            let preprocessor = try Preprocessor(images: images, preprocessing: .sharedModels)
            let batch = Batcher(count: images.count, batchSize: 4, shuffleSeed: 5).batches(epoch: 0)[0]
            var inputs = [Float](repeating: .nan, count: batch.count * preprocessor.floatsPerImage)
            var labels = [Int32](repeating: -1, count: batch.count)
            inputs.withUnsafeMutableBufferPointer { i in
                labels.withUnsafeMutableBufferPointer { l in
                    preprocessor.fillBatch(indices: batch, inputs: i.baseAddress!, labels: l.baseAddress!)
                }
            }
            #expect(labels == batch.map { images.labels[$0] })
            #expect(inputs.allSatisfy { $0.isFinite && $0 >= -127.0 / 128 && $0 <= 1 })
            #expect(inputs == preprocessor.batch(indices: batch).inputs)
        }
    }
}

/// Computed by a separate Python transcription of SplitMix64 seeding, xoshiro256**, Lemire's
/// bounded draw and the Fisher-Yates loop (from i = count - 1 down to 1, j = below(i + 1)).
enum SeededRandomPins {
    static let seed0: [UInt64] = [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0]
    static let order10seed7 = [1, 8, 3, 0, 4, 5, 9, 6, 2, 7]
}
