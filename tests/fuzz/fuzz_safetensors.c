/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_safetensors — libFuzzer target over the safetensors header parser
 * (octo_formats_st_parse on a memory image): any input must either be
 * rejected cleanly or yield views whose every byte lies inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "formats/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    octo_formats_st *st = NULL;
    if (octo_formats_st_parse(data, size, "fuzz", &st, err, sizeof err) != OCTO_OK) {
        OCTO_ASSERT(st == NULL && memchr(err, 0, sizeof err) != NULL);
        return 0;
    }
    unsigned sum = 0;
    for (size_t i = 0; i < octo_formats_st_count(st); i++) {
        octo_formats_tensor t, f;
        OCTO_ASSERT(octo_formats_st_at(st, i, &t) == OCTO_OK);
        OCTO_ASSERT(octo_formats_st_find(st, t.name, &f) == OCTO_OK && f.data == t.data);
        const uint8_t *p = t.data;
        OCTO_ASSERT(!p || (p >= data && p + t.nbytes <= data + size));
        if (p && t.nbytes) sum += p[0] + p[t.nbytes - 1];
        size_t want = 0;
        OCTO_ASSERT(octo_dtype_nbytes(t.dtype, (uint64_t)octo_formats_tensor_numel(&t), &want) ==
                    OCTO_OK);
        OCTO_ASSERT(want == t.nbytes);
    }
    (void)octo_formats_st_metadata(st, "format");
    octo_formats_st_close(st);
    return (int)(sum & 0);
}
