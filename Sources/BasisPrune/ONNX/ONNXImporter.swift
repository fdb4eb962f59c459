internal import COnnxProto
internal import COnnxSupport
internal import CProtobufC

#if canImport(Glibc)
    import Glibc
#endif

/// Reads ONNX files into the IR. The only place protobuf-c messages are unpacked and freed:
/// every value is copied into Swift before `free_unpacked`, and every field the IR does not
/// model is kept as wire bytes (`WireFields`) so that export loses nothing.
public enum ONNXImporter {
    /// IR versions this tool reads.
    public static let supportedIRVersions: ClosedRange<Int64> = 3...10

    /// Reads and validates the model at `path`; external data is resolved beside it.
    public static func load(path: String) throws(ONNXError) -> Model {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path) } catch { throw ONNXError(file: path, .unreadable(reason: error.reason)) }
        return try decode(bytes, file: path, directory: directoryOf(path))
    }

    /// Decodes model bytes; `file` names the source in errors, `directory` resolves external data.
    public static func decode(_ bytes: [UInt8], file: String, directory: String?) throws(ONNXError) -> Model {
        if bytes.isEmpty { throw ONNXError(file: file, .notONNX(reason: "the file is empty")) }
        let message = bytes.withUnsafeBufferPointer { onnx__model_proto__unpack(nil, $0.count, $0.baseAddress) }
        guard let message else { throw ONNXError(file: file, WireScan.diagnose(bytes)) }
        defer { onnx__model_proto__free_unpacked(message, nil) }
        let reader = Reader(file: file, directory: directory)
        let model = try reader.model(message)
        try model.graph.checkReferences(file: file)
        return model
    }

    /// Reads a serialized TensorProto (the `input_0.pb` files of the ONNX test suites).
    public static func loadTensor(path: String) throws(ONNXError) -> Tensor {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path) } catch { throw ONNXError(file: path, .unreadable(reason: error.reason)) }
        let message = bytes.withUnsafeBufferPointer { onnx__tensor_proto__unpack(nil, $0.count, $0.baseAddress) }
        guard let message else { throw ONNXError(file: path, .notONNX(reason: "not a serialized TensorProto")) }
        defer { onnx__tensor_proto__free_unpacked(message, nil) }
        return try Reader(file: path, directory: directoryOf(path)).tensor(message)
    }

    static func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// Copies protobuf-c messages into IR values.
private struct Reader {
    let file: String
    let directory: String?

    init(file: String, directory: String?) {
        self.file = file
        self.directory = directory
    }

    func fail(_ problem: ONNXError.Problem) -> ONNXError { ONNXError(file: file, problem) }

    func model(_ m: UnsafeMutablePointer<Onnx__ModelProto>) throws(ONNXError) -> Model {
        let p = m.pointee
        guard p.has_ir_version != 0 else {
            throw fail(.notONNX(reason: "no ir_version field (is this an ONNX model file?)"))
        }
        guard ONNXImporter.supportedIRVersions.contains(p.ir_version) else {
            throw fail(.unsupportedIRVersion(p.ir_version))
        }
        guard let graphMessage = p.graph else { throw fail(.notONNX(reason: "the model has no graph")) }
        var opsets: [OpsetImport] = []
        for o in messages(p.n_opset_import, p.opset_import) {
            guard o.pointee.has_version != 0 else { throw fail(.invalidModel(reason: "an opset_import has no version")) }
            opsets.append(OpsetImport(domain: string(o.pointee.domain), version: o.pointee.version,
                                      extraFields: residual(o, skip: [1, 2])))
        }
        return Model(
            irVersion: p.ir_version, opsetImports: opsets, producerName: string(p.producer_name),
            producerVersion: string(p.producer_version), domain: string(p.domain),
            modelVersion: p.has_model_version != 0 ? p.model_version : nil,
            docString: string(p.doc_string), graph: try graph(graphMessage),
            metadataProps: metadata(p.n_metadata_props, p.metadata_props),
            extraFields: residual(m, skip: [1, 2, 3, 4, 5, 6, 7, 8, 14]))
    }

    func graph(_ g: UnsafeMutablePointer<Onnx__GraphProto>) throws(ONNXError) -> Graph {
        let p = g.pointee
        var nodes: [Node] = []
        nodes.reserveCapacity(p.n_node)
        for n in messages(p.n_node, p.node) { nodes.append(try node(n)) }
        var initializers: [Tensor] = []
        for t in messages(p.n_initializer, p.initializer) { initializers.append(try tensor(t)) }
        return Graph(
            name: string(p.name), nodes: nodes, initializers: initializers,
            inputs: try valueInfos(p.n_input, p.input), outputs: try valueInfos(p.n_output, p.output),
            valueInfo: try valueInfos(p.n_value_info, p.value_info), docString: string(p.doc_string),
            extraFields: residual(g, skip: [1, 2, 5, 10, 11, 12, 13]))
    }

    func node(_ n: UnsafeMutablePointer<Onnx__NodeProto>) throws(ONNXError) -> Node {
        let p = n.pointee
        guard let opType = string(p.op_type), !opType.isEmpty else {
            throw fail(.invalidModel(reason: "a node (\(string(p.name) ?? "unnamed")) has no op_type"))
        }
        var attributes: [Attribute] = []
        for a in messages(p.n_attribute, p.attribute) { attributes.append(try attribute(a)) }
        return Node(
            name: string(p.name), opType: opType, domain: string(p.domain),
            inputs: strings(p.n_input, p.input), outputs: strings(p.n_output, p.output),
            attributes: attributes, docString: string(p.doc_string),
            extraFields: residual(n, skip: [1, 2, 3, 4, 5, 6, 7]))
    }

    func attribute(_ a: UnsafeMutablePointer<Onnx__AttributeProto>) throws(ONNXError) -> Attribute {
        let p = a.pointee
        let name = string(p.name) ?? ""
        var type = p.has_type != 0 ? Int32(bitPattern: p.type.rawValue) : nil
        if type == nil { type = Self.inferredAttributeType(p) }
        let value: Attribute.Value
        var skip: [UInt32] = [1, 13, 20, 21]
        if string(p.ref_attr_name) != nil {
            value = .reference(type: p.has_type != 0 ? Int32(bitPattern: p.type.rawValue) : nil)
        } else {
            switch type ?? 0 {
            case 1: value = .float(p.f); skip.append(2)
            case 2: value = .int(p.i); skip.append(3)
            case 3: value = .string(bytes(p.s)); skip.append(4)
            case 4:
                guard let t = p.t else { throw fail(.invalidModel(reason: "attribute '\(name)' of type TENSOR has no tensor")) }
                value = .tensor(try tensor(t)); skip.append(5)
            case 5:
                guard let g = p.g else { throw fail(.invalidModel(reason: "attribute '\(name)' of type GRAPH has no graph")) }
                value = .graph(try graph(g)); skip.append(6)
            case 6: value = .floats(Array(UnsafeBufferPointer(start: p.floats, count: p.n_floats))); skip.append(7)
            case 7: value = .ints(Array(UnsafeBufferPointer(start: p.ints, count: p.n_ints))); skip.append(8)
            case 8:
                value = .strings(UnsafeBufferPointer(start: p.strings, count: p.n_strings).map { bytes($0) })
                skip.append(9)
            case 9:
                var list: [Tensor] = []
                for t in messages(p.n_tensors, p.tensors) { list.append(try tensor(t)) }
                value = .tensors(list); skip.append(10)
            case 10:
                var list: [Graph] = []
                for g in messages(p.n_graphs, p.graphs) { list.append(try graph(g)) }
                value = .graphs(list); skip.append(11)
            case 11...14: value = .opaque(type: type!)
            default:
                throw fail(.invalidModel(reason: "attribute '\(name)' has unknown type \(type ?? 0)"))
            }
        }
        return Attribute(name: name, value: value, refAttrName: string(p.ref_attr_name),
                         docString: string(p.doc_string), extraFields: residual(a, skip: skip))
    }

    /// IR version 1 attributes may lack `type`: the kind is the field that is set.
    static func inferredAttributeType(_ p: Onnx__AttributeProto) -> Int32? {
        if p.has_f != 0 { return 1 }
        if p.has_i != 0 { return 2 }
        if p.has_s != 0 { return 3 }
        if p.t != nil { return 4 }
        if p.g != nil { return 5 }
        if p.n_floats > 0 { return 6 }
        if p.n_ints > 0 { return 7 }
        if p.n_strings > 0 { return 8 }
        if p.n_tensors > 0 { return 9 }
        if p.n_graphs > 0 { return 10 }
        return nil
    }

    func valueInfos(_ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__ValueInfoProto>?>?)
        throws(ONNXError) -> [ValueInfo]
    {
        var result: [ValueInfo] = []
        for v in messages(count, list) {
            let p = v.pointee
            result.append(ValueInfo(
                name: string(p.name) ?? "", type: try p.type.map { (t) throws(ONNXError) in try typeInfo(t, of: string(p.name) ?? "") },
                docString: string(p.doc_string), extraFields: residual(v, skip: [1, 2, 3])))
        }
        return result
    }

    func typeInfo(_ t: UnsafeMutablePointer<Onnx__TypeProto>, of name: String) throws(ONNXError) -> TypeInfo {
        let p = t.pointee
        var tensorType: TypeInfo.TensorType?
        if p.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, let tt = p.tensor_type {
            let elem = tt.pointee.has_elem_type != 0 ? tt.pointee.elem_type : nil
            if let elem, elem != 0, DataType(rawValue: elem) == nil {
                throw fail(.unknownDataType(code: elem, tensor: name))
            }
            var shape: [Dimension]?
            var shapeExtra = WireFields()
            if let s = tt.pointee.shape {
                shape = messages(s.pointee.n_dim, s.pointee.dim).map { d in
                    let dp = d.pointee
                    let value: Dimension.Value
                    switch dp.value_case {
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE: value = .known(dp.dim_value)
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM: value = .symbolic(string(dp.dim_param) ?? "")
                    default: value = .unknown
                    }
                    return Dimension(value, denotation: string(dp.denotation), extraFields: residual(d, skip: [1, 2, 3]))
                }
                shapeExtra = residual(s, skip: [1])
            }
            tensorType = TypeInfo.TensorType(elementType: elem, shape: shape,
                                             extraFields: residual(tt, skip: [1, 2]), shapeExtraFields: shapeExtra)
        }
        return TypeInfo(tensor: tensorType, denotation: string(p.denotation), extraFields: residual(t, skip: tensorType == nil ? [6] : [1, 6]))
    }

    func tensor(_ t: UnsafeMutablePointer<Onnx__TensorProto>) throws(ONNXError) -> Tensor {
        let p = t.pointee
        let name = string(p.name)
        let label = name ?? "unnamed"
        guard p.has_data_type != 0, p.data_type != 0 else {
            throw fail(.unknownDataType(code: p.has_data_type != 0 ? p.data_type : 0, tensor: label))
        }
        guard let dataType = DataType(rawValue: p.data_type) else {
            throw fail(.unknownDataType(code: p.data_type, tensor: label))
        }
        var dims: [Int] = []
        var count = 1
        for d in UnsafeBufferPointer(start: p.dims, count: p.n_dims) {
            guard d >= 0, let dim = Int(exactly: d) else {
                throw fail(.invalidTensor(tensor: label, reason: "negative dimension \(d)"))
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= Int(Int32.max) * 64 else {
                throw fail(.invalidTensor(tensor: label, reason: "dims \(dims + [dim]) hold too many elements"))
            }
            dims.append(dim)
            count = product
        }
        let extra = residual(t, skip: [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
        if dataType == .string {
            guard p.n_string_data == count else {
                throw fail(.invalidTensor(tensor: label, reason: "string_data has \(p.n_string_data) values, dims \(dims) need \(count)"))
            }
            let values = UnsafeBufferPointer(start: p.string_data, count: p.n_string_data).map { bytes($0) }
            return Tensor(name: name, dataType: .string, dims: dims, storage: TensorStorage(byteCount: 0),
                          strings: values, encoding: .typed, docString: string(p.doc_string), extraFields: extra)
        }
        let byteCount = dataType.rawByteCount(elements: count)
        let storage: TensorStorage
        let encoding: Tensor.Encoding
        if p.has_data_location != 0 && p.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            (storage, encoding) = try externalData(p, label: label, byteCount: byteCount)
        } else if p.has_raw_data != 0 {
            guard p.raw_data.len == byteCount else {
                throw fail(.invalidTensor(tensor: label, reason: "raw_data has \(p.raw_data.len) bytes, dims \(dims) of \(dataType) need \(byteCount)"))
            }
            storage = TensorStorage(copying: UnsafeRawBufferPointer(start: p.raw_data.data, count: p.raw_data.len))
            encoding = .raw
        } else {
            storage = try TypedFields.decode(p, dataType: dataType, count: count, byteCount: byteCount) { reason in
                fail(.invalidTensor(tensor: label, reason: reason))
            }
            encoding = .typed
        }
        return Tensor(name: name, dataType: dataType, dims: dims, storage: storage, encoding: encoding,
                      docString: string(p.doc_string), extraFields: extra)
    }

    func externalData(_ p: Onnx__TensorProto, label: String, byteCount: Int) throws(ONNXError) -> (TensorStorage, Tensor.Encoding) {
        var entries: [String: String] = [:]
        for e in messages(p.n_external_data, p.external_data) {
            if let key = string(e.pointee.key) { entries[key] = string(e.pointee.value) ?? "" }
        }
        func problem(_ reason: String) -> ONNXError { fail(.externalData(tensor: label, reason: reason)) }
        guard let location = entries["location"], !location.isEmpty else { throw problem("no location") }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw problem("location '\(location)' is outside the model's directory")
        }
        guard let directory else { throw problem("the model was not read from a file, so '\(location)' cannot be found") }
        let offset = Int(entries["offset"] ?? "0")
        let length = entries["length"].map { Int($0) }
        guard let offset, offset >= 0, length.map({ $0 != nil && $0! >= 0 }) ?? true else {
            throw problem("offset or length is not a non-negative integer")
        }
        let wanted = length.flatMap { $0 } ?? byteCount
        guard wanted == byteCount else {
            throw problem("length \(wanted) does not match the \(byteCount) bytes its dims need")
        }
        let path = directory + "/" + location
        // Symlinks may not lead out of the model's folder either (onnx and onnxruntime refuse that too).
        guard let base = resolvedPath(directory) else { throw problem("\(directory): \(systemError())") }
        guard let target = resolvedPath(path) else { throw problem("\(path): \(systemError())") }
        guard target.hasPrefix(base == "/" ? "/" : base + "/") else {
            throw problem("location '\(location)' resolves to \(target), outside the model's directory \(base)")
        }
        let data: [UInt8]
        do { data = try FileIO.read(path, offset: offset, length: wanted) } catch {
            throw problem("\(path): \(error.reason)")
        }
        let storage = data.withUnsafeBytes { TensorStorage(copying: $0) }
        return (storage, .external(location: location, offset: offset, length: length.flatMap { $0 }))
    }

    // MARK: protobuf-c access

    func residual<T>(_ message: UnsafeMutablePointer<T>, skip: [UInt32]) -> WireFields {
        var length = 0
        let base = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
        guard let packed = skip.withUnsafeBufferPointer({ onnx_pack_residual(base, $0.baseAddress, $0.count, &length) })
        else { return WireFields() }
        defer { free(packed) }
        return WireFields(Array(UnsafeBufferPointer(start: packed, count: length)))
    }

    func string(_ s: UnsafeMutablePointer<CChar>?) -> String? {
        s.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) }
    }

    func strings(_ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
        UnsafeBufferPointer(start: list, count: count).map { string($0) ?? "" }
    }

    func bytes(_ b: ProtobufCBinaryData) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: b.data, count: b.len))
    }

    func messages<T>(_ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) -> [UnsafeMutablePointer<T>] {
        UnsafeBufferPointer(start: list, count: count).compactMap { $0 }
    }

    func metadata(_ count: Int, _ list: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__StringStringEntryProto>?>?) -> [MetadataEntry] {
        messages(count, list).map {
            MetadataEntry(key: string($0.pointee.key), value: string($0.pointee.value), extraFields: residual($0, skip: [1, 2]))
        }
    }
}
