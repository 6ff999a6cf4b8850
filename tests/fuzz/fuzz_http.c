/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http — libFuzzer target over the request-head parser and the
 * chunked decoder (http_parse.c). Besides crashes and sanitizer reports it
 * checks one property: a body decodes to the same bytes, status and
 * consumed length whether it arrives at once or byte by byte (the event
 * loop feeds whatever recv returned).
 */
#include "http/http_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t end = octo_http_head_end(p, size);
    if (end) {
        http_head h;
        const char *why;
        if (octo_http_head_parse(p, end, &h, &why) == 0) {
            (void)octo_http_head_get(&h, "Content-Length");
        }
        octo_http_head_deinit(&h);
    }
    const char *b = p + end;
    size_t n = size - end;
    octo_buf one, many;
    octo_buf_init(&one, 1u << 16);
    octo_buf_init(&many, 1u << 16);
    http_chunked c1 = {0}, c2 = {0};
    size_t used1 = 0;
    int rc1 = octo_http_chunked_feed(&c1, b, n, &used1, &one);
    size_t used2 = 0;
    int rc2 = 0;
    for (size_t i = 0; i < n && rc2 == 0; i++) {
        size_t u = 0;
        rc2 = octo_http_chunked_feed(&c2, b + i, 1, &u, &many);
        if (rc2 >= 0) used2 += u;
    }
    if (rc1 != rc2) abort();
    if (rc1 >= 0 && (one.len != many.len || (one.len && memcmp(one.data, many.data, one.len))))
        abort();
    if (rc1 == 1 && used1 != used2) abort();
    octo_buf_deinit(&one);
    octo_buf_deinit(&many);
    return 0;
}
