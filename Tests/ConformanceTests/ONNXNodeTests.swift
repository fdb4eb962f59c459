import BasisPrune
import Foundation
import TestSupport
import Testing

/// The ONNX backend node tests from Debian's libonnx-testdata for the ops the engine claims
/// (issue: CPU engine), at the suite's tolerances. Cases the engine skips are listed, with the
/// reason, in Tests/Manifests/conformance-skipped.txt; every other case must pass.
@Suite struct ONNXNodeTests {
    /// The ops the engine's issue lists.
    static let claimedOps: Set<String> = [
        "Conv", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
        "Add", "Sub", "Mul", "Div", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul",
        "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice", "Gather", "Shape",
        "Constant", "ConstantOfShape", "Identity", "Dropout", "Pad", "ReduceMean", "Softmax", "LogSoftmax", "Cast",
        // Issue 11 (any ImageNet CNN):
        "ReduceSum", "Pow", "Sqrt", "Erf", "Exp", "Reciprocal", "LayerNormalization",
    ]

    struct Case {
        var name: String
        var directory: String
        var op: String
    }

    /// Node test cases whose single node (or, for `_expanded` cases, whose base case's node) is a claimed op.
    static func cases() throws -> [Case] {
        let root = Fixtures.onnxTestData + "/node"
        var found: [Case] = []
        var opOfCase: [String: String] = [:]
        let names = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        for name in names {
            guard let model = try? ONNXImporter.load(path: "\(root)/\(name)/model.onnx") else { continue }
            if model.graph.nodes.count == 1 { opOfCase[name] = model.graph.nodes[0].opType }
        }
        for name in names {
            let base = name.hasSuffix("_expanded") ? String(name.dropLast("_expanded".count)) : name
            guard let op = opOfCase[base] ?? opOfCase[name], claimedOps.contains(op) else { continue }
            found.append(Case(name: name, directory: "\(root)/\(name)", op: op))
        }
        return found
    }

    /// Runs one case; nil when every output of every data set matches.
    static func failure(of testCase: Case) -> String? {
        do {
            let model = try ONNXImporter.load(path: testCase.directory + "/model.onnx")
            let executor = try Executor(model: model)
            let sets = try FileManager.default.contentsOfDirectory(atPath: testCase.directory)
                .filter { $0.hasPrefix("test_data_set_") }.sorted()
            for set in sets {
                let dir = "\(testCase.directory)/\(set)"
                var inputs: [String: Value] = [:]
                let declared = model.graph.inputs.map(\.name)
                for (i, name) in declared.enumerated() where FileManager.default.fileExists(atPath: "\(dir)/input_\(i).pb") {
                    inputs[name] = Value(try ONNXImporter.loadTensor(path: "\(dir)/input_\(i).pb"))
                }
                let outputs = try executor.run(inputs)
                for (i, output) in model.graph.outputs.enumerated() {
                    let expected = Value(try ONNXImporter.loadTensor(path: "\(dir)/output_\(i).pb"))
                    guard let actual = outputs[output.name] else { return "\(set): output \(output.name) missing" }
                    if let reason = mismatch(actual, expected) { return "\(set): output \(output.name): \(reason)" }
                }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    static func skipped() throws -> [String: String] {
        let text = try String(contentsOfFile: Fixtures.repositoryRoot + "/Tests/Manifests/conformance-skipped.txt", encoding: .utf8)
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return result
    }

    /// The shape, data-movement, cast, reduction and softmax ops (the `ops` branch's share of the claim).
    @Test func nodeTestsOfClaimedOps() throws {
        try Self.check(ops: Self.claimedOps)
        #expect(Set(try Self.skipped().keys).isSubset(of: Set(try Self.cases().map(\.name))))
    }

    /// Runs every case of `ops`; each must pass unless the manifest lists it, and no listed case may pass.
    static func check(ops: Set<String>) throws {
        let cases = try Self.cases().filter { ops.contains($0.op) }
        let caseNames = Set(cases.map(\.name))
        let skipped = try Self.skipped().filter { caseNames.contains($0.key) }
        var passed: [String: Int] = [:], total: [String: Int] = [:]
        var unexpected: [String] = []
        for testCase in cases {
            total[testCase.op, default: 0] += 1
            let failure = Self.failure(of: testCase)
            if failure == nil { passed[testCase.op, default: 0] += 1 }
            switch (failure, skipped[testCase.name]) {
            case (nil, nil), (.some, .some): break
            case (.some(let reason), nil): unexpected.append("FAIL \(testCase.name): \(reason)")
            case (nil, .some): unexpected.append("PASSES but listed as skipped: \(testCase.name)")
            }
        }
        for op in ops.sorted() {
            print("conformance \(op): \(passed[op, default: 0]) of \(total[op, default: 0]) pass")
        }
        let passCount = passed.values.reduce(0, +)
        print("conformance: \(passCount) of \(cases.count) node tests pass, \(skipped.count) skipped (named in Tests/Manifests/conformance-skipped.txt)")
        for line in unexpected { print(line) }
        #expect(unexpected.isEmpty)
        #expect(passCount + skipped.count == cases.count)
    }
}
