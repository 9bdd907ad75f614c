// Streaming serialization of a protobuf-c message to a file descriptor.
//
// protobuf-c's pack_to_buffer takes a ProtobufCBuffer whose append callback
// cannot carry context from Swift, so this helper owns the callback and a
// write buffer; large raw_data fields are written straight from the caller's
// memory without an intermediate copy of the whole serialized model.
#ifndef QC_PACK_H
#define QC_PACK_H
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/// Serializes `message` to `fd`. Returns the number of bytes written, or -1
/// with errno set if a write failed.
int64_t qc_pack_to_fd(const ProtobufCMessage *message, int fd);

#endif
