/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of constrained JSON decoding at the byte level (the automaton
 * fed raw bytes: JSON grammar, schema keywords, whitespace and depth
 * bounds, rejected schemas) and at the token level on a tiny vocabulary
 * (mask agrees with accept, stop ids only when complete, added tokens
 * never), plus the tool_choice / response_format schema builders. The
 * real-vocabulary random walks checked by Python's json and jsonschema are
 * in test_jsonc.py.
 */
#include "base/base.h"
#include "octo_test.h"
#include "jsonc/jsonc.h"
#include "tokenizer/tokenizer.h"

static char g_bytes[256][3];

static void byte_strings(void)
{
    for (int b = 0; b < 256; b++) octo_text_byte_symbol((unsigned char)b, g_bytes[b]);
}

/* ids 0..255 bytes; 256 "tr", 257 "\"}", 258 "<|end|>"
 * (CONTROL, the stop id), 259 "<x>" (USER_DEFINED), 260 "1," */
static octo_text_tokenizer *tiny(void)
{
    byte_strings();
    const char *tokens[261];
    int32_t types[261];
    for (int i = 0; i < 256; i++) {
        tokens[i] = g_bytes[i];
        types[i] = OCTO_TEXT_TOKEN_NORMAL;
    }
    tokens[256] = "tr";
    tokens[257] = "\"}";
    tokens[258] = "<|end|>";
    tokens[259] = "<x>";
    tokens[260] = "1,";
    types[256] = types[257] = types[260] = OCTO_TEXT_TOKEN_NORMAL;
    types[258] = OCTO_TEXT_TOKEN_CONTROL;
    types[259] = OCTO_TEXT_TOKEN_USER_DEFINED;
    const char *merges[] = {"t r", "\" }", "1 ,"};
    octo_text_tokenizer_vocab v = {.n_tokens = 261, .tokens = tokens, .token_types = types,
                                   .n_merges = 3, .merges = merges, .pre = "qwen2",
                                   .bos_id = -1, .eos_id = 258};
    char err[256];
    octo_text_tokenizer *tok = octo_text_tokenizer_new_from_vocab(&v, err, sizeof err);
    if (!tok) fprintf(stderr, "tiny: %s\n", err);
    return tok;
}

static octo_text_tokenizer *g_tok;
static octo_text_jsonc_vocab *g_voc;

static void setup(void)
{
    if (g_voc) return;
    g_tok = tiny();
    int32_t stop = 258;
    char err[256];
    g_voc = octo_text_jsonc_vocab_new(g_tok, &stop, 1, err, sizeof err);
    if (!g_voc) fprintf(stderr, "vocab: %s\n", err);
}

/* How many bytes of text the schema accepts before the first rejection
 * (len when all), and whether the whole text is a complete value. */
static size_t run(const char *schema_txt, bool object_only, const char *text, bool *complete)
{
    setup();
    json_t *s = NULL;
    if (schema_txt) {
        json_error_t je;
        s = json_loads(schema_txt, JSON_DECODE_ANY, &je);
        OCTO_ASSERT(s);
    }
    char err[256];
    octo_text_jsonc *jc = octo_text_jsonc_new(g_voc, s, object_only, err, sizeof err);
    json_decref(s);
    if (!jc) {
        fprintf(stderr, "compile: %s\n", err);
        *complete = false;
        return (size_t)-1;
    }
    octo_text_jsonc_matcher *m = octo_text_jsonc_matcher_new(jc);
    size_t n = strlen(text), i = 0;
    for (; i < n; i++)
        if (octo_text_jsonc_feed(m, text + i, 1)) break;
    *complete = i == n && octo_text_jsonc_complete(m);
    octo_text_jsonc_matcher_free(m);
    octo_text_jsonc_free(jc);
    return i;
}

#define ACCEPTS(schema, oo, text)                                                  \
    do {                                                                           \
        bool c_;                                                                   \
        size_t at_ = run(schema, oo, text, &c_);                                   \
        CHECK_EQ_INT(at_, strlen(text));                                           \
        if (!c_) fprintf(stderr, "  not complete: %s\n", text);                   \
        CHECK(c_);                                                                 \
    } while (0)
/* Rejected exactly at byte `at` (at == strlen: accepted but incomplete). */
#define REJECTS_AT(schema, oo, text, at)                                           \
    do {                                                                           \
        bool c_;                                                                   \
        size_t at_ = run(schema, oo, text, &c_);                                   \
        CHECK_EQ_INT(at_, at);                                                     \
        CHECK(!c_);                                                                \
    } while (0)

static void test_any_value(void)
{
    ACCEPTS(NULL, false, "{\"a\": [1, -2.5e-3, true, null, \"x\\u00e9\\n\"], \"b\": {}}");
    ACCEPTS(NULL, false, "[[], [[]], {\"k\" : []}]");
    ACCEPTS(NULL, false, "0");
    ACCEPTS(NULL, false, "-12.0E+9");
    ACCEPTS(NULL, false, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    ACCEPTS(NULL, false, "  false");
    REJECTS_AT(NULL, false, "{\"a\" 1}", 5);
    REJECTS_AT(NULL, false, "[1,]", 3);
    REJECTS_AT(NULL, false, "01", 1);
    REJECTS_AT(NULL, false, "[1]]", 3);
    REJECTS_AT(NULL, false, "{\"a\":1]", 6);
    REJECTS_AT(NULL, false, "\"a\x01\"", 2);      /* control character */
    REJECTS_AT(NULL, false, "\"\xc0\x80\"", 1);    /* overlong */
    REJECTS_AT(NULL, false, "\"\xed\xa0\x80\"", 2); /* surrogate */
    REJECTS_AT(NULL, false, "\"\\x\"", 2);
    REJECTS_AT(NULL, false, "1.", 2);
    REJECTS_AT(NULL, false, "{\"a\":1} ", 7);      /* nothing after the value */
    REJECTS_AT(NULL, false, "[1, 2", 5);
}

static void test_object_only(void)
{
    ACCEPTS(NULL, true, "{\"a\": [1, {\"b\": null}]}");
    REJECTS_AT(NULL, true, "[1]", 0);
    REJECTS_AT(NULL, true, "\"x\"", 0);
}

static void test_whitespace_and_depth(void)
{
    char buf[256];
    snprintf(buf, sizeof buf, "[%16s1]", "");
    ACCEPTS(NULL, false, buf);
    snprintf(buf, sizeof buf, "[%17s1]", "");
    REJECTS_AT(NULL, false, buf, 17);
    /* 48 nested arrays are fine, the 49th is not */
    char deep[128] = {0};
    memset(deep, '[', 48);
    memset(deep + 48, ']', 48);
    ACCEPTS(NULL, false, deep);
    memset(deep, 0, sizeof deep);
    memset(deep, '[', 49);
    REJECTS_AT(NULL, false, deep, 48);
}

static const char *k_obj =
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
    "\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]},\"days\":{\"type\":\"integer\"}},"
    "\"required\":[\"city\",\"days\"]}";

static void test_object_schema(void)
{
    ACCEPTS(k_obj, false, "{\"city\": \"Paris\", \"unit\": \"c\", \"days\": 3}");
    ACCEPTS(k_obj, false, "{\"city\":\"Paris\",\"days\":-3}");
    ACCEPTS(k_obj, false, "{\n  \"city\": \"x\",\n  \"days\": 0\n}");
    REJECTS_AT(k_obj, false, "{\"days\": 3}", 2);              /* required first */
    REJECTS_AT(k_obj, false, "{\"city\": \"P\", \"unit\": \"k\"", 23);
    REJECTS_AT(k_obj, false, "{\"city\": \"P\", \"days\": 3.5}", 23);
    REJECTS_AT(k_obj, false, "{\"city\": \"P\", \"days\": 3, \"x\": 1}", 23);
    REJECTS_AT(k_obj, false, "{\"city\": \"P\"}", 12);         /* days is required */
    REJECTS_AT(k_obj, false, "{\"city\": 1", 9);
    /* additionalProperties true: extra keys after the declared ones */
    const char *open = "{\"properties\":{\"a\":{\"type\":\"null\"}},\"additionalProperties\":true}";
    ACCEPTS(open, false, "{\"a\": null, \"zz\": [1, {\"q\": \"r\"}], \"b\": 2}");
    ACCEPTS(open, false, "{\"zz\": 1}");
    const char *typed = "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}";
    ACCEPTS(typed, false, "{\"a\": 1, \"b\": 2}");
    REJECTS_AT(typed, false, "{\"a\": true}", 6);
    ACCEPTS("{\"type\":\"object\"}", false, "{\"any\": [true]}");
    ACCEPTS("{\"type\":\"object\",\"properties\":{}}", false, "{}");
    REJECTS_AT("{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}", false,
               "{\"a\"", 1);
}

static void test_scalars_and_unions(void)
{
    ACCEPTS("{\"type\":[\"string\",\"null\"]}", false, "null");
    ACCEPTS("{\"type\":[\"string\",\"null\"]}", false, "\"s\"");
    REJECTS_AT("{\"type\":[\"string\",\"null\"]}", false, "1", 0);
    ACCEPTS("{\"type\":\"boolean\"}", false, "false");
    REJECTS_AT("{\"type\":\"boolean\"}", false, "fals!", 4);
    ACCEPTS("{\"const\":{\"a\":[1,\"\xc3\xa9\"]}}", false, "{\"a\":[1,\"\xc3\xa9\"]}");
    REJECTS_AT("{\"const\":\"x\"}", false, "\"y\"", 1);
    ACCEPTS("{\"enum\":[1,\"two\",null,true]}", false, "\"two\"");
    ACCEPTS("{\"enum\":[1,\"two\",null,true]}", false, "true");
    const char *any_of = "{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"object\","
                         "\"properties\":{\"x\":{\"type\":\"string\"}},\"required\":[\"x\"]}]}";
    ACCEPTS(any_of, false, "42");
    ACCEPTS(any_of, false, "{\"x\": \"y\"}");
    REJECTS_AT(any_of, false, "{}", 1);
    const char *one_of = "{\"type\":\"object\",\"oneOf\":[{\"properties\":{\"a\":{\"const\":1}},"
                         "\"required\":[\"a\"]},{\"properties\":{\"b\":{\"const\":2}},"
                         "\"required\":[\"b\"]}]}";
    ACCEPTS(one_of, false, "{\"b\": 2}");
    REJECTS_AT(one_of, false, "{\"a\": 2}", 6);
    const char *ref = "{\"$defs\":{\"pt\":{\"type\":\"object\",\"properties\":{\"x\":"
                      "{\"type\":\"number\"}},\"required\":[\"x\"]}},\"type\":\"array\","
                      "\"items\":{\"$ref\":\"#/$defs/pt\"},\"minItems\":1,\"maxItems\":2}";
    ACCEPTS(ref, false, "[{\"x\": 1.5}, {\"x\": 2}]");
    REJECTS_AT(ref, false, "[]", 1);
    REJECTS_AT(ref, false, "[{\"x\": 1}, {\"x\": 2}, ", 19);
    /* recursion through "#" is cut after a few levels but shallow trees pass */
    const char *tree = "{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\","
                       "\"items\":{\"$ref\":\"#\"}}}}";
    ACCEPTS(tree, false, "{\"kids\": [{\"kids\": []}, {}]}");
}

static void test_rejected_schemas(void)
{
    setup();
    static const char *bad[] = {
        "{\"allOf\":[{\"type\":\"string\"},{\"minLength\":1}]}",
        "{\"$ref\":\"#/$defs/nope\"}",
        "{\"type\":\"strin\"}",
        "{\"type\":7}",
        "{\"type\":\"array\",\"minItems\":1000}",
        "{\"enum\":3}",
        "[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        json_t *s = json_loads(bad[i], JSON_DECODE_ANY, &je);
        char err[256] = "";
        octo_text_jsonc *jc = octo_text_jsonc_new(g_voc, s, false, err, sizeof err);
        CHECK(jc == NULL);
        CHECK(err[0] != 0);
        json_decref(s);
        octo_text_jsonc_free(jc);
    }
    /* ignored keywords compile */
    json_t *s = json_loads("{\"type\":\"string\",\"pattern\":\"^a$\",\"format\":\"date\"}", 0,
                           NULL);
    octo_text_jsonc *jc = octo_text_jsonc_new(g_voc, s, false, NULL, 0);
    CHECK(jc != NULL);
    octo_text_jsonc_free(jc);
    json_decref(s);
}

/* On the tiny vocabulary the mask must allow exactly the tokens accept
 * takes, the stop id only when complete, and never an added token; at
 * every byte prefix of doc, `passes` times over one compiled schema (so
 * cached and evicted masks are checked too). */
static void check_mask_vs_accept(const char *schema_txt, bool oo, const char *doc, int passes)
{
    setup();
    json_t *s = schema_txt ? json_loads(schema_txt, 0, NULL) : NULL;
    octo_text_jsonc *jc = octo_text_jsonc_new(g_voc, s, oo, NULL, 0);
    json_decref(s);
    float logits[300];
    for (int pass = 0; pass < passes; pass++) {
        octo_text_jsonc_matcher *m = octo_text_jsonc_matcher_new(jc);
        for (size_t i = 0; doc[i]; i++) {
            for (int t = 0; t < 300; t++) logits[t] = 0.f;
            CHECK_EQ_INT(octo_text_jsonc_mask(m, logits, 300), OCTO_OK);
            octo_text_jsonc_matcher *probe = octo_text_jsonc_matcher_new(jc);
            CHECK_EQ_INT(octo_text_jsonc_feed(probe, doc, i), OCTO_OK);
            for (int t = 0; t < 300; t++) {
                bool ok = t < 261 && t != 258 && octo_text_jsonc_accept(probe, t) == OCTO_OK;
                if (ok) { /* undo: replay the prefix */
                    octo_text_jsonc_matcher_free(probe);
                    probe = octo_text_jsonc_matcher_new(jc);
                    CHECK_EQ_INT(octo_text_jsonc_feed(probe, doc, i), OCTO_OK);
                }
                if (t == 258) ok = octo_text_jsonc_complete(probe);
                if (ok != (logits[t] == 0.f)) fprintf(stderr, "  byte %zu token %d\n", i, t);
                CHECK(ok == (logits[t] == 0.f));
            }
            octo_text_jsonc_matcher_free(probe);
            CHECK(logits[259] < 0.f); /* <x> never */
            CHECK_EQ_INT(octo_text_jsonc_feed(m, doc + i, 1), OCTO_OK);
        }
        octo_text_jsonc_matcher_free(m);
    }
    octo_text_jsonc_free(jc);
}

static void test_mask_matches_accept(void)
{
    check_mask_vs_accept(k_obj, false, "{\"city\": \"tr\\n\", \"days\": 1}", 2);
    /* more distinct matcher states than the cache holds */
    char deep[256] = {0};
    memset(deep, '[', 40);
    snprintf(deep + 40, sizeof deep - 40, "{\"a\": [1, \"x\xc3\xa9\"], \"tr\": -2.5e3}");
    memset(deep + strlen(deep), ']', 40);
    check_mask_vs_accept(NULL, false, deep, 2);
    check_mask_vs_accept("{\"type\":\"object\",\"additionalProperties\":{\"enum\":[1,\"tr\"]}}",
                         false, "{\"k\":\"tr\",\"q\":1}", 1);
}

static void test_stop_after_complete(void)
{
    setup();
    json_t *s = json_loads(k_obj, 0, NULL);
    octo_text_jsonc *jc = octo_text_jsonc_new(g_voc, s, false, NULL, 0);
    json_decref(s);
    octo_text_jsonc_matcher *m = octo_text_jsonc_matcher_new(jc);
    const char *doc = "{\"city\": \"tr\", \"days\": 1}";
    CHECK_EQ_INT(octo_text_jsonc_accept(m, 258), OCTO_E_INVALID);
    CHECK_EQ_INT(octo_text_jsonc_feed(m, doc, strlen(doc)), OCTO_OK);
    CHECK(octo_text_jsonc_complete(m));
    CHECK(octo_text_jsonc_finished(m));
    float logits[300];
    for (int t = 0; t < 300; t++) logits[t] = 1.f;
    CHECK_EQ_INT(octo_text_jsonc_mask(m, logits, 300), OCTO_OK);
    for (int t = 0; t < 300; t++) CHECK((t == 258) == (logits[t] == 1.f));
    CHECK_EQ_INT(octo_text_jsonc_accept(m, 257), OCTO_E_INVALID);
    CHECK_EQ_INT(octo_text_jsonc_accept(m, 258), OCTO_OK);
    CHECK_EQ_INT(octo_text_jsonc_accept(m, 258), OCTO_E_INVALID);
    CHECK_EQ_INT(octo_text_jsonc_mask(m, logits, 300), OCTO_E_INVALID);
    octo_text_jsonc_matcher_free(m);
    octo_text_jsonc_free(jc);
}

static void test_number_not_finished(void)
{
    setup();
    octo_text_jsonc *jc = octo_text_jsonc_new(g_voc, NULL, false, NULL, 0);
    octo_text_jsonc_matcher *m = octo_text_jsonc_matcher_new(jc);
    CHECK_EQ_INT(octo_text_jsonc_feed(m, "12", 2), OCTO_OK);
    CHECK(octo_text_jsonc_complete(m));
    CHECK(!octo_text_jsonc_finished(m)); /* more digits may follow */
    CHECK_EQ_INT(octo_text_jsonc_feed(m, "x", 1), OCTO_E_INVALID);
    CHECK_EQ_INT(octo_text_jsonc_feed(m, "3", 1), OCTO_OK); /* state unchanged by the reject */
    octo_text_jsonc_matcher_free(m);
    octo_text_jsonc_free(jc);
}

static void test_tool_schemas(void)
{
    json_t *tools = json_loads(
        "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
        "\"required\":[\"city\"]}}},{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]",
        0, NULL);
    json_t *choice = json_string("required"), *schema = NULL;
    CHECK_EQ_INT(octo_text_jsonc_schema_for_tools(tools, choice, &schema), OCTO_OK);
    char *txt = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(txt, "{\"items\":{\"anyOf\":[{\"properties\":{\"name\":{\"enum\":[\"get_weather\"],"
                      "\"type\":\"string\"},\"parameters\":{\"properties\":{\"city\":{\"type\":"
                      "\"string\"}},\"required\":[\"city\"],\"type\":\"object\"}},\"required\":"
                      "[\"name\",\"parameters\"]},{\"properties\":{\"name\":"
                      "{\"enum\":[\"now\"],\"type\":\"string\"},\"parameters\":{\"properties\":{},"
                      "\"type\":\"object\"}},\"required\":[\"name\",\"parameters\"]}],"
                      "\"type\":\"object\"},\"minItems\":1,\"type\":\"array\"}");
    free(txt);
    setup();
    octo_text_jsonc *jc = octo_text_jsonc_new(g_voc, schema, false, NULL, 0);
    CHECK(jc != NULL);
    octo_text_jsonc_free(jc);
    ACCEPTS(NULL, false, "[]"); /* keeps ACCEPTS honest in this test */
    json_decref(schema);
    json_decref(choice);
    choice = json_loads("{\"type\":\"function\",\"function\":{\"name\":\"now\"}}", 0, NULL);
    CHECK_EQ_INT(octo_text_jsonc_schema_for_tools(tools, choice, &schema), OCTO_OK);
    txt = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(txt, "{\"properties\":{},\"type\":\"object\"}");
    free(txt);
    json_decref(schema);
    json_decref(choice);
    choice = json_loads("{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}", 0, NULL);
    CHECK_EQ_INT(octo_text_jsonc_schema_for_tools(tools, choice, &schema), OCTO_E_NOT_FOUND);
    json_decref(choice);
    choice = json_string("auto");
    CHECK_EQ_INT(octo_text_jsonc_schema_for_tools(tools, choice, &schema), OCTO_OK);
    CHECK(schema == NULL);
    json_decref(choice);
    json_decref(tools);
    json_t *rf = json_loads("{\"type\":\"json_object\"}", 0, NULL);
    bool oo = false, con = false;
    CHECK_EQ_INT(octo_text_jsonc_schema_for_response_format(rf, &schema, &oo, &con), OCTO_OK);
    CHECK(oo && con && schema == NULL);
    json_decref(rf);
    rf = json_loads("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":"
                    "{\"type\":\"integer\"}}}", 0, NULL);
    CHECK_EQ_INT(octo_text_jsonc_schema_for_response_format(rf, &schema, &oo, &con), OCTO_OK);
    CHECK(!oo && con && json_is_object(schema));
    json_decref(schema);
    json_decref(rf);
}

/* Every allocation failure on the way (vocabulary, schema, matcher, mask)
 * is reported, never a crash, and leaks nothing. */
static void test_alloc_failures(void)
{
    setup();
    json_t *s = json_loads(k_obj, 0, NULL);
    size_t base = octo_alloc_live_bytes();
    int succeeded = 0;
    for (long n = 1; n < 400 && !succeeded; n++) {
        octo_alloc_fail_after(n);
        int32_t stop = 258;
        octo_text_jsonc_vocab *v = octo_text_jsonc_vocab_new(g_tok, &stop, 1, NULL, 0);
        char err[128] = "";
        octo_text_jsonc *jc = v ? octo_text_jsonc_new(v, s, false, err, sizeof err) : NULL;
        if (v && !jc) CHECK(err[0] != 0);
        octo_text_jsonc_matcher *m = jc ? octo_text_jsonc_matcher_new(jc) : NULL;
        float logits[261] = {0};
        octo_err rc = m ? octo_text_jsonc_mask(m, logits, 261) : OCTO_E_NOMEM;
        if (m && rc == OCTO_OK) rc = octo_text_jsonc_feed(m, "{\"city\"", 7);
        if (m && rc == OCTO_OK) rc = octo_text_jsonc_mask(m, logits, 261);
        CHECK(rc == OCTO_OK || rc == OCTO_E_NOMEM);
        succeeded = rc == OCTO_OK;
        octo_alloc_fail_after(0);
        octo_text_jsonc_matcher_free(m);
        octo_text_jsonc_free(jc);
        octo_text_jsonc_vocab_free(v);
        CHECK_EQ_INT(octo_alloc_live_bytes(), base);
    }
    CHECK(succeeded);
    json_decref(s);
}

static void test_teardown(void)
{
    octo_text_jsonc_vocab_free(g_voc);
    octo_text_tokenizer_free(g_tok);
    g_voc = NULL;
    octo_text_jsonc_vocab_free(NULL);
    octo_text_jsonc_free(NULL);
    octo_text_jsonc_matcher_free(NULL);
    CHECK(g_tok != NULL);
}

TEST_MAIN(TEST(test_any_value), TEST(test_object_only), TEST(test_whitespace_and_depth),
          TEST(test_object_schema), TEST(test_scalars_and_unions), TEST(test_rejected_schemas),
          TEST(test_mask_matches_accept), TEST(test_stop_after_complete),
          TEST(test_number_not_finished),
          TEST(test_tool_schemas), TEST(test_alloc_failures), TEST(test_teardown))
