extension Node {
    /// An INT attribute, or `defaultValue` when absent.
    public func int(_ name: String, default defaultValue: Int? = nil) -> Int? {
        if case .int(let v)? = attribute(name)?.value { return Int(truncatingIfNeeded: v) }
        return defaultValue
    }

    /// An INTS attribute.
    public func ints(_ name: String) -> [Int]? {
        if case .ints(let v)? = attribute(name)?.value { return v.map { Int(truncatingIfNeeded: $0) } }
        return nil
    }

    /// A FLOAT attribute, or `defaultValue` when absent.
    public func float(_ name: String, default defaultValue: Float? = nil) -> Float? {
        if case .float(let v)? = attribute(name)?.value { return v }
        return defaultValue
    }

    /// A STRING attribute decoded as UTF-8, or `defaultValue` when absent.
    public func string(_ name: String, default defaultValue: String? = nil) -> String? {
        if case .string(let v)? = attribute(name)?.value { return String(decoding: v, as: UTF8.self) }
        return defaultValue
    }

    /// A TENSOR attribute.
    public func tensor(_ name: String) -> Tensor? {
        if case .tensor(let t)? = attribute(name)?.value { return t }
        return nil
    }

    /// Whether a Conv's or pool's window moves one position at a time with no gaps and no
    /// explicit padding: `strides` and `dilations` all 1 and `pads` all 0 (absent: the defaults).
    public var hasUnitSteps: Bool {
        let ones = { (name: String) in self.ints(name).map { $0.allSatisfy { $0 == 1 } } ?? true }
        return ones("strides") && ones("dilations") && (ints("pads")?.allSatisfy { $0 == 0 } ?? true)
    }

    /// The input at `index`, or nil when absent or omitted (empty name).
    public func input(_ index: Int) -> String? {
        index < inputs.count && !inputs[index].isEmpty ? inputs[index] : nil
    }
}
