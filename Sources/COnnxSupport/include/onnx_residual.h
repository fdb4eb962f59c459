// Lossless carrying of the protobuf fields the Swift IR does not model.
//
// The importer copies the fields it models into Swift values and keeps everything else of a
// message (fields it does not model and fields the schema does not know) as "residual" wire
// bytes. The exporter attaches those bytes again as unknown fields, which protobuf-c writes
// verbatim. Parsing a message made of both parts gives back the original message.
#ifndef ONNX_RESIDUAL_H
#define ONNX_RESIDUAL_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/// Serializes `message` without the fields numbered in `skip`. Returns a malloc'd buffer
/// (free it with free) of *out_len bytes, or NULL when out of memory (or *out_len == 0).
uint8_t *onnx_pack_residual(const ProtobufCMessage *message, const uint32_t *skip,
                            size_t n_skip, size_t *out_len);

/// Splits wire bytes into unknown fields of `message` (whose unknown_fields must be empty).
/// The fields point into `data`, which must outlive every pack of `message`; the array is
/// malloc'd: release it with onnx_detach_residual. Returns 0, or -1 for malformed bytes.
int onnx_attach_residual(ProtobufCMessage *message, const uint8_t *data, size_t len);

/// Frees the array made by onnx_attach_residual and empties unknown_fields.
void onnx_detach_residual(ProtobufCMessage *message);

#endif
