/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_text — small text helpers of the doc module: UTF-8 decode/encode of
 * one code point, the CJK test, HTML escaping, and the joining of a
 * paragraph's lines (English hyphenation undone, CJK without spaces).
 *
 * It is not a Unicode library: the CJK test is a list of ranges and the
 * decoder maps bad bytes to U+FFFD one byte at a time.
 */
#include <string.h>

#include "doc_int.h"

bool doc_cp_is_cjk(uint32_t cp)
{
    return (cp >= 0x2E80 && cp <= 0x2FDF) ||   /* radicals */
           (cp >= 0x3000 && cp <= 0x30FF) ||   /* CJK punctuation, kana */
           (cp >= 0x3100 && cp <= 0x31FF) ||   /* bopomofo, kana ext */
           (cp >= 0x3400 && cp <= 0x4DBF) ||   /* ext A */
           (cp >= 0x4E00 && cp <= 0x9FFF) ||   /* unified */
           (cp >= 0xAC00 && cp <= 0xD7AF) ||   /* hangul */
           (cp >= 0xF900 && cp <= 0xFAFF) ||   /* compatibility */
           (cp >= 0xFE30 && cp <= 0xFE4F) ||   /* compatibility forms */
           (cp >= 0xFF00 && cp <= 0xFFEF) ||   /* full-width forms */
           (cp >= 0x20000 && cp <= 0x2FA1F);   /* ext B.. */
}

int doc_utf8_decode(const char *str, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t c = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *cp = c;
    return n;
}

octo_err doc_buf_put_cp(octo_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else if (cp <= 0x10FFFF) {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    } else {
        return doc_buf_put_cp(b, 0xFFFD);
    }
    return octo_buf_append(b, u, n);
}

octo_err doc_buf_put_html(octo_buf *b, const char *s)
{
    octo_err rc = OCTO_OK;
    for (; *s && !rc; s++) {
        switch (*s) {
        case '<': rc = octo_buf_puts(b, "&lt;"); break;
        case '>': rc = octo_buf_puts(b, "&gt;"); break;
        case '&': rc = octo_buf_puts(b, "&amp;"); break;
        default: rc = octo_buf_append(b, s, 1); break;
        }
    }
    return rc;
}

uint32_t doc_text_first_cp(const char *s)
{
    uint32_t cp = 0;
    if (*s) doc_utf8_decode(s, &cp);
    return cp;
}

uint32_t doc_text_last_cp(const char *s)
{
    size_t n = strlen(s);
    if (!n) return 0;
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    uint32_t cp;
    doc_utf8_decode(s + i, &cp);
    return cp;
}

static bool is_lower_latin(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 0xDF && cp <= 0xFF);
}
static bool is_alpha_latin(uint32_t cp)
{
    return is_lower_latin(cp) || (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE);
}

char *doc_text_join(doc_page *p, int first, int n)
{
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_DOC_OUTPUT_BYTES);
    octo_err rc = OCTO_OK;
    for (int i = first; i < first + n && !rc; i++) {
        const char *t = p->lines[i].text;
        if (b.len) {
            uint32_t last = doc_text_last_cp(b.data), next = doc_text_first_cp(t);
            /* "exam-" + "ple": drop the hyphen when a letter precedes it and a
             * lower-case letter follows. */
            if (last == '-' && b.len >= 2 && is_lower_latin(next)) {
                uint32_t before = doc_text_last_cp((b.data[b.len - 1] = 0, b.data));
                b.data[b.len - 1] = '-';
                if (is_alpha_latin(before)) {
                    b.data[--b.len] = 0;
                    rc = octo_buf_puts(&b, t);
                    continue;
                }
            }
            if (!(doc_cp_is_cjk(last) && doc_cp_is_cjk(next)) && last != ' ')
                rc = octo_buf_append(&b, " ", 1);
        }
        if (!rc) rc = octo_buf_puts(&b, t);
    }
    char *out = rc ? NULL : octo_arena_strdup(p->arena, b.data ? b.data : "");
    octo_buf_deinit(&b);
    return out;
}

void doc_text_letters(const char *t, int *letters, int *other)
{
    *letters = *other = 0;
    while (*t) {
        uint32_t cp;
        t += doc_utf8_decode(t, &cp);
        if (cp == ' ') continue;
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || doc_cp_is_cjk(cp))
            (*letters)++;
        else
            (*other)++;
    }
}
