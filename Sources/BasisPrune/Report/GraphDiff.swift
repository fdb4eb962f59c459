import Foundation

/// What changed between two models, layer by layer (`diff`), over the Conv/Gemm/MatMul layers
/// with constant weights that `GraphSummary` lists.
///
/// Layers match by node name. A layer `X` in one model and the pair `X/basis` + `X/scaling` in
/// the other (what `BasisSplit` creates) are one entry, `split` or `merged`. Layers left over
/// on both sides then match by position among the unmatched layers of the same op, in graph
/// order; what still has no partner is `removed` (only in A) or `added` (only in B). Layers
/// whose op, weight shape, parameters and MACs all agree are counted, not listed.
public struct GraphDiff: Sendable, Codable {
    /// One model's file and totals.
    public struct Side: Sendable, Codable, Equatable {
        public var path: String
        public var fileBytes: Int
        public var nodeCount: Int
        public var layerCount: Int
        /// Elements of all initializers.
        public var totalParameters: Int
        /// Conv/Gemm/MatMul weights and biases.
        public var layerParameters: Int
        public var layerMACs: Int?

        enum CodingKeys: String, CodingKey {
            case path
            case fileBytes = "file_bytes", nodeCount = "node_count", layerCount = "layer_count"
            case totalParameters = "total_parameters", layerParameters = "layer_parameters", layerMACs = "layer_macs"
        }
    }

    /// One listed layer.
    public struct Change: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable {
            /// Matched one to one; its shape, parameters or MACs differ.
            case changed
            /// One layer in A, a basis and a scaling layer in B.
            case split
            /// A basis and a scaling layer in A, one layer in B.
            case merged
            /// Only in A.
            case removed
            /// Only in B.
            case added
        }

        public var kind: Kind
        /// The layer's name in A (in B for `added`).
        public var name: String
        /// The name in B when it differs from `name` (position matches); nil otherwise.
        public var nameAfter: String?
        public var opBefore: String?
        public var opAfter: String?
        /// Weight dims of the layer's nodes (two for a split side: basis, then scaling).
        public var weightsBefore: [[Int]]
        public var weightsAfter: [[Int]]
        public var parametersBefore: Int?
        public var parametersAfter: Int?
        public var macsBefore: Int?
        public var macsAfter: Int?
        /// For `split` and `merged`: `min(n, Cout)` of the single layer.
        public var rank: Int?
        /// For `split` and `merged`: the basis layer's output channels.
        public var bases: Int?

        enum CodingKeys: String, CodingKey {
            case kind, name, rank, bases
            case nameAfter = "name_after", opBefore = "op_before", opAfter = "op_after"
            case weightsBefore = "weights_before", weightsAfter = "weights_after"
            case parametersBefore = "parameters_before", parametersAfter = "parameters_after"
            case macsBefore = "macs_before", macsAfter = "macs_after"
        }
    }

    public var before: Side
    public var after: Side
    public var changes: [Change]
    /// Layers matched with nothing to list.
    public var unchanged: Int

    enum CodingKeys: String, CodingKey { case before, after, changes, unchanged }

    /// Compares `a` (at `pathA`, `bytesA` long) with `b`.
    public init(_ a: GraphSummary, path pathA: String, fileBytes bytesA: Int, _ b: GraphSummary, path pathB: String, fileBytes bytesB: Int) {
        func side(_ s: GraphSummary, _ path: String, _ bytes: Int) -> Side {
            Side(path: path, fileBytes: bytes, nodeCount: s.nodeCount, layerCount: s.layers.count, totalParameters: s.totalParameters,
                 layerParameters: s.layerParameters, layerMACs: s.layerMACs)
        }
        before = side(a, pathA, bytesA)
        after = side(b, pathB, bytesB)

        // Entries in A's graph order (B-only layers after, in B's order).
        var entries: [(position: Int, change: Change?)] = []
        var usedB = Set<Int>()
        var unmatchedA: [Int] = []
        let indexB = Dictionary(b.layers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        let indexA = Dictionary(a.layers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        var consumedA = Set<Int>()
        // A single layer found under the name its split parts were derived from.
        let singleB = Dictionary(b.layers.enumerated().flatMap { j, l in Self.splitBases(l).map { ($0, j) } }, uniquingKeysWith: { first, _ in first })
        for (i, layer) in a.layers.enumerated() where !consumedA.contains(i) {
            if let j = indexB[layer.name], !usedB.contains(j) {
                usedB.insert(j)
                entries.append((i, Self.compare(layer, b.layers[j])))
            } else if let base = Self.splitBases(layer).first(where: { indexB[$0 + "/basis"] != nil && indexB[$0 + "/scaling"] != nil }),
                      let basis = indexB[base + "/basis"], let scaling = indexB[base + "/scaling"], !usedB.contains(basis), !usedB.contains(scaling) {
                usedB.formUnion([basis, scaling])
                entries.append((i, Self.split(layer, basis: b.layers[basis], scaling: b.layers[scaling], kind: .split)))
            } else if layer.name.hasSuffix("/basis"), case let base = String(layer.name.dropLast("/basis".count)),
                      let j = singleB[base], !usedB.contains(j), let scaling = indexA[base + "/scaling"], !consumedA.contains(scaling) {
                usedB.insert(j)
                consumedA.insert(scaling)
                entries.append((i, Self.split(b.layers[j], basis: layer, scaling: a.layers[scaling], kind: .merged)))
            } else {
                unmatchedA.append(i)
            }
        }
        unmatchedA.removeAll { consumedA.contains($0) }
        // What names did not match pairs up by position among the same op.
        var leftB = b.layers.indices.filter { !usedB.contains($0) }
        for i in unmatchedA {
            if let k = leftB.firstIndex(where: { b.layers[$0].op == a.layers[i].op }) {
                let j = leftB.remove(at: k)
                entries.append((i, Self.compare(a.layers[i], b.layers[j])))
            } else {
                let l = a.layers[i]
                entries.append((i, Change(kind: .removed, name: l.name, opBefore: l.op, weightsBefore: [l.weightShape], weightsAfter: [],
                                          parametersBefore: l.parameters, macsBefore: l.macs)))
            }
        }
        entries.sort { $0.position < $1.position }
        for j in leftB {
            let l = b.layers[j]
            entries.append((a.layers.count + j, Change(kind: .added, name: l.name, opAfter: l.op, weightsBefore: [], weightsAfter: [l.weightShape],
                                                       parametersAfter: l.parameters, macsAfter: l.macs)))
        }
        changes = entries.compactMap(\.change)
        unchanged = entries.count - changes.count
    }

    /// The names `BasisSplit` derives a layer's parts from: the node name, or for an unnamed
    /// node (shown as `Op(output)`) its first output.
    static func splitBases(_ layer: LayerSummary) -> [String] {
        guard layer.name.hasPrefix(layer.op + "("), layer.name.hasSuffix(")") else { return [layer.name] }
        return [layer.name, String(layer.name.dropFirst(layer.op.count + 1).dropLast())]
    }

    /// A one-to-one match: nil when nothing that the diff shows differs.
    static func compare(_ x: LayerSummary, _ y: LayerSummary) -> Change? {
        if x.op == y.op, x.weightShape == y.weightShape, x.parameters == y.parameters, x.macs == y.macs { return nil }
        return Change(kind: .changed, name: x.name, nameAfter: x.name == y.name ? nil : y.name, opBefore: x.op, opAfter: y.op,
                      weightsBefore: [x.weightShape], weightsAfter: [y.weightShape], parametersBefore: x.parameters,
                      parametersAfter: y.parameters, macsBefore: x.macs, macsAfter: y.macs)
    }

    /// `single` against its `basis` and `scaling` parts; `kind` says which side is split.
    static func split(_ single: LayerSummary, basis: LayerSummary, scaling: LayerSummary, kind: Change.Kind) -> Change {
        let n = single.op == "Conv" ? single.weightShape.dropFirst().reduce(1, *) : single.inputChannels
        let partsParameters = basis.parameters + scaling.parameters
        let partsMACs = basis.macs.flatMap { m in scaling.macs.map { m + $0 } }
        let partsWeights = [basis.weightShape, scaling.weightShape]
        let isSplit = kind == .split
        return Change(kind: kind, name: isSplit ? single.name : basis.name, nameAfter: isSplit ? nil : single.name,
                      opBefore: single.op, opAfter: single.op,
                      weightsBefore: isSplit ? [single.weightShape] : partsWeights, weightsAfter: isSplit ? partsWeights : [single.weightShape],
                      parametersBefore: isSplit ? single.parameters : partsParameters, parametersAfter: isSplit ? partsParameters : single.parameters,
                      macsBefore: isSplit ? single.macs : partsMACs, macsAfter: isSplit ? partsMACs : single.macs,
                      rank: min(n, single.outputChannels), bases: basis.outputChannels)
    }

    /// The diff for people: a line per model, a table of listed layers, totals.
    public func table() -> String {
        var out = "A  \(before.path)\nB  \(after.path)\n\n"
        let counts = Dictionary(grouping: changes, by: \.kind)
        let summary = [Change.Kind.split, .merged, .changed, .removed, .added].compactMap { kind in
            counts[kind].map { "\($0.count) \(kind.rawValue)" }
        } + ["\(unchanged) unchanged"]
        out += "layers: \(before.layerCount) in A, \(after.layerCount) in B; \(summary.joined(separator: ", "))\n\n"
        if !changes.isEmpty {
            func dims(_ list: [[Int]]) -> String { list.isEmpty ? "-" : list.map { $0.map(String.init).joined(separator: "x") }.joined(separator: " + ") }
            func number(_ v: Int?) -> String { v.map(grouped) ?? "-" }
            var table = TextTable(header: ["layer", "change", "op", "weights A", "weights B", "params A", "params B", "MACs A", "MACs B"],
                                  rightAligned: [5, 6, 7, 8])
            for c in changes {
                var change = c.kind.rawValue
                if let rank = c.rank, let bases = c.bases {
                    change = c.kind == .split ? "split, rank \(rank) -> \(bases) bases" : "merged, \(bases) bases -> rank \(rank)"
                }
                if let other = c.nameAfter { change += " (B: \(other))" }
                let op = c.opBefore == c.opAfter || c.opAfter == nil ? (c.opBefore ?? c.opAfter!) : c.opBefore == nil ? c.opAfter! : "\(c.opBefore!) -> \(c.opAfter!)"
                table.append([c.name, change, op, dims(c.weightsBefore), dims(c.weightsAfter), number(c.parametersBefore),
                              number(c.parametersAfter), number(c.macsBefore), number(c.macsAfter)])
            }
            out += table.render() + "\n"
        }
        func delta(_ x: Int?, _ y: Int?) -> String {
            guard let x, let y else { return "-" }
            let d = y - x
            let percent = x > 0 ? String(format: " (%+.1f %%)", 100 * Double(d) / Double(x)) : ""
            return (d > 0 ? "+" : "") + grouped(d) + percent
        }
        var totals = TextTable(header: ["total", "A", "B", "change"], rightAligned: [1, 2, 3])
        let rows: [(String, Int?, Int?)] = [
            ("nodes", before.nodeCount, after.nodeCount), ("layers", before.layerCount, after.layerCount),
            ("parameters (all initializers)", before.totalParameters, after.totalParameters),
            ("layer parameters", before.layerParameters, after.layerParameters), ("layer MACs", before.layerMACs, after.layerMACs),
            ("file bytes", before.fileBytes, after.fileBytes),
        ]
        for (label, x, y) in rows { totals.append([label, x.map(grouped) ?? "?", y.map(grouped) ?? "?", delta(x, y)]) }
        return out + totals.render()
    }
}
