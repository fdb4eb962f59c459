import BasisPrune
import Foundation
import TestSupport
import Testing

/// Runs the built executable and checks whole outputs and exit codes.
@Suite struct CLITests {
    func tool(_ arguments: [String]) throws -> ProcessResult { try run(Fixtures.executable, arguments) }

    @Test func inspectText() throws {
        let result = try tool(["inspect", Fixtures.bundledModel])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.contains("producer     pytorch 2.15.0"))
        #expect(lines.contains("parameters   3,362,810 in 100 initializers"))
        #expect(lines.contains { $0.hasPrefix("/_conv_stem/Conv ") && $0.hasSuffix("896    221,184") })
        #expect(lines.last?.hasPrefix("total (49 Conv, 1 Gemm)") == true)
        #expect(lines.last?.hasSuffix("3,362,810  7,847,648") == true)
    }

    @Test func inspectJSON() throws {
        let result = try tool(["inspect", Fixtures.bundledModel, "--json", "--input-shape", "4x3x32x32"])
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "onnx-basisprune/inspect")
        #expect(object["schema_version"] as? Int == 1)
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(summary["total_parameters"] as? Int == 3_362_810)
        #expect(summary["layer_macs"] as? Int == 4 * 7_847_648)
        #expect((summary["layers"] as? [Any])?.count == 50)
        #expect((summary["input_shapes"] as? [String: [Int]])?["input"] == [4, 3, 32, 32])
    }

    @Test func helpExplainsEveryFlag() throws {
        let result = try tool(["inspect", "--help"])
        #expect(result.status == 0)
        for flag in ["--input-shape", "--json", "--help", "EXIT CODES"] { #expect(result.stdout.contains(flag)) }
        let top = try tool(["--help"])
        #expect(top.status == 0 && top.stdout.contains("inspect MODEL") && top.stdout.contains("--version"))
    }

    /// `--version` prints the library's version, the one CHANGELOG.md's newest entry names.
    @Test func versionPrintsTheVersion() throws {
        let result = try tool(["--version"])
        #expect(result.status == 0 && result.stdout == "onnx-basisprune \(basisPruneVersion)\n")
        #expect(basisPruneVersion.split(separator: ".").count == 3)
        let changelog = try String(contentsOfFile: Fixtures.repositoryRoot + "/CHANGELOG.md", encoding: .utf8)
        let newest = changelog.split(separator: "\n").first { $0.hasPrefix("## ") }
        #expect(newest?.hasPrefix("## \(basisPruneVersion) ") == true, "\(newest ?? "none")")
    }

    /// `prune --help` explains every flag of the README's table and points to `--help-all`,
    /// which adds the tuning flags `--help` leaves out.
    @Test func pruneHelpHasTheREADMEFlagsAndHelpAllTheRest() throws {
        let readme = try String(contentsOfFile: Fixtures.repositoryRoot + "/README.md", encoding: .utf8)
        let tableFlags = readme.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `--") else { return nil }
            return line.dropFirst(3).prefix { $0 != " " && $0 != "`" }.description
        }
        #expect(tableFlags.count >= 15)
        let help = try tool(["prune", "--help"]), all = try tool(["prune", "--help-all"])
        #expect(help.status == 0 && all.status == 0)
        for flag in tableFlags where flag != "--version" { #expect(help.stdout.contains(flag), "\(flag)") }
        #expect(help.stdout.contains("--help-all"))
        // An option's own entry: a line indented as an option, starting with the flag.
        func entries(_ text: String) -> Set<String> {
            Set(text.split(separator: "\n").compactMap { line in
                let indent = line.prefix { $0 == " " }.count
                guard indent <= 12, line.dropFirst(indent).hasPrefix("--") else { return nil }
                return String(line.dropFirst(indent).prefix { $0 != " " })
            })
        }
        let (shown, all_) = (entries(help.stdout), entries(all.stdout))
        for flag in ["--filter-share", "--lr", "--optimizer", "--batch-size", "--prune-scope", "--ranking", "--normalize-importance", "--removed",
                     "--round-fraction", "--importance-images", "--compact", "--epochs"] {
            #expect(!shown.contains(flag), "\(flag) in --help")
            #expect(all_.contains(flag), "\(flag) not in --help-all")
        }
    }

    @Test(arguments: [
        (["inspect"], "onnx-basisprune: inspect takes exactly one MODEL (see onnx-basisprune inspect --help)"),
        (["inspect", "/nonexistent.onnx"], "onnx-basisprune: /nonexistent.onnx: cannot read file: No such file or directory"),
        (["inspect", "x.onnx", "--bogus"], "onnx-basisprune: unknown option --bogus for inspect (see onnx-basisprune inspect --help)"),
        (["inspect", "x.onnx", "--input-shape", "1xAx3"], "onnx-basisprune: --input-shape '1xAx3' is not a shape like 1x3x32x32"),
        (["frobnicate"], "onnx-basisprune: unknown command 'frobnicate' (see onnx-basisprune --help)"),
    ])
    func usageErrorsExitTwoWithOneLine(arguments: [String], message: String) throws {
        let result = try tool(arguments)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == message + "\n")
    }

    @Test func badModelExitsTwo() throws {
        let path = Fixtures.temporaryDirectory("cli") + "/bad.onnx"
        _ = FileManager.default.createFile(atPath: path, contents: Data("not a model".utf8))
        let result = try tool(["inspect", path])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("onnx-basisprune: \(path): not an ONNX model: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}

/// `eval` on the real Fashion-MNIST test split reproduces shared/models/README.md: 92.44 %.
@Suite struct EvalCLITests {
    @Test func evalReproducesTheReferenceAccuracy() throws {
        let result = try run(Fixtures.executable, ["eval", Fixtures.bundledModel, "--data", "idx:\(Fixtures.fashionMNIST),split=test", "--json", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let accuracy = try #require(object["accuracy"] as? Double)
        #expect(object["count"] as? Int == 10_000)
        #expect(abs(accuracy * 100 - 92.44) <= 0.05, "accuracy \(accuracy)")
        #expect((object["loss"] as? Double).map { $0 > 0 && $0 < 1 } == true)
        #expect((object["images_per_second"] as? Double).map { $0 > 0 } == true)
    }

    @Test func evalLimitAndBatchSize() throws {
        let result = try run(Fixtures.executable, ["eval", Fixtures.bundledModel, "--data", "idx:\(Fixtures.fashionMNIST),split=test,range=100:300",
                                                   "--limit", "50", "--batch-size", "7", "--json", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["count"] as? Int == 50)
    }

    @Test(arguments: [
        (["eval", "MODEL"], "onnx-basisprune: eval needs --data SPEC (see onnx-basisprune eval --help)"),
        (["eval", "MODEL", "--data", "zip:/x"], nil),
        (["eval", "MODEL", "--data", "idx:/nonexistent"], nil),
        (["eval", "MODEL", "--data", "idx:/usr/share/datasets/fashion-mnist", "--batch-size", "0"], "onnx-basisprune: --batch-size '0' is not a positive integer"),
    ] as [([String], String?)])
    func evalUsageErrors(arguments: [String], message: String?) throws {
        let result = try run(Fixtures.executable, arguments.map { $0 == "MODEL" ? Fixtures.bundledModel : $0 })
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        if let message { #expect(result.stderr == message + "\n") }
    }
}
