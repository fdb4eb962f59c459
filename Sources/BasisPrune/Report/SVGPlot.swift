import Foundation

/// The `--plot` figure of a pruning run as SVG text (deterministic: same report, same bytes).
///
/// Left: validation accuracy against layer parameters kept, one mark per candidate of the
/// search (accepted filled, rejected hollow), the accepted path as a line, the input model's
/// accuracy and the budget's floor as horizontal lines. Right: one horizontal bar pair per
/// layer, the original rank behind the bases kept.
public struct SVGPlot: Sendable {
    public var report: PruneReport

    public init(report: PruneReport) { self.report = report }

    static let accent = "#1f77b4", rejected = "#d62728", rankColour = "#c7c7c7", floorColour = "#ff7f0e"

    public func svg() -> String {
        let layerRow = 14.0
        let panelTop = 70.0
        let height = max(460, panelTop + 60 + layerRow * Double(report.layers.count) + 40)
        let width = 1100.0
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" viewBox="0 0 \(n(width)) \(n(height))" \
            font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
            <rect x="0" y="0" width="\(n(width))" height="\(n(height))" fill="#ffffff"/>
            <text x="\(n(width / 2))" y="26" text-anchor="middle" font-size="17" font-weight="bold">\(escape(title))</text>

            """
        out += accuracyPanel(x: 70, y: panelTop, width: 400, height: 300)
        out += basesPanel(x: 760, y: panelTop, width: 300, rowHeight: layerRow)
        return out + "</svg>\n"
    }

    var title: String {
        let kept = report.parametersBefore > 0 ? 100 * Double(report.parametersAfter) / Double(report.parametersBefore) : 100
        return "Pruning (--method \(report.method)) of \(fileName(report.input)): \(grouped(report.parametersAfter)) of \(grouped(report.parametersBefore)) layer parameters kept (\(n(kept, 1)) %)"
    }

    /// Accuracy (percent) against parameters kept over the search history.
    func accuracyPanel(x: Double, y: Double, width: Double, height: Double) -> String {
        let history = report.history.isEmpty ? report.filter?.history ?? [] : report.history
        let baseline = report.inputAccuracy.validation.map { 100 * $0 }
        let floor = baseline.map { $0 - report.maxAccuracyDrop }
        let accuracies = history.map { 100 * $0.validationAccuracy } + [baseline, floor].compactMap { $0 }
        let parameters = history.map { Double($0.layerParameters) } + [Double(report.parametersBefore)]
        let xAxis = Axis(low: 0, high: parameters.max() ?? 1)
        let yAxis = Axis(low: accuracies.min() ?? 0, high: accuracies.max() ?? 100, padding: 0.08)
        func px(_ v: Double) -> Double { x + (v - xAxis.low) / (xAxis.high - xAxis.low) * width }
        func py(_ v: Double) -> Double { y + height - (v - yAxis.low) / (yAxis.high - yAxis.low) * height }

        var out = "<g id=\"accuracy\">\n"
        out += "<text x=\"\(n(x + width / 2))\" y=\"\(n(y - 12))\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">Validation accuracy over the pruning search</text>\n"
        out += frame(x: x, y: y, width: width, height: height)
        for t in xAxis.ticks {
            out += "<line x1=\"\(n(px(t)))\" y1=\"\(n(y + height))\" x2=\"\(n(px(t)))\" y2=\"\(n(y + height + 5))\" stroke=\"#000\"/>\n"
            out += "<text x=\"\(n(px(t)))\" y=\"\(n(y + height + 18))\" text-anchor=\"middle\">\(compact(t))</text>\n"
        }
        for t in yAxis.ticks {
            out += "<line x1=\"\(n(x))\" y1=\"\(n(py(t)))\" x2=\"\(n(x + width))\" y2=\"\(n(py(t)))\" stroke=\"#eeeeee\"/>\n"
            out += "<text x=\"\(n(x - 8))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">\(n(t, yAxis.decimals))</text>\n"
        }
        out += "<text x=\"\(n(x + width / 2))\" y=\"\(n(y + height + 40))\" text-anchor=\"middle\">layer parameters kept</text>\n"
        out += "<text transform=\"translate(\(n(x - 50)) \(n(y + height / 2))) rotate(-90)\" text-anchor=\"middle\">validation accuracy (%)</text>\n"
        if let baseline {
            out += "<line x1=\"\(n(x))\" y1=\"\(n(py(baseline)))\" x2=\"\(n(x + width))\" y2=\"\(n(py(baseline)))\" stroke=\"#555555\" stroke-dasharray=\"2 3\"/>\n"
        }
        if let floor {
            out += "<line x1=\"\(n(x))\" y1=\"\(n(py(floor)))\" x2=\"\(n(x + width))\" y2=\"\(n(py(floor)))\" stroke=\"\(Self.floorColour)\" stroke-width=\"2\" stroke-dasharray=\"8 4\"/>\n"
        }
        let path = history.filter(\.accepted).map { "\(n(px(Double($0.layerParameters)))),\(n(py(100 * $0.validationAccuracy)))" }
        if path.count > 1 {
            out += "<polyline points=\"\(path.joined(separator: " "))\" fill=\"none\" stroke=\"\(Self.accent)\" stroke-width=\"1.5\"/>\n"
        }
        for r in history {
            let cx = n(px(Double(r.layerParameters))), cy = n(py(100 * r.validationAccuracy))
            out += r.accepted
                ? "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"4.5\" fill=\"\(Self.accent)\"/>\n"
                : "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"4.5\" fill=\"#ffffff\" stroke=\"\(Self.rejected)\" stroke-width=\"2\"/>\n"
        }
        // Legend below the axis title.
        let ly = y + height + 62
        out += "<circle cx=\"\(n(x + 6))\" cy=\"\(n(ly - 4))\" r=\"4.5\" fill=\"\(Self.accent)\"/>"
        out += "<text x=\"\(n(x + 16))\" y=\"\(n(ly))\">accepted candidate</text>\n"
        out += "<circle cx=\"\(n(x + 166))\" cy=\"\(n(ly - 4))\" r=\"4.5\" fill=\"#ffffff\" stroke=\"\(Self.rejected)\" stroke-width=\"2\"/>"
        out += "<text x=\"\(n(x + 176))\" y=\"\(n(ly))\">rejected candidate</text>\n"
        out += "<line x1=\"\(n(x))\" y1=\"\(n(ly + 16))\" x2=\"\(n(x + 24))\" y2=\"\(n(ly + 16))\" stroke=\"\(Self.floorColour)\" stroke-width=\"2\" stroke-dasharray=\"8 4\"/>"
        out += "<text x=\"\(n(x + 30))\" y=\"\(n(ly + 20))\">budget floor (input − \(n(report.maxAccuracyDrop, 2)) points)</text>\n"
        out += "<line x1=\"\(n(x + 250))\" y1=\"\(n(ly + 16))\" x2=\"\(n(x + 274))\" y2=\"\(n(ly + 16))\" stroke=\"#555555\" stroke-dasharray=\"2 3\"/>"
        out += "<text x=\"\(n(x + 280))\" y=\"\(n(ly + 20))\">input model</text>\n"
        return out + "</g>\n"
    }

    /// Original rank (grey) and bases kept (blue) per layer, as horizontal bars.
    func basesPanel(x: Double, y: Double, width: Double, rowHeight: Double) -> String {
        let layers = report.layers
        let axis = Axis(low: 0, high: Double(layers.map { $0.rank ?? $0.outputChannelsBefore }.max() ?? 1))
        func px(_ v: Double) -> Double { x + v / axis.high * width }
        let height = rowHeight * Double(max(layers.count, 1))
        var out = "<g id=\"bases\">\n"
        out += "<text x=\"\(n(x + width / 2 - 120))\" y=\"\(n(y - 12))\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">Bases kept per layer</text>\n"
        out += frame(x: x, y: y, width: width, height: height)
        for t in axis.ticks {
            out += "<line x1=\"\(n(px(t)))\" y1=\"\(n(y))\" x2=\"\(n(px(t)))\" y2=\"\(n(y + height + 5))\" stroke=\"#eeeeee\"/>\n"
            out += "<text x=\"\(n(px(t)))\" y=\"\(n(y + height + 18))\" text-anchor=\"middle\">\(compact(t))</text>\n"
        }
        for (i, l) in layers.enumerated() {
            let top = y + Double(i) * rowHeight
            let label = l.name.count > 44 ? "…" + l.name.suffix(43) : l.name
            out += "<text x=\"\(n(x - 6))\" y=\"\(n(top + rowHeight - 3.5))\" text-anchor=\"end\" font-size=\"10\">\(escape(label))</text>\n"
            out += "<rect x=\"\(n(x))\" y=\"\(n(top + 2))\" width=\"\(n(px(Double(l.rank ?? l.outputChannelsBefore)) - x))\" height=\"\(n(rowHeight - 4))\" fill=\"\(Self.rankColour)\"/>\n"
            out += "<rect x=\"\(n(x))\" y=\"\(n(top + 2))\" width=\"\(n(px(Double(l.kept ?? l.outputChannelsAfter)) - x))\" height=\"\(n(rowHeight - 4))\" fill=\"\(Self.accent)\"/>\n"
        }
        out += "<text x=\"\(n(x + width / 2))\" y=\"\(n(y + height + 36))\" text-anchor=\"middle\">bases (rank = min(n, Cout))</text>\n"
        let ly = y + height + 58
        out += "<rect x=\"\(n(x))\" y=\"\(n(ly - 10))\" width=\"14\" height=\"10\" fill=\"\(Self.rankColour)\"/><text x=\"\(n(x + 20))\" y=\"\(n(ly))\">original rank</text>\n"
        out += "<rect x=\"\(n(x + 130))\" y=\"\(n(ly - 10))\" width=\"14\" height=\"10\" fill=\"\(Self.accent)\"/><text x=\"\(n(x + 150))\" y=\"\(n(ly))\">bases kept</text>\n"
        return out + "</g>\n"
    }

    func frame(x: Double, y: Double, width: Double, height: Double) -> String {
        "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"none\" stroke=\"#000000\"/>\n"
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
