import Foundation

/// Renders the SVG file at `svg` with librsvg's rsvg-convert to `svg.png` and returns the PNG's
/// distinct colours and fraction of non-white pixels (decoded by the png_stats.py judge).
public func renderedPNGStats(_ svg: String) throws -> (colours: Int, nonWhite: Double) {
    let png = svg + ".png"
    let rendered = try run("/usr/bin/rsvg-convert", [svg, "-o", png])
    guard rendered.status == 0 else { throw JudgeError(message: "rsvg-convert failed: \(rendered.stderr)") }
    let stats = try runJudge("png_stats.py", [png]) as! [String: Any]
    return (stats["colours"] as! Int, stats["non_white"] as! Double)
}

/// Validates the JSON file at `document` against `schemas/NAME.schema.json` with the Python
/// jsonschema package; returns nil when valid, else the first error.
public func schemaError(_ name: String, document: String) throws -> String? {
    let judged = try runJudge("validate_schema.py", [Fixtures.repositoryRoot + "/schemas/\(name).schema.json", document]) as! [String: Any]
    if judged["valid"] as? Bool == true { return nil }
    return "\(judged["error"] ?? "?") at /\(judged["path"] ?? "")"
}
