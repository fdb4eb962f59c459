/// Command-line options declared once: each entry gives the parser its name, the help its
/// line, and (for options that set a field of `Target`) how a given value is checked and
/// applied. Defaults live in `Target`'s initial value; help text reads them from there.
struct Option<Target> {
    /// The option, e.g. `--lr`.
    let name: String
    /// The value's placeholder in the help (`N`, `labels|distill|both`); nil for a flag.
    let value: String?
    /// One paragraph, wrapped by `OptionTable.help`; "\n" forces a line break.
    let help: String
    /// Shown by `--help-all` only (research and tuning knobs).
    var tuning = false
    /// Checks the given value and sets it on the target; nil when the command reads the
    /// option itself (data specs, output paths).
    var apply: ((inout Target, String) throws(CLIError) -> Void)?

    init(_ name: String, _ value: String?, tuning: Bool = false, _ help: String,
         apply: ((inout Target, String) throws(CLIError) -> Void)? = nil) {
        (self.name, self.value, self.help, self.tuning, self.apply) = (name, value, help, tuning, apply)
    }

    /// An option whose value is one of `E`'s cases, set by `set`.
    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ type: E.Type, tuning: Bool = false, _ help: String,
                                                          set: @escaping (inout Target, E) -> Void) -> Option where E.RawValue == String {
        Option(name, E.allCases.map(\.rawValue).joined(separator: "|"), tuning: tuning, help) { (target, text) throws(CLIError) in
            set(&target, try Parse.choice(name, text, E.self))
        }
    }

    /// An option taking a number in `range`.
    static func number(_ name: String, _ value: String, in range: ClosedRange<Double>, tuning: Bool = false, _ help: String,
                       set: @escaping (inout Target, Double) -> Void) -> Option {
        Option(name, value, tuning: tuning, help) { (target, text) throws(CLIError) in set(&target, try Parse.number(name, text, in: range)) }
    }

    /// An option taking a positive integer.
    static func positive(_ name: String, _ value: String, tuning: Bool = false, _ help: String,
                         set: @escaping (inout Target, Int) -> Void) -> Option {
        Option(name, value, tuning: tuning, help) { (target, text) throws(CLIError) in set(&target, try Parse.positive(name, text)) }
    }
}

/// The value checks the option table uses, with the messages users see.
enum Parse {
    static func number(_ option: String, _ text: String, in range: ClosedRange<Double>) throws(CLIError) -> Double {
        guard let v = Double(text), range.contains(v) else { throw .usage("\(option) '\(text)' is not a number in \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    static func positive(_ option: String, _ text: String) throws(CLIError) -> Int {
        guard let n = Int(text), n > 0 else { throw .usage("\(option) '\(text)' is not a positive integer") }
        return n
    }

    /// A positive integer, or nil for `word` (an option's `N|auto`, `N|none`, `N|all`). The
    /// message names `also`, the option's other words, as well.
    static func positive(_ option: String, _ text: String, or word: String, also: [String] = []) throws(CLIError) -> Int? {
        if text == word { return nil }
        guard let n = Int(text), n > 0 else {
            throw .usage("\(option) '\(text)' is not \(alternatives(["a positive integer", word] + also))")
        }
        return n
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ option: String, _ text: String, _ type: E.Type) throws(CLIError) -> E where E.RawValue == String {
        guard let value = E(rawValue: text) else { throw .usage("\(option) '\(text)' is not \(alternatives(E.allCases.map(\.rawValue)))") }
        return value
    }

    /// "a, b or c".
    static func alternatives(_ names: [String]) -> String {
        names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}

/// A command's options in help sections, each section optionally followed by free text.
struct OptionTable<Target> {
    struct Section {
        var title: String
        var options: [Option<Target>]
        /// Text printed after the section's options, as written (already wrapped).
        var note = ""
    }

    var sections: [Section]

    var all: [Option<Target>] { sections.flatMap(\.options) }
    var valueOptions: Set<String> { Set(all.filter { $0.value != nil }.map(\.name)) }
    var flagOptions: Set<String> { Set(all.filter { $0.value == nil }.map(\.name)) }

    /// Applies every given option with an `apply`, in table order, to `target`.
    func apply(_ args: Arguments, to target: inout Target) throws(CLIError) {
        for option in all {
            guard let apply = option.apply else { continue }
            if let value = option.value == nil ? (args.has(option.name) ? "" : nil) : args.values[option.name] {
                try apply(&target, value)
            }
        }
    }

    /// The sections as help text: `--help` shows the everyday options, `tuning: true` the rest.
    func help(tuning: Bool) -> String {
        sections.compactMap { section -> String? in
            let options = section.options.filter { $0.tuning == tuning }
            guard !options.isEmpty || (!tuning && !section.note.isEmpty) else { return nil }
            var out = "\(section.title):\n"
            for option in options { out += Self.entry(option) }
            if !tuning && !section.note.isEmpty { out += section.note + (section.note.hasSuffix("\n") ? "" : "\n") }
            return out
        }.joined(separator: "\n")
    }

    static var column: Int { 24 }
    static var width: Int { 96 }

    /// `  --name VALUE` and the wrapped help, on the same line when the name fits its column.
    static func entry(_ option: Option<Target>) -> String {
        let head = "  " + option.name + (option.value.map { " " + $0 } ?? "")
        let lines = wrap(option.help, width: width - column)
        let indent = String(repeating: " ", count: column)
        var out = head.count < column - 1 ? head.padding(toLength: column, withPad: " ", startingAt: 0) + (lines.first ?? "") + "\n"
                                          : head + "\n" + indent + (lines.first ?? "") + "\n"
        for line in lines.dropFirst() { out += indent + line + "\n" }
        return out
    }

    /// `text` in lines of at most `width` characters, broken at spaces and at "\n".
    static func wrap(_ text: String, width: Int) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).flatMap { paragraph -> [String] in
            var lines: [String] = [], line = ""
            for word in paragraph.split(separator: " ") {
                if !line.isEmpty && line.count + 1 + word.count > width {
                    lines.append(line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            return lines + [line]
        }
    }
}
