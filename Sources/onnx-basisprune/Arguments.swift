/// Parsed command-line arguments of one subcommand: positional values, options with a value,
/// and flags. Options accept `--name value` and `--name=value`.
struct Arguments {
    var positional: [String] = []
    var values: [String: String] = [:]
    var flags: Set<String> = []
    /// The subcommand these arguments are for.
    let command: String

    /// Parses `arguments` for `command`, which accepts the options in `valueOptions` and `flagOptions`.
    init(_ arguments: [String], command: String, valueOptions: Set<String>, flagOptions: Set<String>) throws(CLIError) {
        self.command = command
        var i = 0
        var optionsEnded = false
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
                positional.append(argument)
                continue
            }
            if argument == "--" {
                optionsEnded = true
                continue
            }
            var name = argument
            var inlineValue: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            if name == "-h" { name = "--help" }
            if flagOptions.contains(name) || name == "--help" {
                guard inlineValue == nil else { throw .usage("\(name) takes no value (see onnx-basisprune \(command) --help)") }
                flags.insert(name)
            } else if valueOptions.contains(name) {
                if let inlineValue {
                    values[name] = inlineValue
                } else {
                    guard i < arguments.count else { throw .usage("\(name) needs a value (see onnx-basisprune \(command) --help)") }
                    values[name] = arguments[i]
                    i += 1
                }
            } else {
                throw .usage("unknown option \(name) for \(command) (see onnx-basisprune \(command) --help)")
            }
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }
}

/// Parses `1x3x32x32` into dims.
func parseShape(_ text: String, option: String) throws(CLIError) -> [Int] {
    let parts = text.split(separator: "x", omittingEmptySubsequences: false)
    let dims = parts.compactMap { Int($0) }
    guard !parts.isEmpty, dims.count == parts.count, dims.allSatisfy({ $0 > 0 }) else {
        throw .usage("\(option) '\(text)' is not a shape like 1x3x32x32")
    }
    return dims
}
