/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the byte-level BPE tokenizer that need no oracle run:
 * the streaming detokeniser (characters split across tokens, invalid
 * bytes), tokenizer.json error paths, added-token matching, UTF-8 input
 * checks, allocation failures, and concurrent encodes on the real Qwen
 * vocabulary (same ids from 4 threads as from one). Id equality with HF
 * itself is proven by test_tokenizer_hf.py.
 */
#include "base/base.h"
#include "octo_test.h"
#include "tokenizer/tokenizer.h"

#include <pthread.h>

/* ==== a tiny vocabulary: the 256 byte-level symbols + a few merges ==== */

static char g_bytes[256][3];

static void byte_strings(void)
{
    for (int b = 0; b < 256; b++) octo_text_byte_symbol((unsigned char)b, g_bytes[b]);
}

/* ids 0..255: bytes; 256 "ab", 257 "abc", 258 "<|end|>" (CONTROL),
 * 259 "<x>" (USER_DEFINED), 260 "<xy>" (USER_DEFINED), 261 "[PAD261]" */
static octo_text_tokenizer *tiny(void)
{
    byte_strings();
    const char *tokens[262];
    int32_t types[262];
    for (int i = 0; i < 256; i++) {
        tokens[i] = g_bytes[i];
        types[i] = OCTO_TEXT_TOKEN_NORMAL;
    }
    tokens[256] = "ab";
    tokens[257] = "abc";
    tokens[258] = "<|end|>";
    tokens[259] = "<x>";
    tokens[260] = "<xy>";
    tokens[261] = "[PAD261]";
    types[256] = types[257] = OCTO_TEXT_TOKEN_NORMAL;
    types[258] = OCTO_TEXT_TOKEN_CONTROL;
    types[259] = types[260] = OCTO_TEXT_TOKEN_USER_DEFINED;
    types[261] = OCTO_TEXT_TOKEN_UNUSED;
    const char *merges[] = {"a b", "ab c"};
    octo_text_tokenizer_vocab v = {.n_tokens = 262, .tokens = tokens, .token_types = types,
                                   .n_merges = 2, .merges = merges, .pre = "qwen2",
                                   .bos_id = -1, .eos_id = 258, .add_eos = true};
    char err[256];
    octo_text_tokenizer *tok = octo_text_tokenizer_new_from_vocab(&v, err, sizeof err);
    if (!tok) fprintf(stderr, "tiny: %s\n", err);
    return tok;
}

static size_t encode(const octo_text_tokenizer *tok, const char *s, bool special, int32_t *out,
                     size_t max)
{
    int32_t *ids = NULL;
    size_t n = 0;
    octo_err rc = octo_text_tokenizer_encode(tok, s, strlen(s), special, &ids, &n, NULL);
    CHECK_EQ_INT(rc, OCTO_OK);
    for (size_t i = 0; i < n && i < max; i++) out[i] = ids[i];
    octo_free(ids);
    return n;
}

static void test_tiny_merges_and_added(void)
{
    octo_text_tokenizer *tok = tiny();
    CHECK(tok != NULL);
    if (!tok) return;
    int32_t ids[32];
    size_t n = encode(tok, "abc", false, ids, 32);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ids[0], 257);
    n = encode(tok, "abab", false, ids, 32); /* one pre-token "abab" -> ab ab */
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ids[0], 256);
    CHECK_EQ_INT(ids[1], 256);
    /* leftmost-longest added tokens: "<xy>" beats "<x>", inside words too */
    n = encode(tok, "q<xy>z<x>y<|end|>", false, ids, 32);
    CHECK_EQ_INT(n, 6);
    CHECK_EQ_INT(ids[0], 'q');
    CHECK_EQ_INT(ids[1], 260);
    CHECK_EQ_INT(ids[2], 'z');
    CHECK_EQ_INT(ids[3], 259);
    CHECK_EQ_INT(ids[4], 'y');
    CHECK_EQ_INT(ids[5], 258);
    /* a partial added token is plain text */
    n = encode(tok, "<x", false, ids, 32);
    CHECK_EQ_INT(n, 2);
    /* add_special appends EOS */
    n = encode(tok, "ab", true, ids, 32);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ids[0], 256);
    CHECK_EQ_INT(ids[1], 258);
    CHECK(octo_text_tokenizer_is_special(tok, 258));
    CHECK(!octo_text_tokenizer_is_special(tok, 259));
    CHECK(octo_text_tokenizer_is_added(tok, 259));
    CHECK_EQ_INT(octo_text_tokenizer_token_id(tok, "abc"), 257);
    CHECK_EQ_INT(octo_text_tokenizer_token_id(tok, "<|end|>"), 258);
    CHECK_EQ_INT(octo_text_tokenizer_token_id(tok, "nope"), -1);
    CHECK_EQ_STR(octo_text_tokenizer_token_str(tok, 256), "ab");
    CHECK(octo_text_tokenizer_token_str(tok, 9999) == NULL);
    CHECK_EQ_INT(octo_text_tokenizer_vocab_size(tok), 262);
    octo_text_tokenizer_free(tok);
    octo_text_tokenizer_free(NULL);
}

static void test_decode_skip_special(void)
{
    octo_text_tokenizer *tok = tiny();
    if (!tok) return;
    int32_t ids[] = {256, 258, 259, 'c', -5, 100000};
    octo_buf b;
    octo_buf_init(&b, 1024);
    CHECK(octo_text_tokenizer_decode(tok, ids, 6, false, &b) == OCTO_OK);
    CHECK_EQ_STR(b.data, "ab<|end|><x>c");
    octo_buf_clear(&b);
    CHECK(octo_text_tokenizer_decode(tok, ids, 6, true, &b) == OCTO_OK);
    CHECK_EQ_STR(b.data, "ab<x>c");
    octo_buf_deinit(&b);
    octo_text_tokenizer_free(tok);
}

/* Pushes each id, checking every chunk is valid UTF-8; returns the text. */
static void stream(octo_text_detok *d, const int32_t *ids, size_t n, octo_buf *out,
                   size_t *chunks_with_text)
{
    *chunks_with_text = 0;
    for (size_t i = 0; i < n; i++) {
        size_t before = out->len;
        CHECK(octo_text_detok_push(d, ids[i], out) == OCTO_OK);
        CHECK(out->len == before || octo_utf8_valid(out->data + before, out->len - before, NULL));
        *chunks_with_text += out->len > before;
    }
}

static void test_detok_split_characters(void)
{
    octo_text_tokenizer *tok = tiny();
    if (!tok) return;
    octo_text_detok *d = octo_text_detok_new(tok, false);
    octo_buf b;
    octo_buf_init(&b, 1024);
    size_t chunks;
    /* "你" = E4 BD A0, "😀" = F0 9F 98 80, one byte per token */
    int32_t ids[] = {0xe4, 0xbd, 0xa0, 'x', 0xf0, 0x9f, 0x98, 0x80};
    stream(d, ids, 3, &b, &chunks);
    CHECK_EQ_STR(b.data, "\xe4\xbd\xa0");
    CHECK_EQ_INT(chunks, 1); /* nothing came out before the last byte */
    stream(d, ids + 3, 5, &b, &chunks);
    CHECK(octo_text_detok_flush(d, &b) == OCTO_OK);
    CHECK_EQ_STR(b.data, "\xe4\xbd\xa0x\xf0\x9f\x98\x80");
    /* invalid bytes become U+FFFD at once; a cut sequence at the end on flush */
    octo_buf_clear(&b);
    int32_t bad[] = {0xff, 0xe4, 'a', 0xe4, 0xbd};
    stream(d, bad, 5, &b, &chunks);
    CHECK_EQ_STR(b.data, "\xef\xbf\xbd\xef\xbf\xbd" "a");
    CHECK(octo_text_detok_flush(d, &b) == OCTO_OK);
    CHECK_EQ_STR(b.data, "\xef\xbf\xbd\xef\xbf\xbd" "a\xef\xbf\xbd");
    /* the same bytes through decode give the same text */
    octo_buf w;
    octo_buf_init(&w, 1024);
    CHECK(octo_text_tokenizer_decode(tok, bad, 5, false, &w) == OCTO_OK);
    CHECK_EQ_STR(w.data, b.data);
    /* surrogates and overlongs are invalid: ED A0 80, C0 AF, F4 90 80 80 */
    octo_buf_clear(&w);
    int32_t sur[] = {0xed, 0xa0, 0x80, 0xc0, 0xaf, 0xf4, 0x90, 0x80, 0x80};
    CHECK(octo_text_tokenizer_decode(tok, sur, 9, false, &w) == OCTO_OK);
    CHECK_EQ_INT(w.len, 9 * 3); /* one U+FFFD per byte, as from_utf8_lossy */
    /* skip_special drops the special token but keeps a pending byte */
    octo_text_detok *d2 = octo_text_detok_new(tok, true);
    octo_buf_clear(&b);
    int32_t mix[] = {0xe4, 258, 0xbd, 0xa0};
    stream(d2, mix, 4, &b, &chunks);
    CHECK_EQ_STR(b.data, "\xe4\xbd\xa0");
    octo_text_detok_free(d2);
    octo_text_detok_free(d);
    octo_text_detok_free(NULL);
    octo_buf_deinit(&w);
    octo_buf_deinit(&b);
    octo_text_tokenizer_free(tok);
}

static void test_invalid_utf8_input(void)
{
    octo_text_tokenizer *tok = tiny();
    if (!tok) return;
    struct { const char *s; size_t len, off; } bad[] = {
        {"ab\xff", 3, 2}, {"\xed\xa0\x80", 3, 0}, {"x\xc0\xaf", 3, 1},
        {"abc\xe4\xbd", 5, 3}, {"\xf4\x90\x80\x80", 4, 0}, {"ok\x80", 3, 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t *ids = (int32_t *)1;
        size_t n = 7, off = 99;
        CHECK_EQ_INT(octo_text_tokenizer_encode(tok, bad[i].s, bad[i].len, false, &ids, &n, &off),
                     OCTO_E_PARSE);
        CHECK_EQ_INT(off, bad[i].off);
        CHECK(ids == NULL && n == 0);
    }
    /* surrogate-free edges are fine and round-trip */
    const char *ok[] = {"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
                        "\xef\xbf\xbd", "\x7f\x01", "\xc2\x80", "\xf0\x90\x80\x80"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int32_t *ids;
        size_t n;
        CHECK(octo_text_tokenizer_encode(tok, ok[i], strlen(ok[i]), false, &ids, &n, NULL) ==
              OCTO_OK);
        octo_buf b;
        octo_buf_init(&b, 64);
        CHECK(octo_text_tokenizer_decode(tok, ids, n, false, &b) == OCTO_OK);
        CHECK_EQ_STR(b.data, ok[i]);
        octo_buf_deinit(&b);
        octo_free(ids);
    }
    /* a NUL byte inside the text is a character like any other */
    int32_t *ids;
    size_t n;
    CHECK(octo_text_tokenizer_encode(tok, "a\0b", 3, false, &ids, &n, NULL) == OCTO_OK);
    CHECK_EQ_INT(n, 3);
    octo_free(ids);
    octo_text_tokenizer_free(tok);
}

/* ==== tokenizer.json error paths ==== */

static const char MINI[] =
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":3,\"content\":\"<s>\",\"single_word\":false,"
    "\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
    "\"normalizer\":{\"type\":\"NFC\"},"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
    "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},"
    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}";

/* Loads MINI with `from` replaced by `to`; returns the error text. */
static bool load_variant(const char *from, const char *to, char *err, size_t err_size)
{
    char buf[2048];
    const char *p = strstr(MINI, from);
    if (!p) {
        fprintf(stderr, "variant: \"%s\" not in MINI\n", from);
        return false;
    }
    int k = snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - MINI), MINI, to, p + strlen(from));
    octo_text_tokenizer *tok = octo_text_tokenizer_load_json(buf, (size_t)k, err, err_size);
    bool ok = tok != NULL;
    octo_text_tokenizer_free(tok);
    return ok;
}

static void test_json_errors(void)
{
    char err[256];
    CHECK(load_variant("\"a b\"", "\"a b\"", err, sizeof err)); /* MINI itself loads */
    struct { const char *from, *to, *want; } cases[] = {
        {"\"model\":{", "\"modelx\":{", "parse error: model: missing"},
        {"\"type\":\"BPE\"", "\"type\":\"WordPiece\"", "unsupported: model.type \"WordPiece\""},
        {"\"a b\"", "\"a b c\"", "parse error: model.merges[0]: \"a b c\" is not two tokens"},
        {"\"a b\"", "\"a\"", "parse error: model.merges[0]: \"a\" is not two tokens"},
        {"\"a b\"", "\"a z\"", "parse error: merge 1: token \"z\" not in vocabulary"},
        {"\"a b\"", "\"b a\"", "parse error: merge 1: result \"ba\" not in vocabulary"},
        {"\"a b\"", "[\"a\",\"b\",\"c\"]", "parse error: model.merges[0]: neither"},
        {"\"ab\":2", "\"ab\":1", "parse error: id 1 given twice"},
        {"\"ab\":2", "\"ab\":-2", "parse error: model.vocab[\"ab\"]: id not an integer"},
        {"\"id\":3", "\"id\":7", "parse error: added_tokens[0]: \"<s>\" has id 7 but must be 3"},
        {"\"special\":true", "\"special\":1", "parse error: added_tokens[0].special: missing"},
        {"\"version\":\"1.0\"", "\"version\":\"2.0\"", "unsupported: version"},
        {"\"decoder\":{\"type\":\"ByteLevel\"}", "\"decoder\":null", "unsupported: decoder"},
        {"\"decoder\":{\"type\":\"ByteLevel\"}", "\"decoder\":{\"type\":\"WordPiece\"}",
         "unsupported: decoder.type \"WordPiece\""},
        {"{\"type\":\"NFC\"}", "{\"type\":\"Lowercase\"}", "unsupported: normalizer.type"},
        {"{\"type\":\"ByteLevel\",\"add", "{\"type\":\"Metaspace\",\"add",
         "unsupported: pre_tokenizer.type \"Metaspace\""},
        {"{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}",
         "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\","
         "\"invert\":false}", "parse error: regex \"(\": missing closing"},
        {"{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}",
         "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"x\"},\"behavior\":\"Sideways\","
         "\"invert\":false}", "parse error: pre_tokenizer.behavior \"Sideways\" unknown"},
        {"{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}", "null",
         "unsupported: pre_tokenizer: no ByteLevel"},
        {"\"post_processor\":null", "\"post_processor\":{\"type\":\"BertProcessing\"}",
         "unsupported: post_processor.type \"BertProcessing\""},
        {"\"post_processor\":null", "\"post_processor\":{\"type\":\"TemplateProcessing\","
         "\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}}],\"special_tokens\":{"
         "\"<s>\":{\"id\":\"<s>\",\"ids\":[3],\"tokens\":[\"<s>\"]}}}",
         "parse error: post_processor.single: sequence A appears 0 times"},
        {"\"post_processor\":null", "\"post_processor\":{\"type\":\"TemplateProcessing\","
         "\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":"
         "\"<s>\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[99],"
         "\"tokens\":[\"<s>\"]}}}", "parse error: post_processor.special_tokens[\"<s>\"]: id not in"},
        {"\"type\":\"BPE\",", "\"type\":\"BPE\",\"dropout\":0.1,", "unsupported: model.dropout"},
        {"\"type\":\"BPE\",", "\"type\":\"BPE\",\"byte_fallback\":true,",
         "unsupported: model.byte_fallback"},
        {"\"type\":\"BPE\",", "\"type\":\"BPE\",\"unk_token\":\"<unk>\",",
         "parse error: model.unk_token \"<unk>\" not in the vocabulary"},
        {"\"type\":\"BPE\",", "\"type\":\"BPE\",\"continuing_subword_prefix\":\"##\",",
         "unsupported: model.continuing_subword_prefix"},
        {"{\"version\"", "[{\"version\"", "parse error: JSON line 1"},
        {"\"a\":0,", "\"a\":0,\"a\":5,", "parse error: JSON line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        bool ok = load_variant(cases[i].from, cases[i].to, err, sizeof err);
        CHECK(!ok);
        if (strncmp(err, cases[i].want, strlen(cases[i].want))) {
            fprintf(stderr, "case %zu: got \"%s\"\n  want \"%s...\"\n", i, err, cases[i].want);
            CHECK(0);
        }
    }
    CHECK(octo_text_tokenizer_load("/nonexistent/tokenizer.json", err, sizeof err) == NULL);
    CHECK(strncmp(err, "not found", 9) == 0 || strncmp(err, "io", 2) == 0);
}

static void test_gguf_arrays_errors(void)
{
    byte_strings();
    const char *tokens[3] = {"a", "b", "ab"};
    int32_t types[3] = {1, 1, 1};
    const char *merges[] = {"a  b"};
    octo_text_tokenizer_vocab v = {.n_tokens = 3, .tokens = tokens, .token_types = types,
                                   .n_merges = 1, .merges = merges, .pre = "qwen2",
                                   .bos_id = -1, .eos_id = -1};
    char err[256];
    CHECK(octo_text_tokenizer_new_from_vocab(&v, err, sizeof err) == NULL);
    CHECK(strstr(err, "merge 1 is not two tokens") != NULL);
    static char long_merge[OCTO_LIMIT_TOKEN_BYTES + 8];
    memset(long_merge, 'a', sizeof long_merge - 1);
    long_merge[1] = ' ';
    merges[0] = long_merge;
    CHECK(octo_text_tokenizer_new_from_vocab(&v, err, sizeof err) == NULL);
    CHECK(strstr(err, "too large: merge 1: token longer than") != NULL);
    merges[0] = "a b";
    v.pre = "klingon";
    CHECK(octo_text_tokenizer_new_from_vocab(&v, err, sizeof err) == NULL);
    CHECK(strstr(err, "unsupported: pre-tokenizer \"klingon\"") != NULL);
    v.pre = "gpt2";
    types[1] = 9;
    CHECK(octo_text_tokenizer_new_from_vocab(&v, err, sizeof err) == NULL);
    CHECK(strstr(err, "unknown type 9") != NULL);
    types[1] = 1;
    tokens[2] = "a";
    CHECK(octo_text_tokenizer_new_from_vocab(&v, err, sizeof err) == NULL);
    CHECK(strstr(err, "has two ids") != NULL);
    tokens[2] = "ab";
    v.add_bos = true;
    CHECK(octo_text_tokenizer_new_from_vocab(&v, err, sizeof err) == NULL);
    v.add_bos = false;
    octo_text_tokenizer *tok = octo_text_tokenizer_new_from_vocab(&v, err, sizeof err);
    CHECK(tok != NULL);
    octo_text_tokenizer_free(tok);
}

/* Every allocation of a load and an encode may fail: no crash, no leak. */
static void test_allocation_failures(void)
{
    size_t live = octo_alloc_live_bytes();
    for (long k = 1; k < 400; k++) {
        octo_alloc_fail_after(k);
        char err[128];
        octo_text_tokenizer *tok = octo_text_tokenizer_load_json(MINI, strlen(MINI), err, sizeof err);
        if (tok) {
            int32_t *ids = NULL;
            size_t n = 0;
            octo_err rc = octo_text_tokenizer_encode(tok, "ab<s>ab ba", 10, true, &ids, &n, NULL);
            CHECK(rc == OCTO_OK || rc == OCTO_E_NOMEM);
            octo_free(ids);
        }
        octo_alloc_fail_after(0);
        octo_text_tokenizer_free(tok);
    }
    CHECK_EQ_INT(octo_alloc_live_bytes(), live);
}

/* ==== concurrency on the real vocabulary ==== */

#define N_TEXTS 64
static const octo_text_tokenizer *g_tok;
static char *g_texts[N_TEXTS];
static int32_t *g_want[N_TEXTS];
static size_t g_nwant[N_TEXTS];

static void make_texts(void)
{
    static const char *const parts[] = {
        "Hello world ", "你好，世界。", "<|im_start|>user\n", "<|im_end|>", "  \t\r\n", "1234567",
        "👩‍💻🇯🇵", "def f(x):\n    return x\n", "e\xcc\x81", "안녕하세요 ", "مرحبا ", "it's ",
        "<think>", "repeat repeat repeat ", "{\"k\": [1, 2]}", "Съешь же ещё "};
    uint32_t r = 12345;
    for (int i = 0; i < N_TEXTS; i++) {
        octo_buf b;
        octo_buf_init(&b, 1 << 20);
        int n = 20 + i * 3;
        for (int k = 0; k < n; k++) {
            r = r * 1103515245u + 12345u;
            CHECK(octo_buf_puts(&b, parts[(r >> 16) % (sizeof parts / sizeof parts[0])]) == OCTO_OK);
        }
        g_texts[i] = octo_buf_take(&b);
    }
}

static void *encode_all_texts(void *arg)
{
    long bad = 0;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N_TEXTS; i++) {
            int j = (i + (int)(intptr_t)arg * 7) % N_TEXTS;
            int32_t *ids;
            size_t n;
            if (octo_text_tokenizer_encode(g_tok, g_texts[j], strlen(g_texts[j]), false, &ids, &n,
                                           NULL)) {
                bad++;
                continue;
            }
            bad += n != g_nwant[j] || memcmp(ids, g_want[j], n * sizeof *ids) != 0;
            octo_free(ids);
        }
    return (void *)(intptr_t)bad;
}

static void test_concurrent_encode_real_vocab(void)
{
    const char *shared = getenv("OCTO_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/qwen/qwen3/tokenizer.json", shared ? shared : OCTO_TEST_DATA_DIR);
    char err[256];
    double t0 = octo_now();
    octo_text_tokenizer *tok = octo_text_tokenizer_load(path, err, sizeof err);
    double dt = octo_now() - t0;
    if (!tok) {
        fprintf(stderr, "load %s: %s\n", path, err);
        CHECK(0);
        return;
    }
    printf("     loaded %s in %.3f s\n", path, dt);
    CHECK_EQ_INT(octo_text_tokenizer_vocab_size(tok), 151669);
    CHECK_EQ_INT(octo_text_tokenizer_token_id(tok, "<|im_end|>"), 151645);
    CHECK(octo_text_tokenizer_is_special(tok, 151645));
    CHECK(!octo_text_tokenizer_is_special(tok, 151667)); /* <think> is added, not special */
    CHECK(octo_text_tokenizer_is_added(tok, 151667));
    g_tok = tok;
    make_texts();
    for (int i = 0; i < N_TEXTS; i++)
        CHECK(octo_text_tokenizer_encode(tok, g_texts[i], strlen(g_texts[i]), false, &g_want[i],
                                         &g_nwant[i], NULL) == OCTO_OK);
    /* fresh cache: every thread races to fill it */
    octo_text_tokenizer_free(tok);
    tok = octo_text_tokenizer_load(path, err, sizeof err);
    g_tok = tok;
    pthread_t th[4];
    for (long t = 0; t < 4; t++) pthread_create(&th[t], NULL, encode_all_texts, (void *)t);
    long bad = 0;
    for (int t = 0; t < 4; t++) {
        void *r;
        pthread_join(th[t], &r);
        bad += (long)(intptr_t)r;
    }
    CHECK_EQ_INT(bad, 0);
    for (int i = 0; i < N_TEXTS; i++) {
        octo_free(g_texts[i]);
        octo_free(g_want[i]);
    }
    octo_text_tokenizer_free(tok);
}

TEST_MAIN(TEST(test_tiny_merges_and_added), TEST(test_decode_skip_special),
          TEST(test_detok_split_characters), TEST(test_invalid_utf8_input), TEST(test_json_errors),
          TEST(test_gguf_arrays_errors), TEST(test_allocation_failures),
          TEST(test_concurrent_encode_real_vocab))
