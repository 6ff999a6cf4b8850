/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_parsers — random model output through the output parsers. The first
 * byte picks the options (tool format, reasoning style, thinking, prompt
 * state), the second seeds the split points; bytes 0xF8..0xFF of the rest
 * (never valid UTF-8) expand into the tags the parsers look for, so random
 * inputs reach every state. Asserted, aborting on failure: the whole-text
 * parse and the stream (random pieces, and 1-byte pieces) agree on content,
 * reasoning, calls and errors; every delta is well formed. Also feeds the
 * bytes to the tool_choice=required parser, whole and streamed: no crash,
 * well-formed deltas, and on a one-call list the streamed arguments equal
 * the whole parse's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../toolcall/parse_check.h"

static const char *const TOKENS[8] = {"<tool_call>", "</tool_call>", "<think>", "</think>",
                                      "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint8_t opt = data[0];
    static const char *tools_json =
        "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": "
        "{\"properties\": {\"s\": {\"type\": \"string\"}}}}}]";
    json_t *defs = json_loads(tools_json, 0, NULL);
    octo_text_parse_opts o = {
        .tools = (octo_text_tool_format)(opt % 3),
        .reasoning = (octo_text_reasoning_format)((opt / 3) % 4),
        .thinking_enabled = (opt & 0x40) == 0,
        .prompt_in_think = (opt & 0x80) != 0,
        .tool_defs = defs,
    };
    pc_rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)data[1] << 32 | size);
    data += 2;
    size -= 2;
    char *text = malloc(size * 12 + 1);
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] >= 0xF8) {
            const char *t = TOKENS[data[i] - 0xF8];
            memcpy(text + n, t, strlen(t));
            n += strlen(t);
        } else {
            text[n++] = (char)data[i];
        }
    }
    json_t *whole = NULL;
    bool called = false;
    char why[300];
    octo_err wrc = octo_text_output_parse(&o, text, n, &whole, &called);
    if (wrc != OCTO_OK && wrc != OCTO_E_INVALID) abort();
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    size_t m = 0;
    for (size_t at = 0;;) {
        at += 1 + (size_t)(pc_rand() % 9);
        if (at >= n) break;
        cuts[m++] = at;
    }
    if (!pc_stream_matches(&o, text, n, cuts, m, whole, wrc, called, why, sizeof why)) {
        fprintf(stderr, "random pieces: %s\n", why);
        abort();
    }
    for (size_t k = 0; k + 1 < n; k++) cuts[k] = k + 1;
    if (!pc_stream_matches(&o, text, n, cuts, n ? n - 1 : 0, whole, wrc, called, why,
                           sizeof why)) {
        fprintf(stderr, "1-byte pieces: %s\n", why);
        abort();
    }
    json_t *calls = NULL;
    bool req_ok = octo_text_tool_calls_parse_required(text, n, &calls) == OCTO_OK;
    if (req_ok && json_array_size(calls) == 0) abort();
    /* the streamed form: well-formed deltas on any bytes; on a list that
     * parses whole, one first delta per call and the same arguments */
    octo_text_required_stream *rs = NULL;
    if (octo_text_required_stream_new(&rs) != OCTO_OK) abort();
    size_t heads = 0;
    octo_buf args;
    octo_buf_init(&args, (size_t)1 << 24);
    for (size_t at = 0; at < n;) {
        size_t k = 1 + (size_t)(pc_rand() % 9);
        if (k > n - at) k = n - at;
        json_t *d = NULL;
        if (octo_text_required_stream_feed(rs, text + at, k, &d) != OCTO_OK) abort();
        at += k;
        size_t i;
        json_t *e;
        json_array_foreach(d, i, e) {
            json_t *call = json_array_get(json_object_get(e, "tool_calls"), 0);
            json_t *fn = json_object_get(call, "function");
            const char *a = json_string_value(json_object_get(fn, "arguments"));
            if (!a || !json_is_integer(json_object_get(call, "index"))) abort();
            if (json_object_get(fn, "name")) {
                heads++;
                if (*a) abort();
            } else if (octo_buf_puts(&args, a) != OCTO_OK) {
                abort();
            }
        }
        json_decref(d);
    }
    /* (the whole parse prefers "parameters" over an earlier "arguments";
     * the stream takes whichever comes first) */
    if (req_ok && json_array_size(calls) == 1 && !memmem(text, n, "\"arguments\"", 11)) {
        const char *w = json_string_value(json_object_get(
            json_object_get(json_array_get(calls, 0), "function"), "arguments"));
        if (heads != 1 || strcmp(w, args.data ? args.data : "") != 0) abort();
    }
    octo_buf_deinit(&args);
    octo_text_required_stream_free(rs);
    json_decref(calls);
    free(cuts);
    free(text);
    json_decref(whole);
    json_decref(defs);
    return 0;
}
