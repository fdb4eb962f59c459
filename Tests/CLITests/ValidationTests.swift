import BasisPrune
import Foundation
import TestSupport
import Testing

/// Issue 12, item 2: one validation after import, shared by every command, and exports valid at
/// the model's own IR version and opset.
@Suite struct ValidationTests {
    static let conv2d = ReliabilityTests.conv2d

    /// A broken variant of a real model, the fragment its error must contain.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var source: String
        var expected: String
        var mutate: @Sendable (inout Model) -> Void
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown op", source: conv2d, expected: "op type 'FooBar' is not one this tool runs") { m in
            m.graph.nodes[0].opType = "FooBar"
        },
        Case(name: "swapped ops", source: Fixtures.bundledModel, expected: "(Gemm): ") { m in
            let conv = m.graph.nodes.firstIndex { $0.opType == "Conv" }, gemm = m.graph.nodes.firstIndex { $0.opType == "Gemm" }
            guard let conv, let gemm else { return }
            m.graph.nodes[gemm].opType = "Conv"
            m.graph.nodes[conv].opType = "Gemm"
        },
        Case(name: "cycle", source: Fixtures.bundledModel, expected: "before any node computes it (the nodes are out of order or form a cycle)") { m in
            guard let conv = m.graph.nodes.firstIndex(where: { $0.opType == "Conv" }) else { return }
            m.graph.nodes[conv].inputs[0] = m.graph.nodes.last!.outputs[0]
        },
        Case(name: "duplicate output", source: Fixtures.bundledModel, expected: "is already defined") { m in
            // The last node (nothing reads its output but the graph) writes the first Conv's output.
            guard let conv = m.graph.nodes.firstIndex(where: { $0.opType == "Conv" }) else { return }
            m.graph.nodes[m.graph.nodes.count - 1].outputs[0] = m.graph.nodes[conv].outputs[0]
        },
        Case(name: "opset 0", source: conv2d, expected: "opset 0 of the default domain is not supported (1 to 23)") { m in
            m.opsetImports = m.opsetImports.map { OpsetImport(domain: $0.domain, version: 0) }
        },
        Case(name: "opset 99", source: conv2d, expected: "opset 99 of the default domain is not supported") { m in
            m.opsetImports = m.opsetImports.map { OpsetImport(domain: $0.domain, version: 99) }
        },
        Case(name: "UINT4 weight", source: conv2d, expected: "element type UINT4, which the engine does not handle") { m in
            let w = m.graph.initializers[0]
            let bytes = DataType.uint4.rawByteCount(elements: w.elementCount)
            m.graph.initializers[0] = Tensor(name: w.name, dataType: .uint4, dims: w.dims, storage: TensorStorage(values: [UInt8](repeating: 0x11, count: bytes)))
        },
        Case(name: "group not dividing the channels", source: conv2d, expected: "do not split into 3 groups") { m in
            m.graph.nodes[0].attributes.removeAll { $0.name == "group" }
            m.graph.nodes[0].attributes.append(Attribute(name: "group", value: .int(3)))
        },
        Case(name: "zero strides", source: conv2d, expected: "strides [0, 0] must all be in 1...16777216") { m in
            m.graph.nodes[0].attributes.removeAll { $0.name == "strides" }
            m.graph.nodes[0].attributes.append(Attribute(name: "strides", value: .ints([0, 0])))
        },
        Case(name: "empty input name", source: conv2d, expected: "required input 1 has an empty name") { m in
            m.graph.nodes[0].inputs[1] = ""
        },
    ]

    /// `inspect`, `split` and `eval` refuse the same file with the same single line, exit 2.
    @Test(arguments: cases)
    func everyCommandRefusesAnInvalidModelAlike(_ testCase: Case) throws {
        let directory = try ReliabilityTests.copyDirectory("validation")
        var model = try ONNXImporter.load(path: testCase.source)
        testCase.mutate(&model)
        let path = directory + "/bad.onnx"
        try ONNXExporter.write(model, to: path)
        let runs = try [["inspect", path], ["split", path, directory + "/out.onnx"],
                        ["eval", path, "--data", "\(ReliabilityTests.fmnist),range=0:10"],
                        [path, directory + "/out.onnx", "--data", "\(ReliabilityTests.fmnist),range=0:10"]].map { try ReliabilityTests.tool($0) }
        for result in runs {
            ReliabilityTests.expectCleanError(result, containing: ["\(path): ", testCase.expected])
            #expect(result.stderr == runs[0].stderr)
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/out.onnx"))
    }

    /// IR 3 (initializers must be graph inputs) and opset 6 (Gemm needs C) conformance models
    /// split into files the onnx checker and onnxruntime accept.
    @Test func splitOfOldIRAndOpsetModelsIsValid() throws {
        let directory = try ReliabilityTests.copyDirectory("old-ir")
        var arguments: [String] = []
        for name in ["test_Conv2d", "test_Linear"] {
            let source = Fixtures.onnxTestData + "/pytorch-converted/\(name)"
            let out = "\(directory)/\(name).onnx"
            let result = try ReliabilityTests.tool(["split", source + "/model.onnx", out, "--quiet"])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            arguments.append("\(out)=\(source)")
        }
        let verdicts = try #require(try runJudge("judge_models.py", arguments) as? [String: String])
        #expect(verdicts.count == 2)
        for (path, verdict) in verdicts { #expect(verdict == "ok", "\(path): \(verdict)") }
        let linear = try ONNXImporter.load(path: directory + "/test_Linear.onnx")
        #expect(linear.irVersion == 3)
        #expect(linear.graph.nodes.filter { $0.opType == "Gemm" }.allSatisfy { $0.inputs.count == 3 })
        let inputs = Set(linear.graph.inputs.map(\.name))
        #expect(linear.graph.initializers.allSatisfy { inputs.contains($0.name!) })
    }

    /// Every conformance model the tool accepts (`inspect` exits 0) splits into a file the onnx
    /// checker and onnxruntime accept (run on the case's own inputs), or is refused in one line.
    @Test func splitOfEveryAcceptedConformanceModelIsValid() throws {
        let directory = try ReliabilityTests.copyDirectory("conformance-split")
        var judged: [String] = [], accepted = 0
        for (index, model) in Fixtures.conformanceModels().enumerated() {
            guard try ReliabilityTests.tool(["inspect", model]).status == 0 else { continue }
            accepted += 1
            let out = "\(directory)/\(index).onnx"
            let result = try ReliabilityTests.tool(["split", model, out, "--quiet"])
            if result.status == 0 {
                judged.append("\(out)=\(URL(fileURLWithPath: model).deletingLastPathComponent().path)")
            } else {
                ReliabilityTests.expectCleanError(result, containing: [model])
            }
        }
        #expect(accepted > 100)
        let verdicts = try #require(try runJudge("judge_models.py", judged) as? [String: String])
        #expect(verdicts.count == judged.count)
        let failed = verdicts.filter { $0.value != "ok" }.sorted { $0.key < $1.key }
        #expect(failed.isEmpty, "\(failed.count) of \(verdicts.count) split outputs rejected: \(failed.prefix(10))")
    }
}
