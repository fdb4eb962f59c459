/// Cast: between float, double, float16, the signed and unsigned integers of 8 to 64 bits and
/// bool. Float to integer truncates toward zero (saturating, NaN gives 0); anything non-zero is
/// true. String, bfloat16, float8 and 4-bit types are not supported.
struct CastOp: Operator {
    let node: Node
    let to: DataType

    init(node: Node, context: BuildContext) throws(EngineError) {
        self.node = node
        guard let code = node.int("to") else { throw EngineError(node, "the to attribute is required") }
        guard let to = DataType(rawValue: Int32(truncatingIfNeeded: code)), Int(to.rawValue) == code else {
            throw EngineError(node, "to \(code) is not an ONNX data type")
        }
        guard castElementType(to) != nil else { throw EngineError(node, "Cast to \(to) is not supported") }
        self.to = to
    }

    func run(_ inputs: [Value?]) throws(EngineError) -> [Value] {
        let x = try node.required(inputs, 0)
        guard let y = cast(x, to: to) else { throw EngineError(node, "Cast from \(x.dataType) is not supported") }
        return [y]
    }
}

/// An element type Cast converts: through Double when either side is a floating-point type,
/// otherwise through Int64 (so that 64-bit integers convert exactly).
protocol CastElement: BitwiseCopyable {
    static var isFloatingPoint: Bool { get }
    init(castFrom value: Double)
    init(castFrom value: Int64)
    var castDouble: Double { get }
    var castInt64: Int64 { get }
}

extension Float: CastElement {}
extension Double: CastElement {}
extension Float16: CastElement {}

extension BinaryFloatingPoint where Self: CastElement {
    static var isFloatingPoint: Bool { true }
    init(castFrom value: Double) { self.init(value) }
    init(castFrom value: Int64) { self.init(value) }
    var castDouble: Double { Double(self) }
    var castInt64: Int64 { Int64(castTruncating: Double(self)) }
}

extension Int8: CastElement {}
extension Int16: CastElement {}
extension Int32: CastElement {}
extension Int64: CastElement {}
extension UInt8: CastElement {}
extension UInt16: CastElement {}
extension UInt32: CastElement {}
extension UInt64: CastElement {}

extension FixedWidthInteger where Self: CastElement {
    static var isFloatingPoint: Bool { false }
    init(castFrom value: Double) { self.init(castTruncating: value) }
    init(castFrom value: Int64) { self.init(truncatingIfNeeded: value) }
    var castDouble: Double { Double(self) }
    var castInt64: Int64 { Int64(truncatingIfNeeded: self) }
}

extension FixedWidthInteger {
    /// `value` rounded toward zero, clamped to the type's range; NaN gives 0.
    init(castTruncating value: Double) {
        if value.isNaN {
            self = 0
        } else if value <= Double(Self.min) {
            self = .min
        } else if value >= Double(Self.max) {
            self = .max
        } else {
            self.init(value.rounded(.towardZero))
        }
    }
}

/// ONNX bool: one byte, 0 or 1.
struct BoolElement: CastElement {
    var byte: UInt8
    static var isFloatingPoint: Bool { false }
    init(castFrom value: Double) { byte = value != 0 ? 1 : 0 }
    init(castFrom value: Int64) { byte = value != 0 ? 1 : 0 }
    var castDouble: Double { byte != 0 ? 1 : 0 }
    var castInt64: Int64 { byte != 0 ? 1 : 0 }
}

/// The Swift element type of `type`, when Cast converts it.
func castElementType(_ type: DataType) -> (any CastElement.Type)? {
    switch type {
    case .float: Float.self
    case .double: Double.self
    case .float16: Float16.self
    case .int8: Int8.self
    case .int16: Int16.self
    case .int32: Int32.self
    case .int64: Int64.self
    case .uint8: UInt8.self
    case .uint16: UInt16.self
    case .uint32: UInt32.self
    case .uint64: UInt64.self
    case .bool: BoolElement.self
    default: nil
    }
}

/// `x` converted to `type`, or nil when either type is not one Cast converts.
func cast(_ x: Value, to type: DataType) -> Value? {
    if x.dataType == type { return x }
    guard let source = castElementType(x.dataType), let destination = castElementType(type) else { return nil }
    let y = Value(uninitialized: type, shape: x.shape)
    convert(x, source, to: y, destination)
    return y
}

private func convert<S: CastElement, D: CastElement>(_ x: Value, _: S.Type, to y: Value, _: D.Type) {
    x.withElements(as: S.self) { s in
        y.withMutableElements(as: D.self) { d in
            if S.isFloatingPoint || D.isFloatingPoint {
                for i in s.indices { d[i] = D(castFrom: s[i].castDouble) }
            } else {
                for i in s.indices { d[i] = D(castFrom: s[i].castInt64) }
            }
        }
    }
}
