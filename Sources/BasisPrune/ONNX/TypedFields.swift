internal import COnnxProto

/// Conversion between the typed repeated fields of TensorProto (`float_data`, `int32_data`, ...)
/// and the `raw_data` layout the IR stores.
enum TypedFields {
    /// Which repeated field holds a data type's values, and how many entries `count` elements take.
    enum Field { case float, double, int32, int64, uint64 }

    static func field(for type: DataType) -> Field {
        switch type {
        case .float, .complex64: .float
        case .double, .complex128: .double
        case .int64: .int64
        case .uint32, .uint64: .uint64
        default: .int32
        }
    }

    /// Entries of the typed field that `count` elements take.
    static func entryCount(_ type: DataType, elements count: Int) -> Int {
        switch type {
        case .complex64, .complex128: count * 2
        case .uint4, .int4, .float4e2m1: (count + 1) / 2
        case .uint2, .int2: (count + 3) / 4
        default: count
        }
    }

    static func decode(
        _ p: Onnx__TensorProto, dataType: DataType, count: Int, byteCount: Int,
        error: (String) -> ONNXError
    ) throws(ONNXError) -> TensorStorage {
        let entries = entryCount(dataType, elements: count)
        let storage = TensorStorage(byteCount: byteCount)
        func check(_ n: Int, _ fieldName: String) throws(ONNXError) {
            guard n == entries else {
                throw error("\(fieldName) has \(n) values, dims of \(dataType) need \(entries)")
            }
        }
        switch field(for: dataType) {
        case .float:
            try check(p.n_float_data, "float_data")
            storage.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: p.float_data, count: entries * 4)) }
        case .double:
            try check(p.n_double_data, "double_data")
            storage.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: p.double_data, count: entries * 8)) }
        case .int64:
            try check(p.n_int64_data, "int64_data")
            storage.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: p.int64_data, count: entries * 8)) }
        case .uint64:
            try check(p.n_uint64_data, "uint64_data")
            let source = UnsafeBufferPointer(start: p.uint64_data, count: entries)
            storage.withUnsafeMutableBytes { raw in
                if dataType == .uint64 {
                    raw.copyMemory(from: UnsafeRawBufferPointer(source))
                } else {
                    for (i, v) in source.enumerated() { raw.storeBytes(of: UInt32(truncatingIfNeeded: v), toByteOffset: i * 4, as: UInt32.self) }
                }
            }
        case .int32:
            try check(p.n_int32_data, "int32_data")
            let source = UnsafeBufferPointer(start: p.int32_data, count: entries)
            storage.withUnsafeMutableBytes { raw in
                switch dataType.bitWidth {
                case 32:
                    raw.copyMemory(from: UnsafeRawBufferPointer(source))
                case 16:
                    for (i, v) in source.enumerated() { raw.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: i * 2, as: UInt16.self) }
                case 6:
                    SixBit.pack(source.map { UInt8(truncatingIfNeeded: $0) & 0x3f }, into: raw)
                default:  // one byte per entry: 8-bit types, and packed pairs or quads of 4- and 2-bit types
                    for (i, v) in source.enumerated() { raw[i] = UInt8(truncatingIfNeeded: v) }
                }
            }
        }
        return storage
    }

    /// The typed-field entries of a tensor, as the exporter writes them.
    enum Entries {
        case float([Float]), double([Double]), int32([Int32]), int64([Int64]), uint64([UInt64])
    }

    static func encode(_ tensor: Tensor) -> Entries {
        let count = tensor.elementCount
        let entries = entryCount(tensor.dataType, elements: count)
        return tensor.storage.withUnsafeBytes { raw in
            func load<T: BitwiseCopyable>(_: T.Type) -> [T] {
                (0..<entries).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
            }
            switch field(for: tensor.dataType) {
            case .float: return .float(load(Float.self))
            case .double: return .double(load(Double.self))
            case .int64: return .int64(load(Int64.self))
            case .uint64:
                return tensor.dataType == .uint64 ? .uint64(load(UInt64.self)) : .uint64(load(UInt32.self).map { UInt64($0) })
            case .int32:
                switch tensor.dataType.bitWidth {
                case 32: return .int32(load(Int32.self))
                case 16:
                    if tensor.dataType == .int16 { return .int32(load(Int16.self).map { Int32($0) }) }
                    return .int32(load(UInt16.self).map { Int32($0) })
                case 6: return .int32(SixBit.unpack(raw, count: count).map { Int32($0) })
                default:
                    // Signed 8-bit values are written sign-extended, as the onnx package does.
                    if tensor.dataType == .int8 { return .int32(load(Int8.self).map { Int32($0) }) }
                    return .int32(load(UInt8.self).map { Int32($0) })
                }
            }
        }
    }
}

/// The packing of 6-bit float types in raw_data: four values in three bytes, LSB first.
enum SixBit {
    static func pack(_ values: [UInt8], into raw: UnsafeMutableRawBufferPointer) {
        for (i, v) in values.enumerated() {
            let bit = i * 6
            let word = UInt16(v) << UInt16(bit % 8)
            raw[bit / 8] |= UInt8(truncatingIfNeeded: word)
            if bit / 8 + 1 < raw.count { raw[bit / 8 + 1] |= UInt8(truncatingIfNeeded: word >> 8) }
        }
    }

    static func unpack(_ raw: UnsafeRawBufferPointer, count: Int) -> [UInt8] {
        (0..<count).map { i in
            let bit = i * 6
            var word = UInt16(raw[bit / 8])
            if bit / 8 + 1 < raw.count { word |= UInt16(raw[bit / 8 + 1]) << 8 }
            return UInt8(truncatingIfNeeded: word >> UInt16(bit % 8)) & 0x3f
        }
    }
}
