import Foundation
import TestSupport
import Testing

/// Issue 12: hostile variants of real models (`Tests/TestSupport/python/mutation_run.py`, seeded)
/// through `inspect` and `split`. Every run is a clean one-line error or a valid output (onnx
/// checker and onnxruntime); none crashes, hangs or writes a file the judges reject.
@Suite struct MutationTests {
    /// The models mutated: every conformance model of the pytorch suites and `simple`, and the
    /// node tests of the ops the pruning works on.
    static func sources() -> [String] {
        let layerOps = ["conv", "gemm", "matmul", "batchnorm", "relu", "maxpool", "averagepool", "flatten", "add", "clip", "concat", "softmax"]
        return Fixtures.conformanceModels().filter { path in
            let caseName = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent.lowercased()
            return !path.contains("/node/") || layerOps.contains { caseName.hasPrefix("test_\($0)") }
        }.map { "\($0)=\(URL(fileURLWithPath: $0).deletingLastPathComponent().path)" }
    }

    @Test func hostileModelsGiveCleanErrorsOrValidOutputs() throws {
        let seed = ProcessInfo.processInfo.environment["MUTATION_SEED"] ?? "12"
        let count = ProcessInfo.processInfo.environment["MUTATION_COUNT"] ?? "300"
        let directory = try ReliabilityTests.copyDirectory("mutants")
        let summary = try #require(try runJudge("mutation_run.py", [Fixtures.executable, directory, seed, count] + Self.sources()) as? [String: Any])
        let runs = try #require(summary["runs"] as? [String: Int])
        print("mutation test, seed \(seed): \(summary["mutants"] ?? 0) mutants of \(summary["sources"] ?? 0) models; runs \(runs.sorted { $0.key < $1.key })")
        #expect((summary["mutants"] as? Int) == Int(count))
        #expect((summary["sources"] as? Int ?? 0) > 50)
        #expect(runs["crash"] == nil)
        #expect(runs["hang"] == nil)
        #expect(runs["failure"] == nil)
        #expect((runs["clean_error"] ?? 0) > 0 && (runs["valid_output"] ?? 0) > 0)
        let details = summary["details"] as? [[String: Any]] ?? []
        #expect(details.isEmpty, "\(details.prefix(10))")
    }
}
