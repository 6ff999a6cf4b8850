/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base — the foundation every other module stands on: the one error enum,
 * logging, the counting allocator front door, arenas, bounded byte buffers,
 * UTF-8 checks and a thread-safe bounded queue.
 *
 * It deliberately knows nothing of tensors, models, HTTP or JSON documents;
 * it depends on libc and pthreads only.
 */
#ifndef OCTO_BASE_H
#define OCTO_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define OCTO_VERSION "0.1.0"

#define OCTO_WUR __attribute__((warn_unused_result))
#define OCTO_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ==== errors ==== */

typedef enum octo_err {
    OCTO_OK = 0,
    OCTO_E_NOMEM = -1,       /* allocation failed */
    OCTO_E_TOO_LARGE = -2,   /* a named limit was exceeded (HTTP 413) */
    OCTO_E_PARSE = -3,       /* malformed input (HTTP 400) */
    OCTO_E_IO = -4,          /* file or socket error */
    OCTO_E_UNSUPPORTED = -5, /* valid but not implemented */
    OCTO_E_CUDA = -6,        /* CUDA runtime or driver error */
    OCTO_E_TIMEOUT = -7,
    OCTO_E_CANCELLED = -8,
    OCTO_E_NOT_FOUND = -9,   /* unknown model, route, file (HTTP 404) */
    OCTO_E_INVALID = -10,    /* well-formed but invalid value (HTTP 400) */
    OCTO_E_AUTH = -11,       /* missing or wrong credentials (HTTP 401) */
    OCTO_E_BUSY = -12,       /* overloaded, try later (HTTP 429/503) */
    OCTO_E_CLOSED = -13,     /* queue or stream closed */
    OCTO_E_INTERNAL = -14,   /* broken invariant reported, not aborted */
} octo_err;

/* Returns a static, human-readable name for an error code. */
const char *octo_err_str(octo_err e);

/* Always-on invariant check: prints file:line and aborts. */
#define OCTO_ASSERT(cond)                                                   \
    do {                                                                    \
        if (!(cond)) octo_assert_fail(#cond, __FILE__, __LINE__, __func__); \
    } while (0)
_Noreturn void octo_assert_fail(const char *what, const char *file, int line,
                                const char *func);

/* ==== logging ==== */

typedef enum octo_log_level {
    OCTO_LOG_LEVEL_DEBUG = 0,
    OCTO_LOG_LEVEL_INFO = 1,
    OCTO_LOG_LEVEL_WARN = 2,
    OCTO_LOG_LEVEL_ERROR = 3,
    OCTO_LOG_LEVEL_OFF = 4,
} octo_log_level;

/* Sets the minimum level written to stderr (default INFO). */
void octo_log_set_level(octo_log_level lvl);
octo_log_level octo_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off". Returns OCTO_E_INVALID on
 * an unknown name. */
octo_err octo_log_level_parse(const char *s, octo_log_level *lvl /* OUT */) OCTO_WUR;
/* Sets the request id printed with each log line of this thread (NULL
 * clears it). The string is copied. */
void octo_log_set_request_id(const char *id);
void octo_log_write(octo_log_level lvl, const char *func, const char *fmt, ...)
    OCTO_PRINTF(3, 4);

#define OCTO_LOG_DEBUG(...) octo_log_write(OCTO_LOG_LEVEL_DEBUG, __func__, __VA_ARGS__)
#define OCTO_LOG_INFO(...) octo_log_write(OCTO_LOG_LEVEL_INFO, __func__, __VA_ARGS__)
#define OCTO_LOG_WARN(...) octo_log_write(OCTO_LOG_LEVEL_WARN, __func__, __VA_ARGS__)
#define OCTO_LOG_ERROR(...) octo_log_write(OCTO_LOG_LEVEL_ERROR, __func__, __VA_ARGS__)

/* ==== allocator front door ==== */

/* All module allocations go through these. They count live bytes (exported
 * on /metrics), can be told to fail for tests, and poison freed memory in
 * debug builds. octo_free(NULL) is a no-op. */
void *octo_malloc(size_t n);
void *octo_calloc(size_t count, size_t size);
void *octo_realloc(void *p, size_t n);
void octo_free(void *p);
char *octo_strdup(const char *s);
char *octo_strndup(const char *s, size_t n);
/* Live bytes allocated through the front door. */
size_t octo_alloc_live_bytes(void);
/* Device (GPU) memory: the CUDA backend reports every cudaMalloc (+bytes)
 * and cudaFree (-bytes) of its own here, so that /metrics and the engine
 * can show what octo allocated on the GPU (not the CUDA context, not
 * cuBLAS-internal memory). Live and peak bytes over all devices. */
void octo_alloc_device_note(long long delta);
size_t octo_alloc_device_live_bytes(void);
size_t octo_alloc_device_peak_bytes(void);
/* Test hook: the n-th allocation from now fails (0 disables). */
void octo_alloc_fail_after(long n);

/* ==== arena ==== */

typedef struct octo_arena octo_arena;

/* A bump allocator of chunks; never grows past `max_bytes` in total.
 * Returns NULL on allocation failure. */
octo_arena *octo_arena_new(size_t chunk_bytes, size_t max_bytes);
void octo_arena_free(octo_arena *a);
/* Returns 16-byte aligned zeroed memory owned by the arena, or NULL when
 * out of memory or over the arena's maximum. */
void *octo_arena_alloc(octo_arena *a, size_t n);
char *octo_arena_strdup(octo_arena *a, const char *s);
/* Releases everything allocated, keeping the first chunk for reuse. */
void octo_arena_reset(octo_arena *a);
size_t octo_arena_used(const octo_arena *a);

/* ==== bounded byte buffer ==== */

/* Caller-owned storage; _init/_deinit. Growth beyond `max` fails with
 * OCTO_E_TOO_LARGE. The content is always NUL-terminated. */
typedef struct octo_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} octo_buf;

void octo_buf_init(octo_buf *b, size_t max);
void octo_buf_deinit(octo_buf *b);
octo_err octo_buf_append(octo_buf *b, const void *p, size_t n) OCTO_WUR;
octo_err octo_buf_puts(octo_buf *b, const char *s) OCTO_WUR;
octo_err octo_buf_printf(octo_buf *b, const char *fmt, ...) OCTO_WUR OCTO_PRINTF(2, 3);
/* Hands the data to the caller (free with octo_free); leaves b empty. */
char *octo_buf_take(octo_buf *b);
void octo_buf_clear(octo_buf *b);

/* ==== strings and UTF-8 ==== */

/* Copies at most dst_size-1 bytes and always NUL-terminates; returns the
 * length of src (truncation when >= dst_size). */
size_t octo_strlcpy(char *dst, const char *src, size_t dst_size);
/* Strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF). On
 * failure *bad_offset (may be NULL) gets the byte offset of the first bad
 * sequence. */
bool octo_utf8_valid(const char *s, size_t n, size_t *bad_offset /* OUT */);
/* The code point starting p[0..n) (n >= 1) and its length in bytes,
 * lenient: a sequence cut short or broken, or a stray continuation byte,
 * gives that one byte's value with length 1; surrogates and overlongs are
 * decoded as written (WTF-8). n == 0: 0, length 0. */
size_t octo_utf8_next(const char *p, size_t n, uint32_t *cp /* OUT */);
/* Appends s[0..n) as a JSON string, quotes included, as Python's
 * json.dumps writes it: \" \\ \n \r \t \b \f, other controls as \u00XX;
 * with ascii everything past '~' as \uXXXX (astral code points as a
 * surrogate pair). Surrogates and bytes that are not UTF-8 are always
 * written as \uXXXX (their code point, or the byte's value) so that the
 * output stays valid UTF-8. */
octo_err octo_json_quote(octo_buf *b, const char *s, size_t n, bool ascii) OCTO_WUR;
/* Parses a whole decimal integer string within [lo, hi]. */
octo_err octo_parse_long(const char *s, long lo, long hi, long *out /* OUT */) OCTO_WUR;
/* Parses a whole floating point string within [lo, hi]. */
octo_err octo_parse_double(const char *s, double lo, double hi, double *out /* OUT */) OCTO_WUR;
/* Reads a whole file, at most max_bytes, NUL-terminated. */
octo_err octo_file_read(const char *path, size_t max_bytes, char **data /* OUT */,
                        size_t *len /* OUT, may be NULL */) OCTO_WUR;
/* Monotonic clock in seconds. */
double octo_now(void);
/* Wall clock, seconds since the epoch. */
int64_t octo_unix_time(void);
/* Fills out with `n` random hex characters (n+1 bytes of storage). */
void octo_random_hex(char *out, size_t n);

/* ==== thread-safe bounded queue ==== */

typedef struct octo_queue octo_queue;

/* A FIFO of pointers with a fixed capacity. */
octo_queue *octo_queue_new(size_t capacity);
/* Frees the queue (not the items). */
void octo_queue_free(octo_queue *q);
/* Non-blocking push: OCTO_E_BUSY when full, OCTO_E_CLOSED when closed. */
octo_err octo_queue_push(octo_queue *q, void *item) OCTO_WUR;
/* Waits up to timeout_s (<0: forever) for an item. OCTO_E_TIMEOUT on
 * time-out, OCTO_E_CLOSED when closed and drained. */
octo_err octo_queue_pop(octo_queue *q, double timeout_s, void **item /* OUT */) OCTO_WUR;
/* Wakes every waiter; later pushes fail; pops drain what is left. */
void octo_queue_close(octo_queue *q);
size_t octo_queue_len(octo_queue *q);

#endif /* OCTO_BASE_H */
