/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_jpeg — encodes a rendered crop to JPEG in memory with libjpeg (the
 * library MuPDF already links; MuPDF 1.21 has no JPEG writer of its own).
 * libjpeg reports errors by calling error_exit, which would end the
 * process: ours jumps back and returns an error instead.
 *
 * It only encodes; decoding is MuPDF's.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "doc_int.h"

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    unsigned char *mem;    /* libjpeg's output buffer (malloc) */
    unsigned long mem_len;
} jerr;

static void on_error(j_common_ptr c)
{
    jerr *e = (jerr *)c->err;
    longjmp(e->jb, 1);
}

static void on_message(j_common_ptr c) { (void)c; }

octo_err doc_jpeg_encode(const unsigned char *px, int w, int h, int n, int stride, int quality,
                         unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (w <= 0 || h <= 0 || (n != 1 && n != 3)) return OCTO_E_INVALID;
    struct jpeg_compress_struct c;
    jerr e;
    memset(&c, 0, sizeof c);
    memset(&e, 0, sizeof e);
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = on_error;
    e.mgr.output_message = on_message;
    if (setjmp(e.jb)) {
        jpeg_destroy_compress(&c);
        free(e.mem);
        return OCTO_E_INTERNAL;
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &e.mem, &e.mem_len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = n;
    c.in_color_space = n == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)stride);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    /* Copy into the counting allocator so that the caller frees with octo_free. */
    *out = octo_malloc(e.mem_len ? e.mem_len : 1);
    if (*out) memcpy(*out, e.mem, e.mem_len);
    free(e.mem);
    if (!*out) return OCTO_E_NOMEM;
    *out_len = e.mem_len;
    return OCTO_OK;
}
