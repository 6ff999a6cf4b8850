/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse_check — shared checks for the output-parser tests: run the
 * streaming parser over a text cut in many ways (at every byte offset, in
 * 1-byte pieces, in random pieces), accumulate its deltas, and check that
 * they match the whole-text parse; check a whole-text message against
 * expectations built by the test.
 */
#ifndef OCTO_TEST_PARSE_CHECK_H
#define OCTO_TEST_PARSE_CHECK_H

#include "../octo_test.h"
#include "toolcall/toolcall.h"

#define PC_MAX_CALLS 16

typedef struct pc_acc {
    octo_buf content, reasoning;
    int ncalls;
    char *names[PC_MAX_CALLS];
    octo_buf args[PC_MAX_CALLS];
    bool bad_event;
    char why[200];
} pc_acc;

static void pc_acc_init(pc_acc *a)
{
    memset(a, 0, sizeof *a);
    octo_buf_init(&a->content, 1u << 26);
    octo_buf_init(&a->reasoning, 1u << 26);
    for (int i = 0; i < PC_MAX_CALLS; i++) octo_buf_init(&a->args[i], 1u << 26);
}

static void pc_acc_deinit(pc_acc *a)
{
    octo_buf_deinit(&a->content);
    octo_buf_deinit(&a->reasoning);
    for (int i = 0; i < PC_MAX_CALLS; i++) {
        octo_buf_deinit(&a->args[i]);
        free(a->names[i]);
    }
}

static void pc_bad(pc_acc *a, const char *why)
{
    if (!a->bad_event) snprintf(a->why, sizeof a->why, "%s", why);
    a->bad_event = true;
}

/* One delta object: exactly one of content / reasoning_content /
 * tool_calls, text non-empty and valid UTF-8, tool-call pieces in order. */
static void pc_event(pc_acc *a, json_t *ev)
{
    if (json_object_size(ev) != 1) { pc_bad(a, "delta with several keys"); return; }
    json_t *c = json_object_get(ev, "content"), *r = json_object_get(ev, "reasoning_content");
    json_t *t = json_object_get(ev, "tool_calls");
    json_t *txt = c ? c : r;
    if (txt) {
        size_t n = json_string_length(txt);
        if (!json_is_string(txt) || n == 0) { pc_bad(a, "empty text delta"); return; }
        if (!octo_utf8_valid(json_string_value(txt), n, NULL)) { pc_bad(a, "bad utf8"); return; }
        if (octo_buf_append(c ? &a->content : &a->reasoning, json_string_value(txt), n))
            { pc_bad(a, "oom"); return; }
        return;
    }
    if (!json_is_array(t) || json_array_size(t) != 1) { pc_bad(a, "tool_calls shape"); return; }
    json_t *tc = json_array_get(t, 0), *fn = json_object_get(tc, "function");
    json_int_t idx = json_integer_value(json_object_get(tc, "index"));
    const char *args = json_string_value(json_object_get(fn, "arguments"));
    if (!args) { pc_bad(a, "no arguments string"); return; }
    if (json_object_get(tc, "id")) {
        const char *id = json_string_value(json_object_get(tc, "id"));
        const char *type = json_string_value(json_object_get(tc, "type"));
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (idx != a->ncalls || a->ncalls >= PC_MAX_CALLS) { pc_bad(a, "index order"); return; }
        if (!id || strncmp(id, "call_", 5) != 0 || strlen(id) != 29) { pc_bad(a, "id"); return; }
        if (!type || strcmp(type, "function") != 0 || !name) { pc_bad(a, "type/name"); return; }
        if (args[0]) { pc_bad(a, "first tool delta carries arguments"); return; }
        a->names[a->ncalls++] = strdup(name);
        return;
    }
    if (idx != a->ncalls - 1 || json_object_get(fn, "name")) { pc_bad(a, "args delta"); return; }
    if (octo_buf_append(&a->args[idx], args, strlen(args))) pc_bad(a, "oom");
}

static void pc_events(pc_acc *a, json_t *d)
{
    size_t i;
    json_t *ev;
    json_array_foreach(d, i, ev) pc_event(a, ev);
    json_decref(d);
}

static const char *pc_str(const json_t *msg, const char *key)
{
    const char *s = json_string_value(json_object_get(msg, key));
    return s ? s : "";
}

/* Streams text cut at cuts[0..ncuts) (ascending offsets); returns true when
 * the deltas add up to the whole-text message `whole` (NULL when the whole
 * parse failed with `whole_rc`). */
static bool pc_stream_matches(const octo_text_parse_opts *o, const char *text, size_t n,
                              const size_t *cuts, size_t ncuts, const json_t *whole,
                              octo_err whole_rc, bool whole_called, char *why, size_t whylen)
{
    octo_text_output_stream *st;
    pc_acc a;
    octo_err rc = OCTO_OK;
    size_t prev = 0;
    bool ok = true;
    if (octo_text_output_stream_new(o, &st)) {
        snprintf(why, whylen, "stream_new failed");
        return false;
    }
    pc_acc_init(&a);
    for (size_t i = 0; i <= ncuts && !rc; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        json_t *d = NULL;
        rc = octo_text_output_stream_feed(st, text + prev, end - prev, &d);
        if (!rc) pc_events(&a, d);
        prev = end;
    }
    if (!rc) {
        json_t *d = NULL;
        rc = octo_text_output_stream_finish(st, &d);
        if (!rc) pc_events(&a, d);
    }
    if (!whole || rc) {
        ok = !whole && rc == whole_rc;
        if (!ok) snprintf(why, whylen, "stream rc %d, whole rc %d", rc, whole_rc);
        goto done;
    }
    if (a.bad_event) {
        snprintf(why, whylen, "bad delta: %s", a.why);
        ok = false;
        goto done;
    }
    const char *wc = pc_str(whole, "content"), *wr = pc_str(whole, "reasoning_content");
    size_t wcn = json_string_length(json_object_get(whole, "content"));
    size_t wrn = json_string_length(json_object_get(whole, "reasoning_content"));
    if (wcn != a.content.len || memcmp(wc, a.content.data ? a.content.data : "", a.content.len)) {
        snprintf(why, whylen, "content differs: stream \"%.60s\" whole \"%.60s\"",
                 a.content.data ? a.content.data : "", wc);
        ok = false;
        goto done;
    }
    if (wrn != a.reasoning.len ||
        memcmp(wr, a.reasoning.data ? a.reasoning.data : "", a.reasoning.len)) {
        snprintf(why, whylen, "reasoning differs: stream \"%.60s\" whole \"%.60s\"",
                 a.reasoning.data ? a.reasoning.data : "", wr);
        ok = false;
        goto done;
    }
    json_t *calls = json_object_get(whole, "tool_calls");
    if ((int)json_array_size(calls) != a.ncalls ||
        octo_text_output_stream_tools_called(st) != whole_called) {
        snprintf(why, whylen, "calls: stream %d whole %zu", a.ncalls, json_array_size(calls));
        ok = false;
        goto done;
    }
    for (int i = 0; i < a.ncalls; i++) {
        json_t *fn = json_object_get(json_array_get(calls, (size_t)i), "function");
        if (strcmp(pc_str(fn, "name"), a.names[i]) != 0 ||
            strcmp(pc_str(fn, "arguments"), a.args[i].data ? a.args[i].data : "") != 0) {
            snprintf(why, whylen, "call %d differs", i);
            ok = false;
        }
    }
done:
    pc_acc_deinit(&a);
    octo_text_output_stream_free(st);
    return ok;
}

static uint64_t pc_rng = 0x9E3779B97F4A7C15ull;
static uint64_t pc_rand(void)
{
    pc_rng ^= pc_rng << 13;
    pc_rng ^= pc_rng >> 7;
    pc_rng ^= pc_rng << 17;
    return pc_rng;
}

/* Whole parse, then streams cut at every offset, in 1-byte pieces and in
 * random pieces; one CHECK per cutting style. Returns the whole message
 * (caller frees) or NULL when the whole parse failed. */
static json_t *pc_check_splits(const octo_text_parse_opts *o, const char *text, size_t n,
                               const char *label)
{
    json_t *whole = NULL;
    bool called = false;
    char why[300] = "";
    octo_err wrc = octo_text_output_parse(o, text, n, &whole, &called);
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    bool ok = true;
    for (size_t k = 0; k <= n && ok; k++) {
        cuts[0] = k;
        ok = pc_stream_matches(o, text, n, cuts, 1, whole, wrc, called, why, sizeof why);
        if (!ok) fprintf(stderr, "[%s] cut at %zu: %s\n", label, k, why);
    }
    CHECK(ok);
    for (size_t k = 0; k < n; k++) cuts[k] = k + 1;
    ok = pc_stream_matches(o, text, n, cuts, n ? n - 1 : 0, whole, wrc, called, why, sizeof why);
    if (!ok) fprintf(stderr, "[%s] 1-byte pieces: %s\n", label, why);
    CHECK(ok);
    for (int rep = 0; rep < 4 && ok; rep++) {
        size_t m = 0, at = 0;
        for (;;) {
            at += 1 + (size_t)(pc_rand() % (rep == 3 ? 40 : 7));
            if (at >= n) break;
            cuts[m++] = at;
        }
        ok = pc_stream_matches(o, text, n, cuts, m, whole, wrc, called, why, sizeof why);
        if (!ok) fprintf(stderr, "[%s] random pieces %d: %s\n", label, rep, why);
    }
    CHECK(ok);
    free(cuts);
    return whole;
}

/* Checks a whole-text message against expectations: content (NULL: JSON
 * null), reasoning (NULL: absent), and the calls' names and arguments. */
static void pc_expect(const json_t *msg, const char *content, const char *reasoning, int ncalls,
                      const char *const *names, const char *const *args, const char *label)
{
    int before = octo_test_failures;
    CHECK(msg != NULL);
    if (!msg) return;
    json_t *c = json_object_get(msg, "content"), *r = json_object_get(msg, "reasoning_content");
    if (content) CHECK_EQ_STR(json_string_value(c), content);
    else CHECK(json_is_null(c));
    if (reasoning) CHECK_EQ_STR(json_string_value(r), reasoning);
    else CHECK(r == NULL);
    json_t *calls = json_object_get(msg, "tool_calls");
    CHECK_EQ_INT(json_array_size(calls), ncalls);
    for (int i = 0; i < ncalls && i < (int)json_array_size(calls); i++) {
        json_t *tc = json_array_get(calls, (size_t)i), *fn = json_object_get(tc, "function");
        CHECK_EQ_STR(json_string_value(json_object_get(tc, "type")), "function");
        CHECK(strncmp(pc_str(tc, "id"), "call_", 5) == 0);
        CHECK_EQ_STR(json_string_value(json_object_get(fn, "name")), names[i]);
        CHECK_EQ_STR(json_string_value(json_object_get(fn, "arguments")), args[i]);
    }
    if (octo_test_failures != before) fprintf(stderr, "  ^ in sample [%s]\n", label);
}

#endif /* OCTO_TEST_PARSE_CHECK_H */
