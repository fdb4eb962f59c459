import BasisPrune
import Foundation
import TestSupport
import Testing

@Suite struct ImportTests {
    func write(_ bytes: [UInt8], _ name: String = "model.onnx", in directory: String? = nil) -> String {
        let path = (directory ?? Fixtures.temporaryDirectory("import")) + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func loadError(_ path: String) -> String? {
        do {
            _ = try ONNXImporter.load(path: path)
            return nil
        } catch { return error.description }
    }

    @Test func importsFmnistModel() throws {
        let model = try ONNXImporter.load(path: Fixtures.fmnistModel)
        #expect(model.irVersion == 7)
        #expect(model.defaultOpsetVersion == 13)
        #expect(model.producerName == "pytorch")
        #expect(model.graph.nodes.count == 1472)
        #expect(model.graph.nodes.filter { $0.opType == "Constant" }.count == 518)
        #expect(model.graph.inputs.map(\.name) == ["input"])
        #expect(model.graph.inputs[0].type?.tensor?.shape?.map(\.value) == [.symbolic("N"), .known(3), .known(32), .known(32)])
        #expect(model.graph.outputs[0].type?.tensor?.shape?.map(\.value) == [.symbolic("N"), .known(10)])
        let parameters = model.graph.initializers.reduce(0) { $0 + $1.elementCount }
        #expect(parameters == 3_362_810)
    }

    /// Fields the schema does not know, at the model, graph and node level, come back byte for byte.
    @Test func unknownFieldsSurviveByteForByte() throws {
        let original = ONNXBytes.reluModel(
            node: { $0.string(77, "a field from the future") },
            graphTail: { $0.int(88, 5) },
            model: { $0.message(999) { $0.string(1, "nested unknown message") } })
        let model = try ONNXImporter.decode(original, file: "unknown.onnx", directory: nil)
        #expect(!model.extraFields.isEmpty && !model.graph.extraFields.isEmpty && !model.graph.nodes[0].extraFields.isEmpty)
        #expect(ONNXExporter.encode(model) == original)
    }

    @Test func typedAndRawTensorsKeepTheirEncoding() throws {
        // An int64 initializer in int64_data and a float one in raw_data.
        let original = ONNXBytes.reluModel(graph: { g in
            g.message(5) { t in t.int(1, 3); t.int(2, 7); t.packed(7, [1, -2, 3]); t.string(8, "ints") }
            g.message(5) { t in t.int(1, 2); t.int(2, 1); t.string(8, "floats"); t.bytes(9, [0, 0, 128, 63, 0, 0, 0, 64]) }
        })
        let model = try ONNXImporter.decode(original, file: "t.onnx", directory: nil)
        let byName = model.graph.initializersByName
        #expect(byName["ints"]?.encoding == .typed)
        #expect(byName["ints"]?.doubleValues() == [1, -2, 3])
        #expect(byName["floats"]?.encoding == .raw)
        #expect(byName["floats"]?.doubleValues() == [1, 2])
        #expect(ONNXExporter.encode(model) == original)
    }

    @Test func externalDataIsLoadedFromBesideTheModel() throws {
        let directory = Fixtures.temporaryDirectory("external")
        var blob = [UInt8](repeating: 0xAB, count: 16)
        for v: Float in [1.5, -2.25] { withUnsafeBytes(of: v) { blob.append(contentsOf: $0) } }
        _ = FileManager.default.createFile(atPath: directory + "/weights.bin", contents: Data(blob))
        func model(length: Int64, location: String = "weights.bin") -> [UInt8] {
            ONNXBytes.reluModel(graph: { g in
                g.message(5) { t in
                    t.int(1, 2); t.int(2, 1); t.string(8, "w")
                    t.message(13) { $0.string(1, "location"); $0.string(2, location) }
                    t.message(13) { $0.string(1, "offset"); $0.string(2, "16") }
                    t.message(13) { $0.string(1, "length"); $0.string(2, "\(length)") }
                    t.int(14, 1)
                }
            })
        }
        let loaded = try ONNXImporter.load(path: write(model(length: 8), in: directory))
        #expect(loaded.graph.initializers[0].doubleValues() == [1.5, -2.25])
        #expect(loaded.graph.initializers[0].encoding == .external(location: "weights.bin", offset: 16, length: 8))

        let short = loadError(write(model(length: 8, location: "missing.bin"), "m2.onnx", in: directory))
        #expect(short?.hasPrefix(directory + "/m2.onnx: external data of tensor 'w': ") == true)
        #expect(short?.contains("missing.bin: No such file or directory") == true)
        _ = FileManager.default.createFile(atPath: directory + "/short.bin", contents: Data(blob.prefix(20)))
        let tooShort = loadError(write(model(length: 8, location: "short.bin"), "m3.onnx", in: directory))
        #expect(tooShort == directory + "/m3.onnx: external data of tensor 'w': \(directory)/short.bin: needs 8 bytes at offset 16, but the file has 20 bytes")
        let outside = loadError(write(model(length: 8, location: "../weights.bin"), "m4.onnx", in: directory))
        #expect(outside?.contains("outside the model's directory") == true)
    }

    // MARK: bad input: one line naming the file and the problem

    @Test func missingFile() {
        #expect(loadError("/nonexistent/model.onnx") == "/nonexistent/model.onnx: cannot read file: No such file or directory")
    }

    @Test func directoryInsteadOfFile() {
        let directory = Fixtures.temporaryDirectory("dir")
        #expect(loadError(directory) == "\(directory): cannot read file: is a directory")
    }

    @Test func emptyFile() {
        let path = write([])
        #expect(loadError(path) == "\(path): not an ONNX model: the file is empty")
    }

    @Test func notONNX() throws {
        let path = write(Array("this is a README, not a model\n".utf8))
        let message = try #require(loadError(path))
        #expect(message.hasPrefix("\(path): not an ONNX model: "))
        let png = write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 73, 72, 68, 82], "image.png")
        #expect(loadError(png)?.hasPrefix("\(png): not an ONNX model: ") == true)
    }

    @Test func truncatedFile() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: Fixtures.fmnistModel)))
        let path = write(Array(bytes.prefix(bytes.count / 2)))
        let message = try #require(loadError(path))
        #expect(message.hasPrefix("\(path): truncated ONNX file: field 7 at byte "), "\(message)")
    }

    @Test func randomBytes() throws {
        var generator = SplitMix64(seed: 7)
        let path = write((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let message = try #require(loadError(path))
        #expect(message.hasPrefix("\(path): "))
        #expect(!message.contains("\n"))
    }

    @Test(arguments: [2, 11, 99]) func unsupportedIRVersion(version: Int64) {
        let path = write(ONNXBytes.reluModel(irVersion: version))
        #expect(loadError(path) == "\(path): unsupported IR version \(version) (this tool reads IR versions 3 to 10)")
    }

    @Test(arguments: [3, 10]) func supportedIRVersionBounds(version: Int64) throws {
        let model = try ONNXImporter.decode(ONNXBytes.reluModel(irVersion: version), file: "m", directory: nil)
        #expect(model.irVersion == version)
    }

    @Test func nodeInputThatNamesNoTensor() {
        let path = write(ONNXBytes.reluModel(nodeInput: "ghost"))
        #expect(loadError(path) == "\(path): node 'relu' reads tensor 'ghost', which no graph input, initializer or earlier node defines")
    }

    @Test func unknownDataType() {
        let path = write(ONNXBytes.reluModel(graph: { g in
            g.message(5) { t in t.int(1, 1); t.int(2, 99); t.string(8, "w"); t.bytes(9, [1, 2, 3, 4]) }
        }))
        #expect(loadError(path) == "\(path): tensor 'w' has unknown data type 99")
    }

    @Test func rawDataOfWrongLength() {
        let path = write(ONNXBytes.reluModel(graph: { g in
            g.message(5) { t in t.int(1, 3); t.int(2, 1); t.string(8, "w"); t.bytes(9, [1, 2, 3, 4]) }
        }))
        #expect(loadError(path) == "\(path): tensor 'w': raw_data has 4 bytes, dims [3] of FLOAT need 12")
    }

    @Test func failedWriteLeavesNoFile() throws {
        let model = try ONNXImporter.decode(ONNXBytes.reluModel(), file: "m", directory: nil)
        let target = "/nonexistent-dir/out.onnx"
        #expect(throws: ONNXError.self) { try ONNXExporter.write(model, to: target) }
        #expect(!FileManager.default.fileExists(atPath: target))
        // Writing over an existing file replaces it whole and leaves no temporary file behind.
        let directory = Fixtures.temporaryDirectory("atomic")
        let path = write(Array("old".utf8), "out.onnx", in: directory)
        try ONNXExporter.write(model, to: path)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == ONNXExporter.encode(model))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["out.onnx"])
    }

    /// 1,000 seeded truncations and byte flips of a real model: each ends in a clean one-line
    /// error or a valid import (which must then export), never a crash or a hang.
    @Test func mutationsEndInErrorOrValidImport() throws {
        let original = try Array(Data(contentsOf: URL(fileURLWithPath: Fixtures.imagenetModel)))
        var generator = SplitMix64(seed: 2026)
        var errors = 0, valid = 0
        let start = Date()
        for trial in 0..<1000 {
            var bytes = original
            if trial % 2 == 0 {
                bytes.removeLast(Int.random(in: 1..<bytes.count, using: &generator))
            } else {
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                }
            }
            do {
                let model = try ONNXImporter.decode(bytes, file: "mutant-\(trial).onnx", directory: nil)
                _ = ONNXExporter.encode(model)
                valid += 1
            } catch {
                #expect(error.description.hasPrefix("mutant-\(trial).onnx: ") && !error.description.contains("\n"))
                errors += 1
            }
        }
        print("mutations: \(errors) clean errors, \(valid) valid imports, \(Int(Date().timeIntervalSince(start))) s")
        #expect(errors + valid == 1000)
        #expect(errors > 400)
    }
}
