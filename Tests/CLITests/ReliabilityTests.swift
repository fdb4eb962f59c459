import BasisPrune
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 12 ("Reliability"), one test per numbered item, each on the built binary and real files.
@Suite struct ReliabilityTests {
    static let fmnist = "idx:\(Fixtures.fashionMNIST)"
    static let conv2d = Fixtures.onnxTestData + "/pytorch-converted/test_Conv2d/model.onnx"
    static let linear = Fixtures.onnxTestData + "/pytorch-converted/test_Linear/model.onnx"

    /// Runs the tool under coreutils `timeout` (exit 124 when it had to be killed).
    static func tool(_ arguments: [String], seconds: Int = 120) throws -> ProcessResult {
        try run("/usr/bin/timeout", ["\(seconds)", Fixtures.executable] + arguments)
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// The one-line error contract: exit 2 and one line `onnx-basisprune: ...` on stderr.
    static func expectCleanError(_ result: ProcessResult, code: Int32 = 2, containing parts: [String],
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == code, "exit \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("onnx-basisprune: "), sourceLocation: sourceLocation)
        for part in parts { #expect(result.stderr.contains(part), "'\(part)' not in: \(result.stderr)", sourceLocation: sourceLocation) }
    }

    // MARK: 1. OUT equal to IN

    @Test func outThatIsTheInputIsRefusedUnlessInPlace() throws {
        let directory = try Self.copyDirectory("in-place")
        let model = directory + "/m.onnx"
        try FileManager.default.copyItem(atPath: Self.conv2d, toPath: model)
        try FileManager.default.linkItem(atPath: model, toPath: directory + "/hard.onnx")
        try FileManager.default.createSymbolicLink(atPath: directory + "/soft.onnx", withDestinationPath: "m.onnx")
        let original = try #require(Self.bytes(model))
        for out in [model, directory + "/./m.onnx", directory + "/../\(URL(fileURLWithPath: directory).lastPathComponent)/m.onnx",
                    directory + "/hard.onnx", directory + "/soft.onnx"] {
            let split = try Self.tool(["split", model, out])
            Self.expectCleanError(split, containing: ["\(out): OUT is the input model \(model)", "--in-place"])
            #expect(Self.bytes(model) == original)
        }
        // The main job refuses before reading any data (the data spec here does not even exist).
        let job = try Self.tool([Fixtures.bundledModel, Fixtures.bundledModel, "--data", "idx:/nonexistent"])
        Self.expectCleanError(job, containing: ["OUT is the input model"])
        let report = try Self.tool(["inspect", model, "--report", directory + "/hard.onnx"])
        Self.expectCleanError(report, containing: ["--report is the input model"])
        #expect(Self.bytes(model) == original)

        let inPlace = try Self.tool(["split", model, directory + "/./m.onnx", "--in-place", "--quiet"])
        #expect(inPlace.status == 0, "\(inPlace.stderr)")
        let replaced = try ONNXImporter.load(path: model)
        #expect(replaced.graph.nodes.map(\.opType) == ["Conv", "Conv"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["hard.onnx", "m.onnx", "soft.onnx"])
    }

    // MARK: 5. output paths checked before any work

    @Test func unwritableOutputsFailBeforeAnyWork() throws {
        let directory = try Self.copyDirectory("early")
        let missing = directory + "/no/such/dir"
        // The whole training set: minutes of work if the check came at the end.
        let full = ["--data", Self.fmnist, "--val-data", "\(Self.fmnist),split=test", "--quiet"]
        // A directory no file can be created in: read-only by its mode (CI runs as root, whom a
        // mode does not stop), and one the kernel refuses to create files in even for root.
        let readOnly = directory + "/read-only"
        try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o555])
        let refusing = getuid() == 0 ? ["/proc/self"] : [readOnly, "/proc/self"]
        let cases: [([String], String)] = refusing.map { ([$0 + "/out.onnx"], $0 + "/out.onnx") }
            + [([missing + "/out.onnx"], missing + "/out.onnx"),
               ([directory + "/out.onnx", "--report", missing + "/r.json"], missing + "/r.json"),
               ([directory + "/out.onnx", "--plot", directory], directory)]
        for (arguments, path) in cases {
            let start = Date()
            let result = try Self.tool([Fixtures.bundledModel] + arguments + full, seconds: 60)
            Self.expectCleanError(result, code: 1, containing: ["\(path): cannot write: "])
            #expect(Date().timeIntervalSince(start) < 20, "failed only after \(Date().timeIntervalSince(start)) s")
            #expect(!FileManager.default.fileExists(atPath: directory + "/out.onnx"))
        }
        let split = try Self.tool(["split", Self.conv2d, missing + "/out.onnx"])
        Self.expectCleanError(split, code: 1, containing: ["\(missing)/out.onnx: cannot write: directory \(directory)/no/such/dir: "])
    }

    // MARK: 6. labels outside the model's classes

    @Test func labelsOutsideTheModelsClassesNameTheDataFile() throws {
        let directory = try Self.copyDirectory("labels")
        var labels = [UInt8](repeating: 1, count: 20)
        labels[3] = 200
        try Self.writeIDX(directory, count: 20, rows: 28, columns: 28, labels: labels)
        let spec = "idx:\(directory),split=test"
        let message = "\(spec): image 3 has label 200, outside the 10 classes (0-9) of \(Fixtures.bundledModel)'s output"
        Self.expectCleanError(try Self.tool(["eval", Fixtures.bundledModel, "--data", spec]), containing: [message])
        let start = Date()
        let asValidation = try Self.tool([Fixtures.bundledModel, directory + "/out.onnx", "--data", "\(Self.fmnist),range=0:2000",
                                          "--val-data", spec, "--quiet"])
        Self.expectCleanError(asValidation, containing: [message])
        #expect(Date().timeIntervalSince(start) < 30)
        Self.expectCleanError(try Self.tool([Fixtures.bundledModel, directory + "/out.onnx", "--data", spec, "--quiet"]), containing: [message])
        #expect(!FileManager.default.fileExists(atPath: directory + "/out.onnx"))
    }

    // MARK: 4. hostile headers

    @Test func hostileHeadersAreRefusedBeforeAllocating() throws {
        for (count, rows, columns) in [(Int(Int32.max), 28, 28), (1, 16384, 16384), (60000, 16384, 16384)] {
            let directory = try Self.copyDirectory("idx")
            try Self.writeIDX(directory, count: count, rows: rows, columns: columns, labels: [1, 2], pixelBytes: 2 * 28 * 28)
            let result = try Self.tool(["eval", Fixtures.bundledModel, "--data", "idx:\(directory),split=test"])
            Self.expectCleanError(result, containing: ["\(directory)/t10k-images-idx3-ubyte: ", "\(count)"])
        }
        let directory = try Self.copyDirectory("png")
        for name in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(name)", withIntermediateDirectories: true)
            try Data(Self.pngHeader(width: 100_000, height: 100_000)).write(to: URL(fileURLWithPath: "\(directory)/\(name)/x.png"))
        }
        let png = try Self.tool(["eval", Fixtures.bundledModel, "--data", "folder:\(directory)"])
        Self.expectCleanError(png, containing: ["x.png", "100000x100000"])
    }

    // MARK: 3. external data outside the model's folder

    @Test func externalDataOutsideTheFolderOrNotAFileIsRefused() throws {
        let root = try Self.copyDirectory("external")
        let directory = root + "/model"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(repeating: 0x3F, count: 8).write(to: URL(fileURLWithPath: root + "/secret.bin"))
        try FileManager.default.createSymbolicLink(atPath: directory + "/link.bin", withDestinationPath: "../secret.bin")
        try FileManager.default.createSymbolicLink(atPath: directory + "/up", withDestinationPath: "..")
        #expect(mkfifo(directory + "/pipe.bin", 0o644) == 0)
        try Data(repeating: 0, count: 8).write(to: URL(fileURLWithPath: directory + "/inside.bin"))
        for (location, problem) in [("link.bin", "outside the model's directory"), ("up/secret.bin", "outside the model's directory"),
                                    ("pipe.bin", "is not a regular file"), ("inside.bin", nil)] {
            let path = directory + "/\(location.replacingOccurrences(of: "/", with: "-")).onnx"
            try Data(Self.externalModel(location: location)).write(to: URL(fileURLWithPath: path))
            for command in [["inspect", path], ["split", path, root + "/out.onnx"], ["eval", path, "--data", Self.fmnist]] {
                let result = try Self.tool(command, seconds: 20)
                if let problem {
                    Self.expectCleanError(result, containing: ["\(path): external data of tensor 'w': ", problem])
                } else {
                    // Inside the folder: read, then refused only for not being an image classifier.
                    #expect(!result.stderr.contains("external data"), "\(result.stderr)")
                    #expect(result.status != 124)
                }
            }
        }
    }

    // MARK: 7. NaN weights; temporary files

    @Test func nonFiniteWeightsAreNamed() throws {
        let directory = try Self.copyDirectory("nan")
        var model = try ONNXImporter.load(path: Self.conv2d)
        let index = try #require(model.graph.initializers.firstIndex { $0.dims.count == 4 })
        var values = try #require(model.graph.initializers[index].doubleValues()).map { Float($0) }
        values[5] = .nan
        let weight = model.graph.initializers[index]
        model.graph.initializers[index] = Tensor(name: weight.name, dims: weight.dims, floats: values)
        try ONNXExporter.write(model, to: directory + "/nan.onnx")
        let result = try Self.tool(["split", directory + "/nan.onnx", directory + "/out.onnx"])
        Self.expectCleanError(result, containing: ["\(directory)/nan.onnx: BasisSplit: node '", "weight '\(weight.name!)' has 1 NaN or infinite values"])
        #expect(!result.stderr.contains("LAPACKE"))
    }

    @Test func leftoverTemporaryFilesAreCleanedAtTheNextWrite() throws {
        let directory = try Self.copyDirectory("leftover")
        let leftover = directory + "/.out.onnx.tmp-Ab3dEf"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: leftover))
        try Data([1]).write(to: URL(fileURLWithPath: directory + "/.other.onnx.tmp-Ab3dEf"))
        let result = try Self.tool(["split", Self.conv2d, directory + "/out.onnx", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == [".other.onnx.tmp-Ab3dEf", "out.onnx"])
    }

    /// SIGTERM while OUT is staged (the output model is being evaluated on the test images) leaves
    /// no temporary file and no OUT.
    @Test(arguments: [SIGTERM, SIGINT])
    func signalRemovesTemporaryFiles(_ signalNumber: Int32) throws {
        let directory = try Self.copyDirectory("signal")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixtures.executable)
        // OUT is staged once the job is done; --verify then runs the staged file on the 5,000
        // validation images (the rest certify), which leaves time to catch it. --force: a fixed
        // ratio need not certify.
        process.arguments = [Fixtures.bundledModel, directory + "/out.onnx", "--data", "\(Self.fmnist),range=0:300",
                             "--val-data", "\(Self.fmnist),split=test", "--verify", "--force",
                             "--epochs", "0", "--prune-ratio", "0.1", "--round-fraction", "0.9", "--retrain-images", "100",
                             "--method", "basis", "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(240)
        var staged: String?
        while staged == nil && process.isRunning && Date() < deadline {
            staged = try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasPrefix(".out.onnx.tmp-") }
            usleep(20_000)
        }
        #expect(staged != nil, "OUT was never staged while the run lasted")
        kill(process.processIdentifier, signalNumber)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [])
    }

    // MARK: helpers

    static func copyDirectory(_ label: String) throws -> String {
        Fixtures.temporaryDirectory("rel-\(label)")
    }

    /// Plain (not gzipped) t10k IDX files whose image header says `count` x `rows` x `columns`,
    /// followed by `pixelBytes` bytes (default: what the header promises).
    static func writeIDX(_ directory: String, count: Int, rows: Int, columns: Int, labels: [UInt8], pixelBytes: Int? = nil) throws {
        func word(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8((v >> $0) & 0xFF) } }
        var images = word(0x803) + word(count) + word(rows) + word(columns)
        images += (0..<(pixelBytes ?? count * rows * columns)).map { UInt8($0 % 251) }
        try Data(images).write(to: URL(fileURLWithPath: directory + "/t10k-images-idx3-ubyte"))
        try Data(word(0x801) + word(pixelBytes == nil ? count : labels.count) + labels)
            .write(to: URL(fileURLWithPath: directory + "/t10k-labels-idx1-ubyte"))
    }

    /// A PNG signature and IHDR chunk claiming `width` x `height` RGB pixels, a short IDAT (an
    /// empty zlib stream; libpng reads the header up to the first IDAT), then IEND.
    static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8((v >> UInt32($0)) & 0xFF) } }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in body {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return be(UInt32(data.count)) + body + be(~crc)
        }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", be(width) + be(height) + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
    }

    /// `y = Relu(x)` (opset 13) with an initializer `w` of two floats stored at `location`.
    static func externalModel(location: String) -> [UInt8] {
        ONNXBytes.reluModel(graph: { g in
            g.message(5) { t in
                t.int(1, 2); t.int(2, 1); t.string(8, "w")
                t.message(13) { $0.string(1, "location"); $0.string(2, location) }
                t.int(14, 1)
            }
        }, model: { m in m.message(8) { $0.int(2, 13) } })
    }
}
