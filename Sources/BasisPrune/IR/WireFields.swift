/// Protobuf fields of one message that the IR does not model, kept as their wire bytes.
///
/// The importer puts here every field of a message the IR has no property for (fields of newer
/// schemas, training info, local functions, sparse tensors, sharding specs ...); the exporter
/// writes them back unchanged, so such fields survive a round trip byte for byte.
public struct WireFields: Sendable, Equatable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8] = []) { self.bytes = bytes }

    public var isEmpty: Bool { bytes.isEmpty }
}
