import Foundation

/// The `--plot` figure of a pruning run as SVG text (deterministic: same report, same bytes).
///
/// Top left: validation accuracy against the model's Conv/Gemm/MatMul parameters, one mark per
/// candidate of both searches (filter rounds as squares, basis rounds as circles; accepted
/// filled, rejected hollow), each stage's accepted path as a line, the input model's accuracy
/// and the budget's floor as horizontal lines, and the written model ringed. Bottom left: every
/// certification look, its observed drop and upper bound against the same parameter axis, the
/// budget as a line, the written model ringed. Right: the bases kept per split layer (or, with
/// no split layer, the output channels kept per layer).
public struct SVGPlot: Sendable {
    public var report: PruneReport

    public init(report: PruneReport) { self.report = report }

    static let basisColour = "#1f77b4", filterColour = "#9467bd", rejected = "#d62728", passed = "#2ca02c"
    static let rankColour = "#c7c7c7", floorColour = "#ff7f0e"

    /// A rectangle of the figure in pixels.
    struct Frame { var x, y, width, height: Double }

    public func svg() -> String {
        let layerRow = 14.0, top = 70.0
        let bars = barLayers
        let height = max(820, top + 60 + layerRow * Double(bars.count) + 40)
        let width = 1180.0
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" viewBox="0 0 \(n(width)) \(n(height))" \
            font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
            <rect x="0" y="0" width="\(n(width))" height="\(n(height))" fill="#ffffff"/>
            <text x="\(n(width / 2))" y="26" text-anchor="middle" font-size="17" font-weight="bold">\(escape(title))</text>

            """
        let xAxis = Axis(low: 0, high: Double(([report.parametersBefore] + rounds.map(\.parameters) + looks.map(\.parameters)).max() ?? 1))
        out += accuracyPanel(Frame(x: 80, y: top, width: 440, height: 260), xAxis: xAxis)
        out += looksPanel(Frame(x: 80, y: top + 420, width: 440, height: 200), xAxis: xAxis)
        out += barsPanel(bars, x: 860, y: top, width: 280, rowHeight: layerRow)
        return out + "</svg>\n"
    }

    var title: String {
        let kept = report.parametersBefore > 0 ? 100 * Double(report.parametersAfter) / Double(report.parametersBefore) : 100
        let what = report.outputWritten == false ? "not written (nothing certified)" : "written"
        return "Pruning (--method \(report.method)) of \(fileName(report.input)): \(grouped(report.parametersAfter)) of \(grouped(report.parametersBefore)) parameters kept (\(n(kept, 1)) %), \(what)"
    }

    /// One search round as plotted: its stage, size, accuracy and whether it was accepted.
    struct Round {
        var stage: String
        var round: Int
        var parameters: Int
        var accuracy: Double
        var accepted: Bool
    }

    /// Both stages' rounds, the filter stage's first; a round's size is the whole model's
    /// parameters (older reports without them: the layer parameters they have).
    var rounds: [Round] {
        let stages = [("filter", report.filter?.history ?? []), ("basis", report.history)]
        return stages.flatMap { stage, history in
            history.map { Round(stage: stage, round: $0.round, parameters: $0.parameters ?? $0.layerParameters,
                                accuracy: 100 * $0.validationAccuracy, accepted: $0.accepted) }
        }
    }

    var looks: [Certification.Look] { report.certification?.looks ?? [] }

    /// The look whose candidate was written: the last one of the written model's size.
    var writtenLook: Int? {
        guard report.outputWritten != false else { return nil }
        return looks.lastIndex { $0.parameters == report.parametersAfter }
    }

    /// Validation accuracy (percent) against the model's parameters over both searches.
    func accuracyPanel(_ f: Frame, xAxis: Axis) -> String {
        let rounds = self.rounds
        let baseline = report.inputAccuracy.validation.map { 100 * $0 }
        let floor = baseline.map { $0 - report.maxAccuracyDrop }
        let written = report.outputWritten == false ? nil : report.outputAccuracy.validation.map { 100 * $0 }
        let values = rounds.map(\.accuracy) + [baseline, floor, written].compactMap { $0 }
        let yAxis = Axis(low: values.min() ?? 0, high: values.max() ?? 100, padding: 0.08)
        let (px, py) = (xAxis.pixel(f.x, f.width), yAxis.pixel(f.y + f.height, -f.height))
        var out = "<g id=\"accuracy\">\n"
        out += heading("Validation accuracy over the searches", x: f.x + f.width / 2, y: f.y - 12)
        out += axes(f, xAxis: xAxis, yAxis: yAxis, xTitle: "model parameters (Conv/Gemm/MatMul)", yTitle: "validation accuracy (%)")
        if let baseline { out += hline(f, py(baseline), colour: "#555555", dash: "2 3", width: 1) }
        if let floor { out += hline(f, py(floor), colour: Self.floorColour, dash: "8 4", width: 2) }
        for stage in ["filter", "basis"] {
            let path = rounds.filter { $0.stage == stage && $0.accepted }.map { "\(n(px(Double($0.parameters)))),\(n(py($0.accuracy)))" }
            if path.count > 1 {
                out += "<polyline points=\"\(path.joined(separator: " "))\" fill=\"none\" stroke=\"\(colour(stage))\" stroke-width=\"1.5\"/>\n"
            }
        }
        for r in rounds {
            out += mark(stage: r.stage, x: px(Double(r.parameters)), y: py(r.accuracy), filled: r.accepted,
                        colour: r.accepted ? colour(r.stage) : Self.rejected)
        }
        if let written { out += ring(x: px(Double(report.parametersAfter)), y: py(written), label: "written") }
        var legend = Legend(x: f.x, y: f.y + f.height + 62)
        out += legend.item(mark(stage: "filter", x: legend.x + 6, y: legend.y - 4, filled: true, colour: Self.filterColour), "filter round", width: 120)
        out += legend.item(mark(stage: "basis", x: legend.x + 6, y: legend.y - 4, filled: true, colour: Self.basisColour), "basis round", width: 120)
        out += legend.item(mark(stage: "basis", x: legend.x + 6, y: legend.y - 4, filled: false, colour: Self.rejected), "rejected", width: 100)
        out += legend.item(ring(x: legend.x + 6, y: legend.y - 4, label: nil), "written model", width: 0)
        legend.newLine()
        out += legend.item(lineSample(legend, colour: Self.floorColour, dash: "8 4", width: 2),
                           "budget floor (input − \(n(report.maxAccuracyDrop, 2)) points)", width: 250)
        out += legend.item(lineSample(legend, colour: "#555555", dash: "2 3", width: 1), "input model", width: 0)
        return out + "</g>\n"
    }

    /// Each certification look: the observed drop (a tick) up to its upper bound (a mark),
    /// against the candidate's parameters once exported, with the budget as a line.
    func looksPanel(_ f: Frame, xAxis: Axis) -> String {
        let looks = self.looks
        var out = "<g id=\"certification\">\n"
        let confidence = report.certification.map { " at \(n(100 * $0.confidence, 1)) % confidence" } ?? ""
        out += heading("Certification looks: bound on the accuracy drop\(confidence)", x: f.x + f.width / 2, y: f.y - 12)
        let budget = report.certification?.budget ?? report.maxAccuracyDrop
        let values: [Double] = looks.flatMap { [$0.drop, $0.dropUpperBound] } + [0, budget]
        let yAxis = Axis(low: values.min() ?? 0, high: values.max() ?? 1, padding: 0.08)
        let (px, py) = (xAxis.pixel(f.x, f.width), yAxis.pixel(f.y + f.height, -f.height))
        out += axes(f, xAxis: xAxis, yAxis: yAxis, xTitle: "model parameters of the candidate (exported)", yTitle: "accuracy drop (points)")
        out += hline(f, py(budget), colour: Self.floorColour, dash: "8 4", width: 2)
        if looks.isEmpty {
            let why = report.certification.map { $0.mode == CertifyMode.off.rawValue ? "certification off" : "no candidate was looked at" }
                ?? "no certification in this report"
            out += "<text x=\"\(n(f.x + f.width / 2))\" y=\"\(n(f.y + f.height / 2))\" text-anchor=\"middle\" fill=\"#555555\">\(escape(why))</text>\n"
        }
        for (i, look) in looks.enumerated() {
            let x = px(Double(look.parameters)), colour = look.certified ? Self.passed : Self.rejected
            out += "<line x1=\"\(n(x))\" y1=\"\(n(py(look.drop)))\" x2=\"\(n(x))\" y2=\"\(n(py(look.dropUpperBound)))\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>\n"
            out += "<line x1=\"\(n(x - 4))\" y1=\"\(n(py(look.drop)))\" x2=\"\(n(x + 4))\" y2=\"\(n(py(look.drop)))\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>\n"
            out += mark(stage: look.stage, x: x, y: py(look.dropUpperBound), filled: look.certified, colour: colour)
            out += "<text x=\"\(n(x + 7))\" y=\"\(n(py(look.dropUpperBound) - 6))\" font-size=\"10\">\(look.stage.prefix(1))\(look.round)</text>\n"
            if i == writtenLook { out += ring(x: x, y: py(look.dropUpperBound), label: nil) }
        }
        var legend = Legend(x: f.x, y: f.y + f.height + 62)
        out += legend.item(mark(stage: "basis", x: legend.x + 6, y: legend.y - 4, filled: true, colour: Self.passed), "bound within budget", width: 160)
        out += legend.item(mark(stage: "basis", x: legend.x + 6, y: legend.y - 4, filled: false, colour: Self.rejected), "over budget", width: 110)
        out += legend.item(lineSample(legend, colour: Self.floorColour, dash: "8 4", width: 2), "budget", width: 80)
        legend.newLine()
        out += "<text x=\"\(n(legend.x))\" y=\"\(n(legend.y))\" font-size=\"11\" fill=\"#555555\">tick: observed drop; mark: upper bound; f/b and the round name the candidate (square filter, circle basis)</text>\n"
        return out + "</g>\n"
    }

    /// The layers of the right panel: split layers when there are any, else every layer.
    var barLayers: [PruneReport.Layer] {
        let split = report.layers.filter { $0.rank != nil }
        return split.isEmpty ? report.layers : split
    }

    /// Bases (or output channels) before (grey) and kept (blue) per layer, as horizontal bars.
    func barsPanel(_ layers: [PruneReport.Layer], x: Double, y: Double, width: Double, rowHeight: Double) -> String {
        let bases = layers.contains { $0.rank != nil }
        let before = layers.map { bases ? $0.rank ?? 0 : $0.outputChannelsBefore }
        let after = layers.map { bases ? $0.kept ?? 0 : $0.outputChannelsAfter }
        let axis = Axis(low: 0, high: Double(before.max() ?? 1))
        let px = axis.pixel(x, width)
        let height = rowHeight * Double(max(layers.count, 1))
        var out = "<g id=\"bases\">\n"
        out += heading(bases ? "Bases kept per split layer" : "Output channels kept per layer", x: x + width / 2 - 120, y: y - 12)
        out += frame(Frame(x: x, y: y, width: width, height: height))
        for t in axis.ticks {
            out += "<line x1=\"\(n(px(t)))\" y1=\"\(n(y))\" x2=\"\(n(px(t)))\" y2=\"\(n(y + height + 5))\" stroke=\"#eeeeee\"/>\n"
            out += "<text x=\"\(n(px(t)))\" y=\"\(n(y + height + 18))\" text-anchor=\"middle\">\(compact(t))</text>\n"
        }
        for (i, l) in layers.enumerated() {
            let top = y + Double(i) * rowHeight
            let label = l.name.count > 44 ? "…" + l.name.suffix(43) : l.name
            out += "<text x=\"\(n(x - 6))\" y=\"\(n(top + rowHeight - 3.5))\" text-anchor=\"end\" font-size=\"10\">\(escape(label))</text>\n"
            out += "<rect x=\"\(n(x))\" y=\"\(n(top + 2))\" width=\"\(n(px(Double(before[i])) - x))\" height=\"\(n(rowHeight - 4))\" fill=\"\(Self.rankColour)\"/>\n"
            out += "<rect x=\"\(n(x))\" y=\"\(n(top + 2))\" width=\"\(n(px(Double(after[i])) - x))\" height=\"\(n(rowHeight - 4))\" fill=\"\(Self.basisColour)\"/>\n"
        }
        out += "<text x=\"\(n(x + width / 2))\" y=\"\(n(y + height + 36))\" text-anchor=\"middle\">\(bases ? "bases (rank = min(n, Cout))" : "output channels")</text>\n"
        let ly = y + height + 58
        out += "<rect x=\"\(n(x))\" y=\"\(n(ly - 10))\" width=\"14\" height=\"10\" fill=\"\(Self.rankColour)\"/><text x=\"\(n(x + 20))\" y=\"\(n(ly))\">\(bases ? "original rank" : "before")</text>\n"
        out += "<rect x=\"\(n(x + 130))\" y=\"\(n(ly - 10))\" width=\"14\" height=\"10\" fill=\"\(Self.basisColour)\"/><text x=\"\(n(x + 150))\" y=\"\(n(ly))\">\(bases ? "bases kept" : "kept")</text>\n"
        return out + "</g>\n"
    }

    // MARK: - Drawing pieces

    func colour(_ stage: String) -> String { stage == "filter" ? Self.filterColour : Self.basisColour }

    /// A square (filter) or circle (basis) mark, filled or hollow.
    func mark(stage: String, x: Double, y: Double, filled: Bool, colour: String) -> String {
        let paint = filled ? "fill=\"\(colour)\"" : "fill=\"#ffffff\" stroke=\"\(colour)\" stroke-width=\"2\""
        return stage == "filter"
            ? "<rect x=\"\(n(x - 4.5))\" y=\"\(n(y - 4.5))\" width=\"9\" height=\"9\" \(paint)/>\n"
            : "<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"4.5\" \(paint)/>\n"
    }

    /// A black ring marking the written model, with an optional label beside it.
    func ring(x: Double, y: Double, label: String?) -> String {
        var out = "<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"9\" fill=\"none\" stroke=\"#000000\" stroke-width=\"2\"/>\n"
        if let label { out += "<text x=\"\(n(x + 12))\" y=\"\(n(y + 16))\" font-weight=\"bold\">\(escape(label))</text>\n" }
        return out
    }

    func heading(_ text: String, x: Double, y: Double) -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(escape(text))</text>\n"
    }

    func hline(_ f: Frame, _ y: Double, colour: String, dash: String, width: Double) -> String {
        "<line x1=\"\(n(f.x))\" y1=\"\(n(y))\" x2=\"\(n(f.x + f.width))\" y2=\"\(n(y))\" stroke=\"\(colour)\" stroke-width=\"\(n(width))\" stroke-dasharray=\"\(dash)\"/>\n"
    }

    func lineSample(_ legend: Legend, colour: String, dash: String, width: Double) -> String {
        "<line x1=\"\(n(legend.x - 4))\" y1=\"\(n(legend.y - 4))\" x2=\"\(n(legend.x + 16))\" y2=\"\(n(legend.y - 4))\" stroke=\"\(colour)\" stroke-width=\"\(n(width))\" stroke-dasharray=\"\(dash)\"/>"
    }

    /// The frame, ticks, grid and axis titles of a panel.
    func axes(_ f: Frame, xAxis: Axis, yAxis: Axis, xTitle: String, yTitle: String) -> String {
        let (px, py) = (xAxis.pixel(f.x, f.width), yAxis.pixel(f.y + f.height, -f.height))
        var out = frame(f)
        for t in xAxis.ticks {
            out += "<line x1=\"\(n(px(t)))\" y1=\"\(n(f.y + f.height))\" x2=\"\(n(px(t)))\" y2=\"\(n(f.y + f.height + 5))\" stroke=\"#000\"/>\n"
            out += "<text x=\"\(n(px(t)))\" y=\"\(n(f.y + f.height + 18))\" text-anchor=\"middle\">\(compact(t))</text>\n"
        }
        for t in yAxis.ticks {
            out += "<line x1=\"\(n(f.x))\" y1=\"\(n(py(t)))\" x2=\"\(n(f.x + f.width))\" y2=\"\(n(py(t)))\" stroke=\"#eeeeee\"/>\n"
            out += "<text x=\"\(n(f.x - 8))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">\(n(t, yAxis.decimals))</text>\n"
        }
        out += "<text x=\"\(n(f.x + f.width / 2))\" y=\"\(n(f.y + f.height + 40))\" text-anchor=\"middle\">\(escape(xTitle))</text>\n"
        out += "<text transform=\"translate(\(n(f.x - 50)) \(n(f.y + f.height / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yTitle))</text>\n"
        return out
    }

    func frame(_ f: Frame) -> String {
        "<rect x=\"\(n(f.x))\" y=\"\(n(f.y))\" width=\"\(n(f.width))\" height=\"\(n(f.height))\" fill=\"none\" stroke=\"#000000\"/>\n"
    }

    /// Legend entries laid out left to right, a sample then its text.
    struct Legend {
        var x: Double
        var y: Double
        let start: Double

        init(x: Double, y: Double) { (self.x, self.y, start) = (x, y, x) }

        mutating func item(_ sample: String, _ text: String, width: Double) -> String {
            let out = sample + "<text x=\"\(String(format: "%.1f", x + 22))\" y=\"\(String(format: "%.1f", y))\">\(text)</text>\n"
            x += width
            return out
        }

        mutating func newLine() { (x, y) = (start, y + 20) }
    }

    /// An axis range widened to round tick values.
    struct Axis {
        var low: Double
        var high: Double
        var step: Double

        init(low: Double, high: Double, padding: Double = 0) {
            var (lo, hi) = (low, high)
            if hi - lo < 1e-9 { (lo, hi) = (lo - 1, hi + 1) }
            let pad = (hi - lo) * padding
            (lo, hi) = (lo - pad, hi + pad)
            let raw = (hi - lo) / 5
            let magnitude = pow(10, (log10(raw)).rounded(.down))
            step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
            self.low = (lo / step).rounded(.down) * step
            self.high = (hi / step).rounded(.up) * step
        }

        var ticks: [Double] { stride(from: low, through: high + step / 2, by: step).map { $0 } }
        var decimals: Int { max(0, Int(-log10(step).rounded(.down))) }

        /// Value to pixel: `origin` at `low`, `origin + length` at `high` (a negative length for
        /// a y axis growing upwards).
        func pixel(_ origin: Double, _ length: Double) -> (Double) -> Double {
            let (low, span) = (self.low, self.high - self.low)
            return { origin + ($0 - low) / span * length }
        }
    }

    /// A number with fixed decimals (deterministic text for coordinates).
    func n(_ v: Double, _ decimals: Int = 1) -> String {
        let s = String(format: "%.\(decimals)f", v)
        return decimals > 0 && s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }

    /// 1.2M, 350k, 40.
    func compact(_ v: Double) -> String {
        if abs(v) >= 1e6 { return n(v / 1e6, 2).replacing(/\.?0+$/, with: "") + "M" }
        if abs(v) >= 1e3 { return n(v / 1e3, 1) + "k" }
        return n(v, 0)
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    func fileName(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }
}
