/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_rag — random bytes through the knowledge layer's parsers: the first
 * byte picks the extractor (CSV, HTML, text) or the process-rule reader,
 * then the text goes through cleaning (both rules), index tokens, the FTS
 * query builder, keywords and the splitter. Asserted, aborting on failure:
 * a failed extraction has a message; cleaning valid UTF-8 gives valid UTF-8;
 * every chunk is non-empty and within max_tokens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rag/rag_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t opt = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char *buf = malloc(n + 1);
    if (!buf) return 0;
    memcpy(buf, in, n);
    buf[n] = '\0';
    static const char *const names[] = {"a.csv", "a.html", "a.txt", "a.md"};
    char err[256] = "";
    char *text = NULL;
    size_t len = 0;
    if ((opt & 7) == 7) { /* the rules reader */
        json_t *j = json_loadb(buf, n, 0, NULL);
        rag_rules r;
        octo_rag_status st;
        if (j && !rag_rules_read(j, &r, &st) && !st.message[0]) abort();
        json_decref(j);
        free(buf);
        return 0;
    }
    octo_err rc = rag_extract(names[opt & 3], buf, n, &text, &len, err, sizeof err);
    if (rc && !err[0]) abort();
    const char *t = rc ? buf : text;
    size_t tl = rc ? n : len;
    rag_rules rules = {.remove_extra_spaces = (opt & 8) != 0, .remove_urls_emails = (opt & 16) != 0,
                       .separator = "\n", .max_tokens = 50 + (opt >> 5) * 20, .overlap = opt >> 6};
    size_t cl = 0;
    char *c = rag_clean(t, tl, &rules, &cl);
    if (c && octo_utf8_valid(t, tl, NULL) && !octo_utf8_valid(c, cl, NULL)) abort();
    octo_buf b;
    octo_buf_init(&b, 1u << 24);
    if (c) {
        if (rag_tokens(c, cl, &b) != OCTO_OK) abort();
        octo_buf_clear(&b);
        if (rag_fts_query(c, cl, &b) != OCTO_OK) abort();
        json_decref(rag_keywords(c, cl, 10));
        rag_chunks ch;
        if (rag_split(NULL, c, cl, &rules, &ch) == OCTO_OK) {
            for (size_t i = 0; i < ch.n; i++) {
                size_t k = strlen(ch.text[i]);
                if (k == 0 || rag_count_tokens(NULL, ch.text[i], k) > (size_t)rules.max_tokens)
                    abort();
            }
            rag_chunks_free(&ch);
        }
    }
    octo_buf_deinit(&b);
    octo_free(c);
    octo_free(text);
    free(buf);
    return 0;
}
