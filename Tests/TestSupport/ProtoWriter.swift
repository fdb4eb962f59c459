/// A minimal protobuf encoder for building exact ONNX bytes in tests (unknown fields, bad values)
/// without going through the code under test.
public struct ProtoWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A varint field (wire type 0).
    public mutating func int(_ number: Int, _ value: Int64) {
        varint(UInt64(number) << 3)
        varint(UInt64(bitPattern: value))
    }

    /// A length-delimited field (wire type 2).
    public mutating func bytes(_ number: Int, _ payload: [UInt8]) {
        varint(UInt64(number) << 3 | 2)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    /// A packed repeated varint field.
    public mutating func packed(_ number: Int, _ values: [Int64]) {
        var inner = ProtoWriter()
        for v in values { inner.varint(UInt64(bitPattern: v)) }
        bytes(number, inner.bytes)
    }

    public mutating func string(_ number: Int, _ text: String) { bytes(number, Array(text.utf8)) }

    public mutating func message(_ number: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        bytes(number, inner.bytes)
    }
}

/// ONNX messages written field by field, in field-number order (as protobuf-c writes them).
public enum ONNXBytes {
    /// A float tensor type of the given shape (ValueInfoProto.type).
    public static func tensorType(_ w: inout ProtoWriter, elemType: Int64 = 1, dims: [Int64]) {
        w.message(1) { t in
            t.int(1, elemType)
            t.message(2) { s in for d in dims { s.message(1) { $0.int(1, d) } } }
        }
    }

    /// A model `y = Relu(x)` on float[2]. `graph` adds fields after the graph's name (initializers),
    /// `graphTail` after its outputs, `node` to the node's end, `model` to the model's end.
    public static func reluModel(
        irVersion: Int64 = 8, nodeInput: String = "x",
        node: (inout ProtoWriter) -> Void = { _ in }, graph: (inout ProtoWriter) -> Void = { _ in },
        graphTail: (inout ProtoWriter) -> Void = { _ in }, model: (inout ProtoWriter) -> Void = { _ in }
    ) -> [UInt8] {
        var m = ProtoWriter()
        m.int(1, irVersion)
        m.string(2, "test")
        m.message(7) { g in
            g.message(1) { n in
                n.string(1, nodeInput)
                n.string(2, "y")
                n.string(3, "relu")
                n.string(4, "Relu")
                node(&n)
            }
            g.string(2, "g")
            graph(&g)
            g.message(11) { v in v.string(1, "x"); v.message(2) { tensorType(&$0, dims: [2]) } }
            g.message(12) { v in v.string(1, "y"); v.message(2) { tensorType(&$0, dims: [2]) } }
            graphTail(&g)
        }
        m.message(8) { $0.int(2, 13) }
        model(&m)
        return m.bytes
    }
}
