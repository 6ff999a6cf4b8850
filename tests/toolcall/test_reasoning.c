/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_reasoning — <think> splitting for the qwen3, glm45 and deepseek_r1
 * styles, alone and followed by hermes tool calls. Texts are assembled
 * from parts (leading whitespace, an emitted or omitted <think>, the
 * thought, a close tag or truncation, the answer), so the expected
 * reasoning and content follow from the parts; every text is also
 * streamed cut at every offset and in 1-byte and random pieces.
 */
#include "parse_check.h"

static const char *const LEAD[] = {"", "\n", "\n\n  "};
static const char *const THOUGHTS[] = {
    "",
    ("\nOkay, the user asks 2+2. 好的，用户问二加二。 Emoji 🤔 and a < b, <th, </thi, "
     "<tool_call>{oops</tool_call>\n"),
    "thinking about </thin",
};
static const char *const ANSWERS[] = {
    "",
    "\n\nAnswer: 4 😀",
    "\n\n<think>not again</think> text",
    "\n\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 2}}\n</tool_call>",
};
#define CALL_ANSWER 3

typedef struct want {
    char content[1024];
    bool content_null;
    char reasoning[1024];
    bool has_reasoning;
    int ncalls;
} want;

static void cat(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst), k = strlen(s);
    if (n + k >= cap) abort();
    memcpy(dst + n, s, k + 1);
}

/* The answer as content: a hermes call at its end becomes a tool call. */
static void add_answer(want *w, size_t ai, bool tools)
{
    if (ai == CALL_ANSWER && tools) {
        cat(w->content, sizeof w->content, "\n\n");
        w->ncalls = 1;
        return;
    }
    cat(w->content, sizeof w->content, ANSWERS[ai]);
}

static void test_generated(void)
{
    static const octo_text_reasoning_format styles[] = {
        OCTO_TEXT_REASONING_QWEN3, OCTO_TEXT_REASONING_GLM45, OCTO_TEXT_REASONING_DEEPSEEK_R1};
    int samples = 0;
    for (int si = 0; si < 3; si++)
        for (int flags = 0; flags < 4; flags++)
            for (size_t li = 0; li < 3; li++)
                for (int emit = 0; emit < 2; emit++)
                    for (size_t ri = 0; ri < 3; ri++)
                        for (int closed = 0; closed < 2; closed++)
                            for (size_t ai = 0; ai < 4; ai++)
                                for (int tools = 0; tools < 2; tools++) {
                    if (!closed && ai) continue; /* truncated: no answer */
                    octo_text_parse_opts o = {
                        .tools = tools ? OCTO_TEXT_TOOLS_HERMES : OCTO_TEXT_TOOLS_NONE,
                        .reasoning = styles[si],
                        .thinking_enabled = (flags & 1) == 0,
                        .prompt_in_think = (flags & 2) != 0};
                    char text[2048] = "";
                    want w = {0};
                    cat(text, sizeof text, LEAD[li]);
                    if (emit) cat(text, sizeof text, "<think>");
                    cat(text, sizeof text, THOUGHTS[ri]);
                    if (closed) {
                        cat(text, sizeof text, "</think>");
                        cat(text, sizeof text, ANSWERS[ai]);
                    }
                    bool in_think = o.prompt_in_think || si == 2;
                    if (!o.thinking_enabled || (!emit && !in_think)) {
                        /* All content: only a final call is taken out. */
                        size_t n = strlen(text);
                        if (ai == CALL_ANSWER && tools) {
                            n -= strlen(ANSWERS[ai]) - 2;
                            w.ncalls = 1;
                        }
                        memcpy(w.content, text, n);
                        w.content[n] = '\0';
                    } else {
                        w.has_reasoning = true;
                        if (!emit) cat(w.reasoning, sizeof w.reasoning, LEAD[li]);
                        cat(w.reasoning, sizeof w.reasoning, THOUGHTS[ri]);
                        if (closed) add_answer(&w, ai, tools);
                    }
                    w.content_null = !w.content[0] && (w.has_reasoning || w.ncalls);
                    char label[80];
                    snprintf(label, sizeof label, "style%d flags%d l%zu e%d r%zu c%d a%zu t%d", si,
                             flags, li, emit, ri, closed, ai, tools);
                    json_t *m = pc_check_splits(&o, text, strlen(text), label);
                    const char *names[] = {"add"}, *args[] = {"{\"a\": 2, \"b\": 2}"};
                    pc_expect(m, w.content_null ? NULL : w.content,
                              w.has_reasoning ? w.reasoning : NULL, w.ncalls, names, args, label);
                    json_decref(m);
                    samples++;
                }
    CHECK_EQ_INT(samples, 3 * 4 * 3 * 2 * 3 * (1 + 4) * 2);
}

typedef struct rcase {
    const char *label;
    octo_text_reasoning_format style;
    bool in_think;
    const char *text;
    const char *reasoning; /* NULL: none */
    const char *content;   /* NULL: null */
} rcase;

static const rcase CASES[] = {
    {"qwen3 hybrid thinking", OCTO_TEXT_REASONING_QWEN3, false,
     "<think>\nLet me compute.\n</think>\n\nThe answer is 4.", "\nLet me compute.\n",
     "\n\nThe answer is 4."},
    {"qwen3 thinking-2507 (template opened the block)", OCTO_TEXT_REASONING_QWEN3, true,
     "Let me compute.\n</think>\n\nThe answer is 4.", "Let me compute.\n",
     "\n\nThe answer is 4."},
    {"qwen3 empty think block", OCTO_TEXT_REASONING_QWEN3, false, "<think>\n\n</think>\n\nHi!",
     "\n\n", "\n\nHi!"},
    {"qwen3 truncated inside think", OCTO_TEXT_REASONING_QWEN3, false, "<think>\nHmm, let me",
     "\nHmm, let me", NULL},
    {"qwen3 truncated inside the close tag", OCTO_TEXT_REASONING_QWEN3, false,
     "<think>\nDone</thi", "\nDone</thi", NULL},
    {"qwen3 instruct: no think at all", OCTO_TEXT_REASONING_QWEN3, false, "Hello</think>world",
     NULL, "Hello</think>world"},
    {"qwen3 ends right after the close tag", OCTO_TEXT_REASONING_QWEN3, false,
     "<think>x</think>", "x", NULL},
    {"glm45 with leading newline", OCTO_TEXT_REASONING_GLM45, false,
     "\n<think>用户想要天气。</think>\n好的。", "用户想要天气。", "\n好的。"},
    {"glm45 unclosed block is reasoning", OCTO_TEXT_REASONING_GLM45, false, "\n<think>still",
     "still", NULL},
    {"deepseek_r1 without the open tag", OCTO_TEXT_REASONING_DEEPSEEK_R1, false,
     "Step 1...\n</think>\n\nResult", "Step 1...\n", "\n\nResult"},
    {"deepseek_r1 with the open tag", OCTO_TEXT_REASONING_DEEPSEEK_R1, false,
     "<think>\nStep 1\n</think>Result", "\nStep 1\n", "Result"},
    {"deepseek_r1 whitespace only", OCTO_TEXT_REASONING_DEEPSEEK_R1, false, " \n", " \n", NULL},
    {"empty output inside an open block", OCTO_TEXT_REASONING_QWEN3, true, "", "", NULL},
    {"a second think block is content", OCTO_TEXT_REASONING_QWEN3, false,
     "<think>a</think>b<think>c</think>d", "a", "b<think>c</think>d"},
    {"text before think is not a block", OCTO_TEXT_REASONING_GLM45, false,
     "x<think>a</think>b", NULL, "x<think>a</think>b"},
};

static void test_cases(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const rcase *c = &CASES[i];
        octo_text_parse_opts o = {.reasoning = c->style, .thinking_enabled = true,
                                  .prompt_in_think = c->in_think};
        json_t *m = pc_check_splits(&o, c->text, strlen(c->text), c->label);
        pc_expect(m, c->content, c->reasoning, 0, NULL, NULL, c->label);
        json_decref(m);
    }
}

static void test_thinking_disabled(void)
{
    /* enable_thinking=false: even a think block in the output is content. */
    octo_text_parse_opts o = {.reasoning = OCTO_TEXT_REASONING_QWEN3, .thinking_enabled = false};
    const char *t = "<think>\nx\n</think>\n\ny";
    json_t *m = pc_check_splits(&o, t, strlen(t), "disabled");
    pc_expect(m, t, NULL, 0, NULL, NULL, "disabled");
    json_decref(m);
}

/* While inside the block, the stream holds back only a possible "</think>"
 * start or an unfinished character. */
static void test_minimal_holdback(void)
{
    const char *text = "a </ b </think c 😀 </thi</thinx <";
    octo_text_parse_opts o = {.reasoning = OCTO_TEXT_REASONING_DEEPSEEK_R1,
                              .thinking_enabled = true};
    octo_text_output_stream *st;
    CHECK(octo_text_output_stream_new(&o, &st) == OCTO_OK);
    size_t n = strlen(text), got = 0;
    for (size_t k = 1; k <= n; k++) {
        json_t *d, *ev;
        size_t i;
        CHECK(octo_text_output_stream_feed(st, text + k - 1, 1, &d) == OCTO_OK);
        json_array_foreach(d, i, ev)
            got += json_string_length(json_object_get(ev, "reasoning_content"));
        json_decref(d);
        /* the held part: a proper prefix of the tag at the end, or a UTF-8 tail */
        size_t hold = 0;
        for (size_t h = 1; h < 8 && h <= k; h++)
            if (memcmp(text + k - h, "</think>", h) == 0) hold = h;
        for (size_t h = 1; h <= 3 && h <= k; h++) {
            unsigned char c = (unsigned char)text[k - h];
            if ((c & 0xC0) == 0x80) continue;
            if (c >= 0xF0 && h < 4) hold = h;
            break;
        }
        if (got != k - hold) {
            CHECK_EQ_INT(got, k - hold);
            break;
        }
    }
    octo_text_output_stream_free(st);
}

static void test_dead_after_error(void)
{
    octo_text_parse_opts o = {.thinking_enabled = true};
    octo_text_output_stream *st;
    json_t *d = NULL;
    CHECK(octo_text_output_stream_new(&o, &st) == OCTO_OK);
    CHECK_EQ_INT(octo_text_output_stream_feed(st, "\xff", 1, &d), OCTO_E_INVALID);
    CHECK_EQ_INT(octo_text_output_stream_feed(st, "ok", 2, &d), OCTO_E_INVALID);
    CHECK_EQ_INT(octo_text_output_stream_finish(st, &d), OCTO_E_INVALID);
    octo_text_output_stream_free(st);
    octo_text_output_stream_free(NULL);
    CHECK(octo_text_output_stream_new(&o, &st) == OCTO_OK);
    CHECK_EQ_INT(octo_text_output_stream_finish(st, &d), OCTO_OK);
    CHECK_EQ_INT(json_array_size(d), 0);
    json_decref(d);
    CHECK_EQ_INT(octo_text_output_stream_feed(st, "late", 4, &d), OCTO_E_INVALID);
    octo_text_output_stream_free(st);
}

TEST_MAIN(TEST(test_generated), TEST(test_cases), TEST(test_thinking_disabled),
          TEST(test_minimal_holdback), TEST(test_dead_after_error))
