import BasisPrune
import Foundation

enum DiffCommand {
    static let header = """
        USAGE: onnx-basisprune diff A.onnx B.onnx [--json] [--report FILE.json]

        What changed from model A to model B, layer by layer, for every Conv, and every Gemm or
        MatMul with a constant weight. Layers match by node name; a layer X in A and the pair
        X/basis + X/scaling in B (what pruning and `split` write) are one entry, shown as
        "split, rank r -> k bases" (r = min(n, Cout) of X, k = the basis layer's outputs); layers
        whose names match nothing pair up by position among the unmatched layers of the same op.
        Each changed layer shows its op, weight dims, parameters and MACs in A and in B; unchanged
        layers are counted, layers only in A or only in B are listed as removed or added. Totals:
        nodes, layers, parameters, MACs per image (symbolic dims set to 1) and file bytes.

        ARGUMENTS:
          A.onnx B.onnx         the two models (any two ONNX models)

        """

    static var table: OptionTable<Void> {
        OptionTable(sections: [.init(title: "OPTIONS", options: [
            Option("--json", nil, "print one JSON object (schema \"onnx-basisprune/diff\", version 1, schemas/diff.schema.json) instead of text"),
            Option("--report", "FILE.json", "also write that JSON object to FILE.json (atomically)"),
            Option("-h, --help", nil, "show this help"),
        ])])
    }

    static var help: String { header + "\n" + table.help(tuning: false) + "\n" + exitCodesHelp + "\n" }

    static func run(_ argv: [String]) throws(CLIError) -> String {
        let args = try Arguments(argv, command: "diff", valueOptions: table.valueOptions, flagOptions: table.flagOptions)
        if args.has("--help") { return help }
        guard args.positional.count == 2 else { throw .usage("diff takes exactly two models A.onnx B.onnx (see onnx-basisprune diff --help)") }
        let (a, b) = (args.positional[0], args.positional[1])
        _ = try OutputFiles(inputs: [a, b], [("--report", args.values["--report"])])
        let diff = GraphDiff(try summary(a), path: a, fileBytes: fileBytes(a), try summary(b), path: b, fileBytes: fileBytes(b))
        struct Document: Encodable {
            let schema = "onnx-basisprune/diff"
            let schemaVersion = 1
            let diff: GraphDiff

            enum CodingKeys: String, CodingKey { case schema, schemaVersion = "schema_version", diff }
        }
        let json = try encodeJSON(Document(diff: diff))
        if let report = args.values["--report"] { try writeFile(json, to: report) }
        return args.has("--json") ? json : diff.table()
    }

    static func summary(_ path: String) throws(CLIError) -> GraphSummary {
        let model: Model
        do { model = try ONNXImporter.load(path: path) } catch { throw .usage(error.description) }
        do { return try GraphSummary(model: model) } catch { throw .usage("\(path): \(error.description)") }
    }

    static func fileBytes(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}

/// Writes a report (JSON, SVG) atomically; a failure is a runtime failure (exit 1).
func writeFile(_ text: String, to path: String) throws(CLIError) {
    do { try AtomicFile.write(Array(text.utf8), to: path) } catch {
        throw CLIError(message: "\(path): cannot write: \(error.reason)", code: .runtimeFailure)
    }
}
