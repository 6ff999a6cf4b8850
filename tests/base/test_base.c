/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of base: buffers, arenas, UTF-8, number parsing, queue. */
#include "base/base.h"
#include "octo_test.h"

#include <pthread.h>

static void test_buf_limits(void)
{
    octo_buf b;
    octo_buf_init(&b, 8);
    CHECK(octo_buf_puts(&b, "abcd") == OCTO_OK);
    CHECK(octo_buf_printf(&b, "%d", 123) == OCTO_OK);
    CHECK_EQ_STR(b.data, "abcd123");
    CHECK(octo_buf_puts(&b, "xy") == OCTO_E_TOO_LARGE);
    CHECK_EQ_STR(b.data, "abcd123"); /* a failed append leaves it intact */
    CHECK(octo_buf_puts(&b, "x") == OCTO_OK);
    char *s = octo_buf_take(&b);
    CHECK_EQ_STR(s, "abcd123x");
    CHECK(b.data == NULL);
    octo_free(s);
    octo_buf_deinit(&b);
}

static void test_alloc_counting_and_failure(void)
{
    size_t before = octo_alloc_live_bytes();
    char *p = octo_malloc(1000);
    CHECK(p != NULL);
    CHECK_EQ_INT(octo_alloc_live_bytes() - before, 1000);
    p = octo_realloc(p, 3000);
    CHECK_EQ_INT(octo_alloc_live_bytes() - before, 3000);
    octo_free(p);
    CHECK_EQ_INT(octo_alloc_live_bytes(), before);
    octo_alloc_fail_after(2);
    void *a = octo_malloc(1);
    void *b = octo_malloc(1);
    void *c = octo_malloc(1);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(c != NULL);
    octo_free(a);
    octo_free(c);
    octo_free(NULL);
}

static void test_arena(void)
{
    octo_arena *a = octo_arena_new(128, 1024);
    CHECK(a != NULL);
    char *x = octo_arena_alloc(a, 100);
    char *y = octo_arena_alloc(a, 100);
    CHECK(x && y && x != y);
    CHECK(((uintptr_t)y & 15u) == 0);
    CHECK(octo_arena_alloc(a, 2000) == NULL); /* over max_bytes */
    CHECK_EQ_STR(octo_arena_strdup(a, "hello"), "hello");
    octo_arena_reset(a);
    CHECK_EQ_INT(octo_arena_used(a), 0);
    CHECK(octo_arena_alloc(a, 900) != NULL);
    octo_arena_free(a);
    octo_arena_free(NULL);
}

static void test_utf8(void)
{
    size_t off = 0;
    CHECK(octo_utf8_valid("h\xc3\xa9llo \xe4\xbd\xa0\xf0\x9f\x98\x80", 14, NULL));
    CHECK(!octo_utf8_valid("ab\xc0\xaf", 4, &off)); /* overlong */
    CHECK_EQ_INT(off, 2);
    CHECK(!octo_utf8_valid("\xed\xa0\x80", 3, &off)); /* surrogate */
    CHECK(!octo_utf8_valid("x\xe4\xbd", 3, &off)); /* truncated */
    CHECK_EQ_INT(off, 1);
    CHECK(!octo_utf8_valid("\xf4\x90\x80\x80", 4, &off)); /* > U+10FFFF */
    CHECK(!octo_utf8_valid("\xff", 1, &off));
}

/* octo_json_quote against what Python's json.dumps(s, ensure_ascii=...)
 * writes for the same strings (surrogates and broken bytes: see base.h). */
static void quote_case(const char *in, size_t n, bool ascii, const char *want)
{
    octo_buf b;
    octo_buf_init(&b, 1024);
    CHECK(octo_json_quote(&b, in, n, ascii) == OCTO_OK);
    bool same = b.len == strlen(want) && memcmp(b.data, want, b.len) == 0;
    if (!same) printf("  json quote: got %.*s, want %s\n", (int)b.len, b.data, want);
    CHECK(same);
    octo_buf_deinit(&b);
}

static void test_json_quote(void)
{
    uint32_t cp = 1;
    CHECK_EQ_INT(octo_utf8_next("\xf0\x9f\x98\x80", 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x1F600);
    CHECK_EQ_INT(octo_utf8_next("\xe4\xbd", 2, &cp), 1); /* cut short: one byte */
    CHECK_EQ_INT(cp, 0xE4);
    CHECK_EQ_INT(octo_utf8_next("", 0, &cp), 0);
    /* json.dumps('a"b\\c\n\t\x01\x7f') */
    quote_case("a\"b\\c\n\t\x01\x7f", 9, false, "\"a\\\"b\\\\c\\n\\t\\u0001\x7f\"");
    quote_case("\x7f\b\f\r", 4, true, "\"\\u007f\\b\\f\\r\"");
    /* json.dumps('é你😀', ensure_ascii=False) and with ensure_ascii=True */
    quote_case("\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80", 9, false,
               "\"\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80\"");
    quote_case("\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80", 9, true,
               "\"\\u00e9\\u4f60\\ud83d\\ude00\"");
    /* a lone surrogate (WTF-8) and a byte that is not UTF-8: escaped in both modes */
    quote_case("x\xed\xa0\x80\xff", 5, false, "\"x\\ud800\\u00ff\"");
    quote_case("x\xed\xa0\x80\xff", 5, true, "\"x\\ud800\\u00ff\"");
    quote_case("", 0, false, "\"\"");
}

static void test_parse_numbers(void)
{
    long v = 0;
    double d = 0;
    CHECK(octo_parse_long("8000", 1, 65535, &v) == OCTO_OK && v == 8000);
    CHECK(octo_parse_long("80x", 1, 65535, &v) == OCTO_E_PARSE);
    CHECK(octo_parse_long("", 1, 65535, &v) == OCTO_E_PARSE);
    CHECK(octo_parse_long("70000", 1, 65535, &v) == OCTO_E_INVALID);
    CHECK(octo_parse_double("0.75", 0, 1, &d) == OCTO_OK && d == 0.75);
    CHECK(octo_parse_double("1.5", 0, 1, &d) == OCTO_E_INVALID);
    CHECK(octo_parse_double("nan", 0, 1, &d) == OCTO_E_PARSE);
}

typedef struct { octo_queue *q; int n; long sum; } qctx;

static void *producer(void *arg)
{
    qctx *c = arg;
    for (long i = 1; i <= c->n; i++) {
        while (octo_queue_push(c->q, (void *)i) == OCTO_E_BUSY) {
        }
    }
    return NULL;
}

static void test_queue_threads(void)
{
    qctx c = {octo_queue_new(4), 10000, 0};
    pthread_t th;
    pthread_create(&th, NULL, producer, &c);
    for (int i = 0; i < c.n; i++) {
        void *item = NULL;
        CHECK(octo_queue_pop(c.q, 5.0, &item) == OCTO_OK);
        c.sum += (long)item;
    }
    pthread_join(th, NULL);
    CHECK_EQ_INT(c.sum, 10000L * 10001L / 2);
    void *item;
    CHECK(octo_queue_pop(c.q, 0.01, &item) == OCTO_E_TIMEOUT);
    CHECK(octo_queue_push(c.q, (void *)1) == OCTO_OK);
    octo_queue_close(c.q);
    CHECK(octo_queue_push(c.q, (void *)2) == OCTO_E_CLOSED);
    CHECK(octo_queue_pop(c.q, -1, &item) == OCTO_OK && item == (void *)1);
    CHECK(octo_queue_pop(c.q, -1, &item) == OCTO_E_CLOSED);
    octo_queue_free(c.q);
}

static void test_err_str(void)
{
    CHECK_EQ_STR(octo_err_str(OCTO_OK), "ok");
    CHECK_EQ_STR(octo_err_str(OCTO_E_TOO_LARGE), "too large");
    octo_log_level l;
    CHECK(octo_log_level_parse("warn", &l) == OCTO_OK && l == OCTO_LOG_LEVEL_WARN);
    CHECK(octo_log_level_parse("loud", &l) == OCTO_E_INVALID);
}

TEST_MAIN(TEST(test_buf_limits), TEST(test_alloc_counting_and_failure), TEST(test_arena),
          TEST(test_utf8), TEST(test_json_quote), TEST(test_parse_numbers),
          TEST(test_queue_threads),
          TEST(test_err_str))
