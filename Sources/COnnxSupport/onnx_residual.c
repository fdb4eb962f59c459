#include "onnx_residual.h"

#include <stdlib.h>
#include <string.h>

static void clear_field(uint8_t *copy, const ProtobufCFieldDescriptor *field) {
    void *member = copy + field->offset;
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        *(size_t *)(copy + field->quantifier_offset) = 0;
        *(void **)member = NULL;
        return;
    }
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *oneof_case = (uint32_t *)(copy + field->quantifier_offset);
        if (*oneof_case == field->id) *oneof_case = 0;
        return;
    }
    switch (field->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        *(void **)member = NULL;  // proto2 optional strings and messages have no has_ flag
        break;
    default:
        if (field->quantifier_offset != 0)
            *(protobuf_c_boolean *)(copy + field->quantifier_offset) = 0;
        break;
    }
}

uint8_t *onnx_pack_residual(const ProtobufCMessage *message, const uint32_t *skip,
                            size_t n_skip, size_t *out_len) {
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    *out_len = 0;
    // A shallow copy: clearing fields in it leaves the unpacked message (and its ownership) intact.
    uint8_t *copy = malloc(desc->sizeof_message);
    if (copy == NULL) return NULL;
    memcpy(copy, message, desc->sizeof_message);
    for (size_t i = 0; i < n_skip; i++) {
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field(desc, skip[i]);
        if (field != NULL) clear_field(copy, field);
    }
    size_t size = protobuf_c_message_get_packed_size((const ProtobufCMessage *)copy);
    uint8_t *out = NULL;
    if (size > 0) {
        out = malloc(size);
        if (out != NULL) *out_len = protobuf_c_message_pack((const ProtobufCMessage *)copy, out);
    }
    free(copy);
    return out;
}

/// Reads a base-128 varint at data[*pos]; returns 0 on success.
static int read_varint(const uint8_t *data, size_t len, size_t *pos, uint64_t *value) {
    uint64_t result = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= len) return -1;
        uint8_t byte = data[(*pos)++];
        if (shift < 64) result |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            *value = result;
            return 0;
        }
    }
    return -1;
}

int onnx_attach_residual(ProtobufCMessage *message, const uint8_t *data, size_t len) {
    size_t count = 0, capacity = 0, pos = 0;
    ProtobufCMessageUnknownField *fields = NULL;
    while (pos < len) {
        uint64_t key, value;
        if (read_varint(data, len, &pos, &key) != 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
            goto malformed;
        size_t start = pos;
        ProtobufCWireType wire = (ProtobufCWireType)(key & 7);
        switch (wire) {
        case PROTOBUF_C_WIRE_TYPE_VARINT:
            if (read_varint(data, len, &pos, &value) != 0) goto malformed;
            break;
        case PROTOBUF_C_WIRE_TYPE_64BIT:
            if (len - pos < 8) goto malformed;
            pos += 8;
            break;
        case PROTOBUF_C_WIRE_TYPE_32BIT:
            if (len - pos < 4) goto malformed;
            pos += 4;
            break;
        case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
            if (read_varint(data, len, &pos, &value) != 0 || value > len - pos) goto malformed;
            pos += (size_t)value;
            break;
        default:
            goto malformed;
        }
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 8;
            ProtobufCMessageUnknownField *grown = realloc(fields, capacity * sizeof *fields);
            if (grown == NULL) goto malformed;
            fields = grown;
        }
        fields[count].tag = (uint32_t)(key >> 3);
        fields[count].wire_type = wire;
        fields[count].len = pos - start;
        fields[count].data = (uint8_t *)(data + start);
        count++;
    }
    message->n_unknown_fields = (unsigned)count;
    message->unknown_fields = fields;
    return 0;
malformed:
    free(fields);
    return -1;
}

void onnx_detach_residual(ProtobufCMessage *message) {
    free(message->unknown_fields);
    message->unknown_fields = NULL;
    message->n_unknown_fields = 0;
}
