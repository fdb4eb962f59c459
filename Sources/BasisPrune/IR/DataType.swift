/// The element types of ONNX tensors (TensorProto.DataType), with their storage layout in `raw_data`.
public enum DataType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case float = 1, uint8, int8, uint16, int16, int32, int64, string, bool, float16, double
    case uint32, uint64, complex64, complex128, bfloat16
    case float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz
    case uint4, int4, float4e2m1, float8e8m0, uint2, int2, float6e2m3, float6e3m2

    /// Bits one element takes in `raw_data` (0 for strings, which have no raw form).
    public var bitWidth: Int {
        switch self {
        case .string: 0
        case .uint2, .int2: 2
        case .uint4, .int4, .float4e2m1: 4
        case .float6e2m3, .float6e3m2: 6
        case .uint8, .int8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz,
            .float8e8m0:
            8
        case .uint16, .int16, .float16, .bfloat16: 16
        case .float, .int32, .uint32: 32
        case .int64, .double, .uint64, .complex64: 64
        case .complex128: 128
        }
    }

    /// Bytes `count` elements take in `raw_data`; sub-byte types are packed and padded to a byte.
    public func rawByteCount(elements count: Int) -> Int {
        let (bits, overflow) = count.multipliedReportingOverflow(by: bitWidth)
        return overflow ? Int.max : (bits + 7) / 8
    }

    /// The name the ONNX schema gives the type (`FLOAT`, `INT64`, ...).
    public var description: String {
        switch self {
        case .float: "FLOAT"
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .int32: "INT32"
        case .int64: "INT64"
        case .string: "STRING"
        case .bool: "BOOL"
        case .float16: "FLOAT16"
        case .double: "DOUBLE"
        case .uint32: "UINT32"
        case .uint64: "UINT64"
        case .complex64: "COMPLEX64"
        case .complex128: "COMPLEX128"
        case .bfloat16: "BFLOAT16"
        case .float8e4m3fn: "FLOAT8E4M3FN"
        case .float8e4m3fnuz: "FLOAT8E4M3FNUZ"
        case .float8e5m2: "FLOAT8E5M2"
        case .float8e5m2fnuz: "FLOAT8E5M2FNUZ"
        case .uint4: "UINT4"
        case .int4: "INT4"
        case .float4e2m1: "FLOAT4E2M1"
        case .float8e8m0: "FLOAT8E8M0"
        case .uint2: "UINT2"
        case .int2: "INT2"
        case .float6e2m3: "FLOAT6E2M3"
        case .float6e3m2: "FLOAT6E3M2"
        }
    }
}
