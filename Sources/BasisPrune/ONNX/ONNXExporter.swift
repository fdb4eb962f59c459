internal import COnnxProto
internal import COnnxSupport
internal import CProtobufC

#if canImport(Glibc)
    import Glibc
#endif

/// Writes the IR as ONNX bytes. Field order is protobuf-c's (by field number, then the carried
/// `WireFields`), so equal models give equal bytes. Tensors read from external data are
/// written inline as `raw_data`.
public enum ONNXExporter {
    /// The serialized model.
    public static func encode(_ model: Model) -> [UInt8] {
        let arena = Arena()
        let message = arena.model(model.conformingToItsVersions())
        return message.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { base in
            let size = protobuf_c_message_get_packed_size(base)
            var bytes = [UInt8](repeating: 0, count: size)
            let written = bytes.withUnsafeMutableBufferPointer { protobuf_c_message_pack(base, $0.baseAddress) }
            precondition(written == size, "protobuf-c packed \(written) of \(size) bytes")
            return bytes
        }
    }

    /// Writes the model to `path` atomically: a temporary file beside it, then a rename.
    public static func write(_ model: Model, to path: String) throws(ONNXError) {
        do { try AtomicFile.write(encode(model), to: path) } catch {
            throw ONNXError(file: path, .writeFailed(reason: error.reason))
        }
    }
}

/// C memory for one export: every string, array and message is freed with the arena.
private final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var withResidual: [UnsafeMutablePointer<ProtobufCMessage>] = []
    private var storages: [TensorStorage] = []

    deinit {
        for message in withResidual { onnx_detach_residual(message) }
        for block in blocks { free(block) }
    }

    func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let block = calloc(max(count, 1), MemoryLayout<T>.stride)!
        blocks.append(block)
        return block.bindMemory(to: T.self, capacity: max(count, 1))
    }

    func string(_ s: String?) -> UnsafeMutablePointer<CChar>? {
        guard let s else { return nil }
        let utf8 = Array(s.utf8)
        let out = allocate(CChar.self, count: utf8.count + 1)
        for (i, c) in utf8.enumerated() { out[i] = CChar(bitPattern: c) }
        return out
    }

    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let out = allocate(T.self, count: values.count)
        out.initialize(from: values, count: values.count)
        return out
    }

    func bytes(_ b: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: b.count, data: array(b))
    }

    /// Attaches carried fields; `message` must be a protobuf-c message allocated by this arena.
    func attach<T>(_ extra: WireFields, to message: UnsafeMutablePointer<T>) {
        guard !extra.isEmpty, let data = array(extra.bytes) else { return }
        let base = UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
        let status = onnx_attach_residual(base, data, extra.bytes.count)
        precondition(status == 0, "carried protobuf fields are malformed")
        withResidual.append(base)
    }

    func list<T>(_ values: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        array(values.map { Optional($0) })
    }

    func strings(_ values: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        array(values.map { string($0) })
    }

    // MARK: messages

    func model(_ m: Model) -> UnsafeMutablePointer<Onnx__ModelProto> {
        let p = allocate(Onnx__ModelProto.self, count: 1)
        onnx__model_proto__init(p)
        p.pointee.has_ir_version = 1
        p.pointee.ir_version = m.irVersion
        let opsets = m.opsetImports.map { o -> UnsafeMutablePointer<Onnx__OperatorSetIdProto> in
            let q = allocate(Onnx__OperatorSetIdProto.self, count: 1)
            onnx__operator_set_id_proto__init(q)
            q.pointee.domain = string(o.domain)
            q.pointee.has_version = 1
            q.pointee.version = o.version
            attach(o.extraFields, to: q)
            return q
        }
        p.pointee.n_opset_import = opsets.count
        p.pointee.opset_import = list(opsets)
        p.pointee.producer_name = string(m.producerName)
        p.pointee.producer_version = string(m.producerVersion)
        p.pointee.domain = string(m.domain)
        if let v = m.modelVersion {
            p.pointee.has_model_version = 1
            p.pointee.model_version = v
        }
        p.pointee.doc_string = string(m.docString)
        p.pointee.graph = graph(m.graph)
        let props = metadata(m.metadataProps)
        p.pointee.n_metadata_props = props.count
        p.pointee.metadata_props = list(props)
        attach(m.extraFields, to: p)
        return p
    }

    func metadata(_ entries: [MetadataEntry]) -> [UnsafeMutablePointer<Onnx__StringStringEntryProto>] {
        entries.map { e in
            let q = allocate(Onnx__StringStringEntryProto.self, count: 1)
            onnx__string_string_entry_proto__init(q)
            q.pointee.key = string(e.key)
            q.pointee.value = string(e.value)
            attach(e.extraFields, to: q)
            return q
        }
    }

    func graph(_ g: Graph) -> UnsafeMutablePointer<Onnx__GraphProto> {
        let p = allocate(Onnx__GraphProto.self, count: 1)
        onnx__graph_proto__init(p)
        let nodes = g.nodes.map(node)
        p.pointee.n_node = nodes.count
        p.pointee.node = list(nodes)
        p.pointee.name = string(g.name)
        let initializers = g.initializers.map(tensor)
        p.pointee.n_initializer = initializers.count
        p.pointee.initializer = list(initializers)
        p.pointee.doc_string = string(g.docString)
        let inputs = g.inputs.map(valueInfo), outputs = g.outputs.map(valueInfo), infos = g.valueInfo.map(valueInfo)
        p.pointee.n_input = inputs.count
        p.pointee.input = list(inputs)
        p.pointee.n_output = outputs.count
        p.pointee.output = list(outputs)
        p.pointee.n_value_info = infos.count
        p.pointee.value_info = list(infos)
        attach(g.extraFields, to: p)
        return p
    }

    func node(_ n: Node) -> UnsafeMutablePointer<Onnx__NodeProto> {
        let p = allocate(Onnx__NodeProto.self, count: 1)
        onnx__node_proto__init(p)
        p.pointee.n_input = n.inputs.count
        p.pointee.input = strings(n.inputs)
        p.pointee.n_output = n.outputs.count
        p.pointee.output = strings(n.outputs)
        p.pointee.name = string(n.name)
        p.pointee.op_type = string(n.opType)
        let attributes = n.attributes.map(attribute)
        p.pointee.n_attribute = attributes.count
        p.pointee.attribute = list(attributes)
        p.pointee.doc_string = string(n.docString)
        p.pointee.domain = string(n.domain)
        attach(n.extraFields, to: p)
        return p
    }

    func attribute(_ a: Attribute) -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let p = allocate(Onnx__AttributeProto.self, count: 1)
        onnx__attribute_proto__init(p)
        p.pointee.name = string(a.name)
        p.pointee.ref_attr_name = string(a.refAttrName)
        p.pointee.doc_string = string(a.docString)
        if a.typeCode != 0 {
            p.pointee.has_type = 1
            p.pointee.type = Onnx__AttributeProto__AttributeType(rawValue: UInt32(a.typeCode))
        }
        switch a.value {
        case .float(let f):
            p.pointee.has_f = 1
            p.pointee.f = f
        case .int(let i):
            p.pointee.has_i = 1
            p.pointee.i = i
        case .string(let s):
            p.pointee.has_s = 1
            p.pointee.s = bytes(s)
        case .tensor(let t): p.pointee.t = tensor(t)
        case .graph(let g): p.pointee.g = graph(g)
        case .floats(let v):
            p.pointee.n_floats = v.count
            p.pointee.floats = array(v)
        case .ints(let v):
            p.pointee.n_ints = v.count
            p.pointee.ints = array(v)
        case .strings(let v):
            p.pointee.n_strings = v.count
            p.pointee.strings = array(v.map(bytes))
        case .tensors(let v):
            p.pointee.n_tensors = v.count
            p.pointee.tensors = list(v.map(tensor))
        case .graphs(let v):
            p.pointee.n_graphs = v.count
            p.pointee.graphs = list(v.map(graph))
        case .opaque, .reference: break
        }
        attach(a.extraFields, to: p)
        return p
    }

    func valueInfo(_ v: ValueInfo) -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        let p = allocate(Onnx__ValueInfoProto.self, count: 1)
        onnx__value_info_proto__init(p)
        p.pointee.name = string(v.name)
        p.pointee.doc_string = string(v.docString)
        if let type = v.type { p.pointee.type = typeInfo(type) }
        attach(v.extraFields, to: p)
        return p
    }

    func typeInfo(_ t: TypeInfo) -> UnsafeMutablePointer<Onnx__TypeProto> {
        let p = allocate(Onnx__TypeProto.self, count: 1)
        onnx__type_proto__init(p)
        p.pointee.denotation = string(t.denotation)
        if let tt = t.tensor {
            let q = allocate(Onnx__TypeProto__Tensor.self, count: 1)
            onnx__type_proto__tensor__init(q)
            if let elem = tt.elementType {
                q.pointee.has_elem_type = 1
                q.pointee.elem_type = elem
            }
            if let shape = tt.shape {
                let s = allocate(Onnx__TensorShapeProto.self, count: 1)
                onnx__tensor_shape_proto__init(s)
                let dims = shape.map { d -> UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension> in
                    let dp = allocate(Onnx__TensorShapeProto__Dimension.self, count: 1)
                    onnx__tensor_shape_proto__dimension__init(dp)
                    switch d.value {
                    case .known(let v):
                        dp.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                        dp.pointee.dim_value = v
                    case .symbolic(let name):
                        dp.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                        dp.pointee.dim_param = string(name)
                    case .unknown: break
                    }
                    dp.pointee.denotation = string(d.denotation)
                    attach(d.extraFields, to: dp)
                    return dp
                }
                s.pointee.n_dim = dims.count
                s.pointee.dim = list(dims)
                attach(tt.shapeExtraFields, to: s)
                q.pointee.shape = s
            }
            attach(tt.extraFields, to: q)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
            p.pointee.tensor_type = q
        }
        attach(t.extraFields, to: p)
        return p
    }

    func tensor(_ t: Tensor) -> UnsafeMutablePointer<Onnx__TensorProto> {
        let p = allocate(Onnx__TensorProto.self, count: 1)
        onnx__tensor_proto__init(p)
        p.pointee.n_dims = t.dims.count
        p.pointee.dims = array(t.dims.map { Int64($0) })
        p.pointee.has_data_type = 1
        p.pointee.data_type = t.dataType.rawValue
        p.pointee.name = string(t.name)
        p.pointee.doc_string = string(t.docString)
        if t.dataType == .string {
            p.pointee.n_string_data = t.strings.count
            p.pointee.string_data = array(t.strings.map(bytes))
        } else if t.encoding == .typed {
            switch TypedFields.encode(t) {
            case .float(let v):
                p.pointee.n_float_data = v.count
                p.pointee.float_data = array(v)
            case .double(let v):
                p.pointee.n_double_data = v.count
                p.pointee.double_data = array(v)
            case .int32(let v):
                p.pointee.n_int32_data = v.count
                p.pointee.int32_data = array(v)
            case .int64(let v):
                p.pointee.n_int64_data = v.count
                p.pointee.int64_data = array(v)
            case .uint64(let v):
                p.pointee.n_uint64_data = v.count
                p.pointee.uint64_data = array(v)
            }
        } else {
            // The storage outlives the pack: the arena keeps a reference.
            storages.append(t.storage)
            p.pointee.has_raw_data = 1
            p.pointee.raw_data = t.storage.withUnsafeBytes { raw in
                ProtobufCBinaryData(len: raw.count, data: UnsafeMutablePointer(mutating: raw.bindMemory(to: UInt8.self).baseAddress))
            }
        }
        attach(t.extraFields, to: p)
        return p
    }
}
