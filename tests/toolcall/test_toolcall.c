/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_toolcall — hermes and glm45 tool-call parsing. Each generated sample
 * is assembled from known parts (reasoning, text before, calls written in
 * the model's layout, text after), so the expected content, reasoning and
 * argument strings come from the construction, not from the parser. Every
 * sample is also streamed cut at every byte offset, in 1-byte and random
 * pieces, and must give the same result. Hand-written samples cover
 * malformed and truncated output.
 */
#include "parse_check.h"

/* ==== building texts ==== */

typedef struct sb {
    char buf[8192];
    size_t n;
} sb;

static void sb_add(sb *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k >= sizeof b->buf) abort();
    memcpy(b->buf + b->n, s, k);
    b->n += k;
    b->buf[b->n] = '\0';
}

/* ==== hermes (Qwen) ==== */

typedef struct hcall {
    const char *raw;  /* the JSON the model writes between the tags */
    const char *name; /* expected */
    const char *args; /* expected: Python json.dumps(arguments, ensure_ascii=False) */
} hcall;

static const hcall HCALLS[] = {
    {"{\"name\": \"get_weather\", \"arguments\": {\"location\": \"San Francisco, CA\", "
     "\"unit\": \"celsius\"}}",
     "get_weather", "{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}"},
    {"{\"name\":\"search\",\"arguments\":{\"query\":\"北京 天气\",\"filters\":{\"days\":[1,2,3],"
     "\"exact\":true,\"score\":0.50,\"none\":null}}}",
     "search",
     "{\"query\": \"北京 天气\", \"filters\": {\"days\": [1, 2, 3], \"exact\": true, "
     "\"score\": 0.5, \"none\": null}}"},
    {"{\"name\": \"run_code\", \"arguments\": {\"code\": \"print(\\\"<tool_call>\\\")\\nx = "
     "{'a': 1}\\t# <think>\", \"timeout\": 3e1, \"ratio\": 1e-7}}",
     "run_code",
     "{\"code\": \"print(\\\"<tool_call>\\\")\\nx = {'a': 1}\\t# <think>\", \"timeout\": 30.0, "
     "\"ratio\": 1e-07}"},
    {"{\"arguments\": {}, \"name\": \"get_time\"}", "get_time", "{}"},
    {"{ \"name\" : \"send_message\" ,\n  \"arguments\" : { \"text\" : \"hi 😀 \\u00e9\\ud83d\\ude00"
     "\\/\", \"n\": -0, \"big\": 123456789012345678901234567890, \"f\": 1e16 } }",
     "send_message",
     "{\"text\": \"hi 😀 é😀/\", \"n\": 0, \"big\": 123456789012345678901234567890, "
     "\"f\": 1e+16}"},
};
#define NH (sizeof HCALLS / sizeof HCALLS[0])

static const char *const BEFORE[] = {
    "",
    "I'll look that up for you.\n\n",
    "好的，我来帮你查询。\n",
    "Note: a < b && c > d; see </tool> and <tool_ and <think tags\n",
};
static const char *const AFTER[] = {"", "\n", "\nDone — 完成。 <tool_"};

/* Reasoning shapes of Qwen3 output. */
enum { R_NONE, R_EMITTED, R_PROMPT_OPEN, R_DISABLED, R_NOT_EMITTED, R_COUNT };
static const char *const THOUGHT =
    "The user wants the weather; 用户想知道天气。 I could call get_weather with "
    "{\"location\": \"SF\"} or write <tool_call> by hand. 1 < 2 </thin k>";

static void hermes_call(sb *b, const hcall *c, int layout)
{
    static const char *const open[] = {"<tool_call>\n", "<tool_call>", "<tool_call>\n  "};
    static const char *const close[] = {"\n</tool_call>", "</tool_call>", "  \n\n</tool_call>"};
    sb_add(b, open[layout]);
    sb_add(b, c->raw);
    sb_add(b, close[layout]);
}

static void test_hermes_generated(void)
{
    int samples = 0;
    for (int r = 0; r < R_COUNT; r++)
        for (size_t bi = 0; bi < 4; bi++)
            for (int ncalls = 0; ncalls <= 3; ncalls++)
                for (size_t ai = 0; ai < 3; ai++) {
                    int layout = (int)((bi + ai + (size_t)ncalls) % 3);
                    static const char *const sep[] = {"\n", "", "\n\n"};
                    octo_text_parse_opts o = {.tools = OCTO_TEXT_TOOLS_HERMES,
                                              .reasoning = OCTO_TEXT_REASONING_QWEN3,
                                              .thinking_enabled = true};
                    sb text = {0}, want = {0};
                    const char *names[3], *args[3];
                    const char *reasoning = NULL;
                    if (r == R_NONE) o.reasoning = OCTO_TEXT_REASONING_NONE;
                    if (r == R_DISABLED) o.thinking_enabled = false;
                    if (r == R_PROMPT_OPEN) o.prompt_in_think = true;
                    if (r == R_EMITTED) sb_add(&text, "<think>\n");
                    if (r == R_EMITTED || r == R_PROMPT_OPEN) {
                        sb_add(&text, THOUGHT);
                        sb_add(&text, "\n</think>\n\n");
                        sb_add(&want, "\n\n");
                        reasoning = r == R_EMITTED ? "\n" : "";
                    }
                    sb_add(&text, BEFORE[bi]);
                    sb_add(&want, BEFORE[bi]);
                    for (int k = 0; k < ncalls; k++) {
                        const hcall *c = &HCALLS[(bi + ai + (size_t)k * 2) % NH];
                        if (k) sb_add(&text, sep[layout]);
                        hermes_call(&text, c, layout);
                        names[k] = c->name;
                        args[k] = c->args;
                    }
                    sb_add(&text, AFTER[ai]);
                    /* Whitespace after a call is dropped; other text kept. */
                    if (ncalls == 0 || ai == 2) sb_add(&want, AFTER[ai]);
                    char rbuf[1024] = "";
                    if (reasoning) {
                        snprintf(rbuf, sizeof rbuf, "%s%s\n", reasoning, THOUGHT);
                        reasoning = rbuf;
                    }
                    char label[64];
                    snprintf(label, sizeof label, "hermes r%d b%zu c%d a%zu", r, bi, ncalls, ai);
                    json_t *m = pc_check_splits(&o, text.buf, text.n, label);
                    bool null_content = want.n == 0 && (ncalls > 0 || reasoning);
                    pc_expect(m, null_content ? NULL : want.buf, reasoning, ncalls, names, args,
                              label);
                    json_decref(m);
                    samples++;
                }
    CHECK_EQ_INT(samples, 240);
}

/* ==== hand-written hermes cases ==== */

typedef struct hcase {
    const char *label;
    const char *text;
    const char *content; /* NULL: null */
    int ncalls;
    const char *names[3];
    const char *args[3];
} hcase;

static const hcase HCASES[] = {
    {"bad json stays content",
     "Let me try.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>",
     "Let me try.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>", 0,
     {0}, {0}},
    {"missing arguments", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
     "<tool_call>\n{\"name\": \"f\"}\n</tool_call>", 0, {0}, {0}},
    {"name not a string", "<tool_call>{\"name\": 3, \"arguments\": {}}</tool_call>",
     "<tool_call>{\"name\": 3, \"arguments\": {}}</tool_call>", 0, {0}, {0}},
    {"not an object", "<tool_call>[1, 2]</tool_call>", "<tool_call>[1, 2]</tool_call>", 0, {0},
     {0}},
    {"trailing garbage", "<tool_call>{\"name\": \"f\", \"arguments\": {}} x</tool_call>",
     "<tool_call>{\"name\": \"f\", \"arguments\": {}} x</tool_call>", 0, {0}, {0}},
    {"string arguments are dumped as a string",
     "<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}\n</tool_call>", NULL, 1,
     {"f"}, {"\"{\\\"a\\\": 1}\""}},
    {"unterminated but complete call counts",
     "Sure.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": [true, false]}}\n", "Sure.\n",
     1, {"f"}, {"{\"x\": [true, false]}"}},
    {"truncated mid-call", "Sure.\n<tool_call>\n{\"name\": \"get_wea",
     "Sure.\n<tool_call>\n{\"name\": \"get_wea", 0, {0}, {0}},
    {"truncated mid-open-tag", "Sure.\n<tool_ca", "Sure.\n<tool_ca", 0, {0}, {0}},
    {"truncated mid-close-tag",
     "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_",
     "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_", 0, {0}, {0}},
    {"bad call after a good one",
     "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{oops}\n"
     "</tool_call>\nmore",
     "\n<tool_call>\n{oops}\n</tool_call>\nmore", 1, {"f"}, {"{}"}},
    {"text between calls",
     "<tool_call>{\"name\": \"a\", \"arguments\": {\"i\": 1}}</tool_call>\nAlso the time:\n"
     "<tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>\n",
     "\nAlso the time:\n", 2, {"a", "b"}, {"{\"i\": 1}", "{}"}},
    {"duplicate keys: last value, first place",
     "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1, \"b\": 2, \"a\": 3}}</tool_call>",
     NULL, 1, {"f"}, {"{\"a\": 3, \"b\": 2}"}},
    {"NaN and Infinity",
     "<tool_call>{\"name\": \"f\", \"arguments\": [NaN, -Infinity, 1e400, -0.0, 0.1]}"
     "</tool_call>",
     NULL, 1, {"f"}, {"[NaN, -Infinity, Infinity, -0.0, 0.1]"}},
    {"control characters escaped",
     "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"\\u0001\\u001f\\b\\f\\u007f\"}}"
     "</tool_call>",
     NULL, 1, {"f"}, {"{\"s\": \"\\u0001\\u001f\\b\\f\x7f\"}"}},
    {"raw newline in a JSON string is invalid",
     "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"a\nb\"}}</tool_call>",
     "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"a\nb\"}}</tool_call>", 0, {0}, {0}},
    {"empty text", "", "", 0, {0}, {0}},
    {"only whitespace", " \n\t ", " \n\t ", 0, {0}, {0}},
    {"open tag inside a call body",
     "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"<tool_call>\"}}</tool_call>", NULL,
     1, {"f"}, {"{\"s\": \"<tool_call>\"}"}},
    {"close tag inside a string ends the call",
     "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"</tool_call>\"}}</tool_call>",
     "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"</tool_call>\"}}</tool_call>", 0, {0},
     {0}},
};

static void test_hermes_cases(void)
{
    octo_text_parse_opts o = {.tools = OCTO_TEXT_TOOLS_HERMES, .thinking_enabled = true};
    for (size_t i = 0; i < sizeof HCASES / sizeof HCASES[0]; i++) {
        const hcase *c = &HCASES[i];
        json_t *m = pc_check_splits(&o, c->text, strlen(c->text), c->label);
        pc_expect(m, c->content, NULL, c->ncalls, c->names, c->args, c->label);
        bool called = false;
        json_t *m2 = NULL;
        CHECK(octo_text_output_parse(&o, c->text, strlen(c->text), &m2, &called) == OCTO_OK);
        CHECK(called == (c->ncalls > 0));
        json_decref(m2);
        json_decref(m);
    }
}

/* ==== glm45 ==== */

typedef struct gcall {
    const char *name;
    int nargs;
    const char *keys[4];
    const char *vals[4];
    const char *args; /* expected: json.dumps(dict) with ensure_ascii */
} gcall;

static const gcall GCALLS[] = {
    {"get_weather", 2, {"city", "days"}, {"北京", "3"},
     "{\"city\": \"\\u5317\\u4eac\", \"days\": 3}"},
    {"search", 3, {"query", "filters", "exact"},
     {"rust async  traits", "{\"lang\": [\"en\", \"zh\"], \"limit\": 10.0}", "false"},
     "{\"query\": \"rust async  traits\", \"filters\": {\"lang\": [\"en\", \"zh\"], "
     "\"limit\": 10.0}, \"exact\": false}"},
    {"pylit", 4, {"a", "b", "c", "d"}, {"True", "None", "('x', 2)", "{'k': 'v', 1: [1,]}"},
     "{\"a\": true, \"b\": null, \"c\": [\"x\", 2], \"d\": {\"k\": \"v\", \"1\": [1]}}"},
    {"escaped", 3, {"payload", "code", "emoji"},
     {"{\\\"a\\\": 1}", "line1\nline2 \"q\" <b>", "😀 ok"},
     "{\"payload\": {\"a\": 1}, \"code\": \"line1\\nline2 \\\"q\\\" <b>\", "
     "\"emoji\": \"\\ud83d\\ude00 ok\"}"},
    {"get_time", 0, {0}, {0}, "{}"},
};
#define NG (sizeof GCALLS / sizeof GCALLS[0])

static void glm_call(sb *b, const gcall *c, int layout)
{
    sb_add(b, "<tool_call>");
    sb_add(b, c->name);
    if (layout == 2 && c->nargs == 0) { /* what GLM's template renders for no args */
        sb_add(b, "</tool_call>");
        return;
    }
    if (layout != 2) sb_add(b, "\n"); /* layout 2: llama.cpp's GLM-4.5 template puts none */
    for (int i = 0; i < c->nargs; i++) {
        sb_add(b, "<arg_key>");
        sb_add(b, c->keys[i]);
        sb_add(b, layout == 1 ? "</arg_key>\n\n" : "</arg_key>\n");
        sb_add(b, layout == 1 ? "<arg_value> " : "<arg_value>");
        sb_add(b, c->vals[i]);
        sb_add(b, layout == 1 ? "\n</arg_value>  \n" : "</arg_value>\n");
    }
    sb_add(b, "</tool_call>");
}

enum { G_NONE, G_THINK, G_DISABLED, G_NOT_EMITTED, G_COUNT };

static void test_glm_generated(void)
{
    static const char *const thought = "用户问天气，我应该调用 get_weather。 <arg_key>x</arg_key>";
    int samples = 0;
    for (int r = 0; r < G_COUNT; r++)
        for (size_t bi = 0; bi < 4; bi++)
            for (int ncalls = 0; ncalls <= 3; ncalls++)
                for (size_t ai = 0; ai < 3; ai++) {
                    int layout = (int)((bi + ai + (size_t)ncalls) % 3);
                    octo_text_parse_opts o = {.tools = OCTO_TEXT_TOOLS_GLM45,
                                              .reasoning = OCTO_TEXT_REASONING_GLM45,
                                              .thinking_enabled = r != G_DISABLED};
                    sb text = {0}, want = {0};
                    const char *names[3], *args[3];
                    const char *reasoning = NULL;
                    if (r == G_NONE) o.reasoning = OCTO_TEXT_REASONING_NONE;
                    if (r == G_THINK) {
                        sb_add(&text, "\n<think>");
                        sb_add(&text, thought);
                        sb_add(&text, "</think>\n");
                        sb_add(&want, "\n");
                        reasoning = thought;
                    }
                    sb_add(&text, BEFORE[bi]);
                    sb_add(&want, BEFORE[bi]);
                    for (int k = 0; k < ncalls; k++) {
                        const gcall *c = &GCALLS[(bi + ai + (size_t)k * 3) % NG];
                        if (k) sb_add(&text, "\n");
                        glm_call(&text, c, layout);
                        names[k] = c->name;
                        args[k] = c->args;
                    }
                    sb_add(&text, AFTER[ai]);
                    if (ncalls == 0 || ai == 2) sb_add(&want, AFTER[ai]);
                    char label[64];
                    snprintf(label, sizeof label, "glm45 r%d b%zu c%d a%zu", r, bi, ncalls, ai);
                    json_t *m = pc_check_splits(&o, text.buf, text.n, label);
                    bool null_content = want.n == 0 && (ncalls > 0 || reasoning);
                    pc_expect(m, null_content ? NULL : want.buf, reasoning, ncalls, names, args,
                              label);
                    json_decref(m);
                    samples++;
                }
    CHECK_EQ_INT(samples, 192);
}

static void test_glm_cases(void)
{
    static const char *tools_json =
        "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
        "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, "
        "\"days\": {\"type\": \"string\"}, \"n\": {\"type\": \"integer\"}}}}}]";
    json_t *defs = json_loads(tools_json, 0, NULL);
    octo_text_parse_opts o = {.tools = OCTO_TEXT_TOOLS_GLM45, .thinking_enabled = true,
                              .tool_defs = defs};
    const hcase cases[] = {
        {"string-typed parameters stay strings",
         "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>null</arg_value>\n"
         "<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n<arg_key>n</arg_key>\n"
         "<arg_value>3</arg_value>\n</tool_call>",
         NULL, 1, {"get_weather"}, {"{\"city\": \"null\", \"days\": \"3\", \"n\": 3}"}},
        {"unclosed call is content", "Hi\n<tool_call>get_weather\n<arg_key>city</arg_key>\n",
         "Hi\n<tool_call>get_weather\n<arg_key>city</arg_key>\n", 0, {0}, {0}},
        {"key without value is content",
         "<tool_call>f\n<arg_key>a</arg_key>\n</tool_call>",
         "<tool_call>f\n<arg_key>a</arg_key>\n</tool_call>", 0, {0}, {0}},
        {"junk between pairs is content",
         "<tool_call>f\n<arg_key>a</arg_key>\n<arg_value>1</arg_value>\njunk\n</tool_call>",
         "<tool_call>f\n<arg_key>a</arg_key>\n<arg_value>1</arg_value>\njunk\n</tool_call>", 0,
         {0}, {0}},
        {"empty name is content", "<tool_call>\n<arg_key>a</arg_key></tool_call>",
         "<tool_call>\n<arg_key>a</arg_key></tool_call>", 0, {0}, {0}},
        {"literal backslash-n separators",
         "<tool_call>f\\n<arg_key>a</arg_key>\\n<arg_value>[1, 2]</arg_value>\\n</tool_call>",
         NULL, 1, {"f"}, {"{\"a\": [1, 2]}"}},
        {"duplicate keys and odd values",
         "<tool_call>f\n<arg_key>a</arg_key><arg_value>1</arg_value><arg_key>b</arg_key>"
         "<arg_value>-0</arg_value><arg_key>a</arg_key><arg_value>1e400</arg_value>"
         "<arg_key>c</arg_key><arg_value></arg_value><arg_key>d</arg_key>"
         "<arg_value>{'x': (1,)}</arg_value><arg_key>e</arg_key><arg_value>[True, "
         "'é']</arg_value></tool_call>",
         NULL, 1, {"f"},
         {"{\"a\": Infinity, \"b\": 0, \"c\": \"\", \"d\": {\"x\": [1]}, \"e\": [true, "
          "\"\\u00e9\"]}"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hcase *c = &cases[i];
        json_t *m = pc_check_splits(&o, c->text, strlen(c->text), c->label);
        pc_expect(m, c->content, NULL, c->ncalls, c->names, c->args, c->label);
        json_decref(m);
    }
    json_decref(defs);
}

/* ==== invalid input, limits on holding back, required mode ==== */

static void test_invalid_utf8(void)
{
    octo_text_parse_opts o = {.tools = OCTO_TEXT_TOOLS_HERMES,
                              .reasoning = OCTO_TEXT_REASONING_QWEN3,
                              .thinking_enabled = true};
    const char *bad[] = {"ok \xff then", "ends inside \xe5\x8c", "\xc0\xaf overlong",
                         "<tool_call>{\"name\": \"\xed\xa0\x80\"}</tool_call>"};
    for (size_t i = 0; i < 4; i++) {
        json_t *m = NULL;
        CHECK_EQ_INT(octo_text_output_parse(&o, bad[i], strlen(bad[i]), &m, NULL),
                     OCTO_E_INVALID);
        json_decref(pc_check_splits(&o, bad[i], strlen(bad[i]), "invalid utf8"));
    }
}

/* Bytes a stream may hold back after seeing prefix p: a proper prefix of
 * the tag at the end, or an unfinished UTF-8 character. */
static size_t expect_hold(const char *p, size_t n, const char *tag)
{
    size_t t = strlen(tag), h = 0;
    for (size_t k = 1; k < t && k <= n; k++)
        if (memcmp(p + n - k, tag, k) == 0) h = k;
    size_t u = 0;
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = (unsigned char)p[n - k];
        if ((c & 0xC0) == 0x80) continue;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (need > k) u = k;
        break;
    }
    return h > u ? h : u;
}

static void test_minimal_holdback(void)
{
    const char *text = "a <tool_ b <tool_call c < d 😀 e <<tool_cal</tool_call>< 北京 <";
    octo_text_parse_opts o = {.tools = OCTO_TEXT_TOOLS_HERMES, .thinking_enabled = true};
    octo_text_output_stream *st;
    CHECK(octo_text_output_stream_new(&o, &st) == OCTO_OK);
    size_t n = strlen(text), got = 0;
    for (size_t k = 1; k <= n; k++) {
        json_t *d;
        size_t i;
        json_t *ev;
        CHECK(octo_text_output_stream_feed(st, text + k - 1, 1, &d) == OCTO_OK);
        json_array_foreach(d, i, ev) got += json_string_length(json_object_get(ev, "content"));
        json_decref(d);
        if (got != k - expect_hold(text, k, "<tool_call>")) {
            CHECK_EQ_INT(got, k - expect_hold(text, k, "<tool_call>"));
            break;
        }
    }
    octo_text_output_stream_free(st);
}

static void test_required(void)
{
    json_t *calls = NULL;
    const char *t = "[{\"name\": \"get_weather\", \"parameters\": {\"city\": \"北京\"}}, "
                    "{\"name\": \"get_time\", \"arguments\": {\"tz\": [1.50]}}, {\"name\": \"x\"}]";
    CHECK(octo_text_tool_calls_parse_required(t, strlen(t), &calls) == OCTO_OK);
    CHECK_EQ_INT(json_array_size(calls), 3);
    const char *names[] = {"get_weather", "get_time", "x"};
    const char *args[] = {"{\"city\": \"北京\"}", "{\"tz\": [1.5]}", "{}"};
    for (size_t i = 0; i < 3 && i < json_array_size(calls); i++) {
        json_t *fn = json_object_get(json_array_get(calls, i), "function");
        CHECK_EQ_STR(json_string_value(json_object_get(fn, "name")), names[i]);
        CHECK_EQ_STR(json_string_value(json_object_get(fn, "arguments")), args[i]);
    }
    json_decref(calls);
    const char *one = " {\"name\": \"f\", \"parameters\": {}} ";
    CHECK(octo_text_tool_calls_parse_required(one, strlen(one), &calls) == OCTO_OK);
    CHECK_EQ_INT(json_array_size(calls), 1);
    json_decref(calls);
    const char *bad[] = {"[]", "[{\"parameters\": {}}]", "{\"name\": 1}", "[{\"name\": \"f\"}",
                         "not json", "[1]"};
    for (size_t i = 0; i < 6; i++)
        CHECK_EQ_INT(octo_text_tool_calls_parse_required(bad[i], strlen(bad[i]), &calls),
                     OCTO_E_PARSE);
}

/* Streams `t` through octo_text_required_stream in pieces of `piece` bytes
 * (0: random 1..12) and checks the deltas against the whole-text parse:
 * per call a first delta with its index, an id, the name and arguments "",
 * then pieces whose concatenation is the whole response's arguments. Also
 * that the first call is announced before the text ends when `early`. */
static void required_stream_case(const char *t, size_t piece, bool early)
{
    json_t *whole = NULL;
    size_t n = strlen(t);
    CHECK(octo_text_tool_calls_parse_required(t, n, &whole) == OCTO_OK);
    if (!whole) return;
    octo_text_required_stream *rs = NULL;
    CHECK(octo_text_required_stream_new(&rs) == OCTO_OK);
    if (!rs) return;
    size_t ncalls = json_array_size(whole), first_at = 0;
    char args[8][256] = {{0}};
    int heads[8] = {0}, bad = 0;
    for (size_t at = 0; at < n;) {
        size_t k = piece ? piece : 1 + (size_t)(pc_rand() % 12);
        if (k > n - at) k = n - at;
        json_t *d = NULL;
        CHECK(octo_text_required_stream_feed(rs, t + at, k, &d) == OCTO_OK);
        at += k;
        size_t i;
        json_t *e;
        json_array_foreach(d, i, e) {
            json_t *tc = json_object_get(e, "tool_calls");
            json_t *call = json_array_get(tc, 0), *fn = json_object_get(call, "function");
            int idx = (int)json_integer_value(json_object_get(call, "index"));
            const char *a = json_string_value(json_object_get(fn, "arguments"));
            bad += json_array_size(tc) != 1 || idx < 0 || idx >= (int)ncalls || idx > 7 || !a;
            if (bad) break;
            if (json_object_get(fn, "name")) { /* the first delta of a call */
                json_t *w = json_object_get(json_array_get(whole, (size_t)idx), "function");
                const char *id = json_string_value(json_object_get(call, "id"));
                bad += heads[idx]++ != 0 || strcmp(a, "") != 0 || !id || strncmp(id, "call_", 5) ||
                       strcmp(json_string_value(json_object_get(fn, "name")),
                              json_string_value(json_object_get(w, "name"))) != 0;
                if (idx == 0 && !first_at) first_at = at;
            } else {
                bad += !heads[idx] || strlen(args[idx]) + strlen(a) >= sizeof args[idx];
                if (!bad) strcat(args[idx], a);
            }
        }
        json_decref(d);
    }
    for (size_t i = 0; i < ncalls && i < 8; i++) {
        json_t *w = json_object_get(json_array_get(whole, i), "function");
        bad += heads[i] != 1 ||
               strcmp(args[i], json_string_value(json_object_get(w, "arguments"))) != 0;
        if (heads[i] != 1 || strcmp(args[i], json_string_value(json_object_get(w, "arguments"))))
            fprintf(stderr, "call %zu: streamed '%s' whole '%s'\n", i, args[i],
                    json_string_value(json_object_get(w, "arguments")));
    }
    CHECK_EQ_INT(bad, 0);
    if (early) CHECK(first_at > 0 && first_at < n);
    octo_text_required_stream_free(rs);
    json_decref(whole);
}

static void test_required_stream(void)
{
    const char *texts[] = {
        "[{\"name\": \"get_weather\", \"parameters\": {\"city\": \"北京\", \"days\": 3}}, "
        "{\"name\": \"get_time\", \"arguments\": {\"tz\": [1.50, {\"a\": \"}],\\\"\"}]}}, "
        "{\"name\": \"x\"}]",
        "[\n  {\n    \"name\" : \"f\\u00e9\",\n    \"parameters\" : {\n      \"q\" : \"a, b\",\n"
        "      \"n\" : -1.5e3 , \"t\" : true,\"z\":null\n    }\n  }\n]",
        "[{\"parameters\": {\"k\": {\"deep\": [1, 2, {\"x\": \"y\"}]}}, \"name\": \"late\"}]",
        "{\"name\": \"single\", \"parameters\": {}}",
        "[{\"name\": \"a\", \"extra\": [1, {\"name\": \"no\"}], \"parameters\": {\"v\": 1}},"
        "{\"name\": \"b\", \"parameters\": {\"w\": \"\\\"quoted\\\"\"}}]",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        required_stream_case(texts[i], 1, i != 3);
        required_stream_case(texts[i], 5, false);
        required_stream_case(texts[i], 0, false);
        required_stream_case(texts[i], strlen(texts[i]), false); /* all at once */
    }
    /* a member's piece goes out as soon as it is complete */
    octo_text_required_stream *rs = NULL;
    CHECK(octo_text_required_stream_new(&rs) == OCTO_OK);
    const char *part = "[{\"name\": \"f\", \"parameters\": {\"a\": 1, \"b\": ";
    json_t *d = NULL;
    CHECK(rs && octo_text_required_stream_feed(rs, part, strlen(part), &d) == OCTO_OK);
    CHECK_EQ_INT(json_array_size(d), 2);
    json_t *fn = json_object_get(json_array_get(json_object_get(json_array_get(d, 1),
                                                                "tool_calls"), 0), "function");
    CHECK_EQ_STR(json_string_value(json_object_get(fn, "arguments")), "{\"a\": 1");
    json_decref(d);
    octo_text_required_stream_free(rs);
}

static void test_format_names(void)
{
    octo_text_tool_format t;
    octo_text_reasoning_format r;
    CHECK(octo_text_tool_format_parse("hermes", &t) == OCTO_OK && t == OCTO_TEXT_TOOLS_HERMES);
    CHECK(octo_text_tool_format_parse("glm45", &t) == OCTO_OK && t == OCTO_TEXT_TOOLS_GLM45);
    CHECK(octo_text_tool_format_parse("pythonic", &t) == OCTO_E_NOT_FOUND);
    CHECK(octo_text_reasoning_format_parse("qwen3", &r) == OCTO_OK &&
          r == OCTO_TEXT_REASONING_QWEN3);
    CHECK(octo_text_reasoning_format_parse("deepseek_r1", &r) == OCTO_OK &&
          r == OCTO_TEXT_REASONING_DEEPSEEK_R1);
    CHECK(octo_text_reasoning_format_parse("glm45", &r) == OCTO_OK &&
          r == OCTO_TEXT_REASONING_GLM45);
    CHECK(octo_text_reasoning_format_parse("x", &r) == OCTO_E_NOT_FOUND);
}


/* Every allocation of a parse may fail: the error comes back (never a
 * crash) and nothing of ours leaks. */
static void test_alloc_failures(void)
{
    static const char *tools_json =
        "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": "
        "{\"properties\": {\"s\": {\"type\": \"string\"}}}}}]";
    json_t *defs = json_loads(tools_json, 0, NULL);
    const char *texts[2] = {
        "<think>\nplan</think>\n\nOk.\n<tool_call>\n{\"name\": \"f\", \"arguments\": "
        "{\"a\": [1.5, \"x\"], \"b\": {\"c\": null}}}\n</tool_call>\n<tool_call>{bad}</tool_call>",
        "\n<think>r</think>\nHi\n<tool_call>f\n<arg_key>s</arg_key>\n<arg_value>1</arg_value>\n"
        "<arg_key>t</arg_key>\n<arg_value>{'k': (1, 2.5)}</arg_value>\n</tool_call>",
    };
    octo_text_tool_format fmts[2] = {OCTO_TEXT_TOOLS_HERMES, OCTO_TEXT_TOOLS_GLM45};
    octo_text_reasoning_format rfs[2] = {OCTO_TEXT_REASONING_QWEN3, OCTO_TEXT_REASONING_GLM45};
    for (int t = 0; t < 2; t++) {
        octo_text_parse_opts o = {.tools = fmts[t], .reasoning = rfs[t], .thinking_enabled = true,
                                  .tool_defs = defs};
        size_t n = strlen(texts[t]);
        int ok_whole = 0, ok_stream = 0;
        for (long k = 1; k < 100; k++) {
            size_t live = octo_alloc_live_bytes();
            json_t *m = NULL, *d = NULL;
            octo_text_output_stream *st = NULL;
            octo_alloc_fail_after(k);
            octo_err rc = octo_text_output_parse(&o, texts[t], n, &m, NULL);
            CHECK(rc == OCTO_OK || rc == OCTO_E_NOMEM);
            ok_whole += rc == OCTO_OK;
            json_decref(m);
            octo_alloc_fail_after(k);
            rc = octo_text_output_stream_new(&o, &st);
            for (size_t i = 0; !rc && i < n; i += 7) {
                rc = octo_text_output_stream_feed(st, texts[t] + i, n - i < 7 ? n - i : 7, &d);
                if (!rc) json_decref(d);
            }
            if (!rc) rc = octo_text_output_stream_finish(st, &d);
            if (!rc) json_decref(d);
            CHECK(rc == OCTO_OK || rc == OCTO_E_NOMEM);
            ok_stream += rc == OCTO_OK;
            octo_text_output_stream_free(st);
            octo_alloc_fail_after(0);
            CHECK_EQ_INT(octo_alloc_live_bytes(), live);
        }
        /* some allocations failed, and with enough room the parse succeeds */
        CHECK(ok_whole > 0 && ok_whole < 99 && ok_stream > 0 && ok_stream < 99);
    }
    json_decref(defs);
}

TEST_MAIN(TEST(test_hermes_generated), TEST(test_hermes_cases), TEST(test_glm_generated),
          TEST(test_glm_cases), TEST(test_invalid_utf8), TEST(test_minimal_holdback),
          TEST(test_required), TEST(test_required_stream), TEST(test_format_names), TEST(test_alloc_failures))
