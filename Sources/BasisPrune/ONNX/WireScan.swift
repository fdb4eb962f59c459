/// Explains why bytes do not parse as a ModelProto: truncation, or not ONNX at all.
enum WireScan {
    /// Field numbers and wire types of ModelProto's fields (any other top-level field is foreign).
    private static let modelFields: [UInt64: UInt64] = [
        1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2,
    ]

    static func diagnose(_ bytes: [UInt8]) -> ONNXError.Problem {
        var pos = 0
        func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while pos < bytes.count, shift < 64 {
                let b = bytes[pos]
                pos += 1
                result |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }
        var fieldIndex = 0
        while pos < bytes.count {
            let start = pos
            guard let key = varint() else {
                return .truncated(reason: "the file ends inside a field key at byte \(start)")
            }
            let number = key >> 3
            let wire = key & 7
            if modelFields[number] != wire {
                let where_ = fieldIndex == 0 ? "the first bytes are" : "byte \(start) holds"
                return .notONNX(reason: "\(where_) no ModelProto field (field \(number), wire type \(wire))")
            }
            fieldIndex += 1
            switch wire {
            case 0:
                guard varint() != nil else { return .truncated(reason: "the file ends inside field \(number) at byte \(start)") }
            case 2:
                guard let length = varint() else { return .truncated(reason: "the file ends inside field \(number) at byte \(start)") }
                if length > UInt64(bytes.count - pos) {
                    return .truncated(reason: "field \(number) at byte \(start) needs \(length) bytes, but only \(bytes.count - pos) remain")
                }
                pos += Int(length)
            default:
                return .notONNX(reason: "unexpected wire type \(wire) at byte \(start)")
            }
        }
        return .notONNX(reason: "the protobuf message inside is malformed or corrupt")
    }
}
