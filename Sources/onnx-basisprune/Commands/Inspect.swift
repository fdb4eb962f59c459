import BasisPrune
import Foundation

enum InspectCommand {
    static let header = """
        USAGE: onnx-basisprune inspect MODEL [--json] [--report FILE.json] [--input-shape SHAPE]

        Describes an ONNX model: producer, IR version and opsets, inputs and outputs, op counts,
        total parameters, and a table of every Conv, and every Gemm or MatMul with a constant
        weight: name, kernel, input and output channels, groups, parameters, and MACs
        (multiply-accumulates) at the model's input size, from static shape inference.

        ARGUMENTS:
          MODEL                 the .onnx file (external data is read from beside it)

        """

    static var table: OptionTable<Void> {
        OptionTable(sections: [.init(title: "OPTIONS", options: [
            Option("--input-shape", "SHAPE", "the shape of the first graph input, as 1x3x32x32; fills symbolic dimensions such as a batch N (default: symbolic dims set to 1, so MACs are per image)"),
            Option("--json", nil, "print the same report as one JSON object (schema \"onnx-basisprune/inspect\", version 1, schemas/inspect.schema.json) instead of text"),
            Option("--report", "FILE.json", "also write that JSON object to FILE.json (atomically)"),
            Option("-h, --help", nil, "show this help"),
        ])])
    }

    static var help: String { header + "\n" + table.help(tuning: false) + "\n" + exitCodesHelp + "\n" }

    static func run(_ argv: [String]) throws(CLIError) -> String {
        let args = try Arguments(argv, command: "inspect", valueOptions: table.valueOptions, flagOptions: table.flagOptions)
        if args.has("--help") { return help }
        guard args.positional.count == 1 else {
            throw .usage("inspect takes exactly one MODEL (see onnx-basisprune inspect --help)")
        }
        let path = args.positional[0]
        _ = try OutputFiles(inputs: [path], [("--report", args.values["--report"])])
        let requestedShape = try args.values["--input-shape"].map { (text) throws(CLIError) in try parseShape(text, option: "--input-shape") }
        let model: Model
        model = try loadModel(path)
        var shapes: [String: [Int]] = [:]
        if let shape = requestedShape {
            let initializers = Set(model.graph.initializers.compactMap(\.name))
            guard let first = model.graph.inputs.first(where: { !initializers.contains($0.name) }) else {
                throw .usage("\(path): the model has no graph input to give --input-shape to")
            }
            if let declared = first.type?.tensor?.shape, declared.count != shape.count {
                throw .usage("\(path): --input-shape \(args.values["--input-shape"]!) has rank \(shape.count), input '\(first.name)' has rank \(declared.count)")
            }
            shapes[first.name] = shape
        }
        let summary: GraphSummary
        do { summary = try GraphSummary(model: model, inputShapes: shapes) } catch {
            throw .usage("\(path): \(error.description)")
        }
        let json = try json(summary, path: path)
        if let report = args.values["--report"] { try writeFile(json, to: report) }
        return args.has("--json") ? json : text(summary, path: path)
    }

    static func json(_ summary: GraphSummary, path: String) throws(CLIError) -> String {
        struct Document: Encodable {
            let schema = "onnx-basisprune/inspect"
            let schemaVersion = 1
            let model: String
            let summary: GraphSummary

            enum CodingKeys: String, CodingKey { case schema, schemaVersion = "schema_version", model, summary }
        }
        return try encodeJSON(Document(model: path, summary: summary))
    }

    static func text(_ s: GraphSummary, path: String) -> String {
        func shape(_ v: ValueSummary) -> String { "\(v.name)  \(v.elementType) [\((v.shape ?? ["?"]).joined(separator: ", "))]" }
        var out = "model        \(path)\n"
        out += "producer     \([s.producerName, s.producerVersion].compactMap { $0 }.joined(separator: " "))\n"
        out += "IR version   \(s.irVersion)\n"
        out += "opsets       \(s.opsets.map { "\($0.domain) \($0.version)" }.joined(separator: ", "))\n"
        out += s.inputs.map { "input        \(shape($0))\n" }.joined()
        out += s.outputs.map { "output       \(shape($0))\n" }.joined()
        out += "shapes used  \(s.inputShapes.sorted { $0.key < $1.key }.map { "\($0.key) [\($0.value.map(String.init).joined(separator: ", "))]" }.joined(separator: "; "))\n"
        out += "nodes        \(grouped(s.nodeCount)): \(s.opCounts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))\n"
        out += "parameters   \(grouped(s.totalParameters)) in \(s.initializerCount) initializers\n"
        if !s.opsWithoutShapes.isEmpty {
            out += "no shapes    for \(s.opsWithoutShapes.joined(separator: ", ")) (MACs after them unknown)\n"
        }
        out += "\n"
        var table = TextTable(header: ["layer", "op", "kernel", "in", "out", "groups", "params", "MACs"], rightAligned: [3, 4, 5, 6, 7])
        for l in s.layers {
            table.append([l.name, l.op, l.kernel.isEmpty ? "-" : l.kernel.map(String.init).joined(separator: "x"),
                          "\(l.inputChannels)", "\(l.outputChannels)", "\(l.groups)", grouped(l.parameters), l.macs.map(grouped) ?? "?"])
        }
        let counts = Dictionary(grouping: s.layers, by: \.op).sorted { $0.key < $1.key }.map { "\($0.value.count) \($0.key)" }.joined(separator: ", ")
        table.append(["total (\(counts))", "", "", "", "", "", grouped(s.layerParameters), s.layerMACs.map(grouped) ?? "?"])
        return out + table.render()
    }
}

/// Pretty-printed JSON with sorted keys, so that equal reports print equal bytes.
func encodeJSON<T: Encodable>(_ value: T) throws(CLIError) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do { return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n" } catch {
        throw CLIError(message: "cannot encode JSON: \(error)", code: .runtimeFailure)
    }
}
