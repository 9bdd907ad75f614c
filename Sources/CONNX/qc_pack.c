#include "qc_pack.h"
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

enum { QC_CHUNK = 1 << 20 };

typedef struct {
    ProtobufCBuffer base;   // must be first: protobuf-c calls base.append
    int fd;
    int failed;
    int64_t written;
    size_t used;
    uint8_t data[QC_CHUNK];
} FdBuffer;

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void flush(FdBuffer *b) {
    if (b->used > 0 && !b->failed) {
        if (write_all(b->fd, b->data, b->used) != 0) b->failed = errno ? errno : EIO;
    }
    b->used = 0;
}

static void fd_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data) {
    FdBuffer *b = (FdBuffer *)buffer;
    if (b->failed) return;
    b->written += (int64_t)len;
    if (len >= QC_CHUNK / 2) {  // big payloads (tensor bytes) bypass the buffer
        flush(b);
        if (!b->failed && write_all(b->fd, data, len) != 0) b->failed = errno ? errno : EIO;
        return;
    }
    if (b->used + len > QC_CHUNK) flush(b);
    memcpy(b->data + b->used, data, len);
    b->used += len;
}

int64_t qc_pack_to_fd(const ProtobufCMessage *message, int fd) {
    static __thread FdBuffer *buffer;  // 1 MiB; kept per thread, reused
    if (!buffer) {
        buffer = malloc(sizeof(FdBuffer));
        if (!buffer) { errno = ENOMEM; return -1; }
    }
    buffer->base.append = fd_append;
    buffer->fd = fd;
    buffer->failed = 0;
    buffer->written = 0;
    buffer->used = 0;
    protobuf_c_message_pack_to_buffer(message, &buffer->base);
    flush(buffer);
    if (buffer->failed) { errno = buffer->failed; return -1; }
    return buffer->written;
}
