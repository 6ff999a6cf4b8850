/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_parsers — drives the output parsers for the Python tests: argv[1]
 * is a tool format ("hermes", "glm45"), argv[2] a reasoning format, argv[3]
 * (optional) a JSON file with the request's tools. Stdin holds cases
 * separated by NUL bytes; for each, one line of JSON is printed: the
 * whole-text message plus "stream" (the concatenated streamed deltas, fed
 * one byte at a time), or {"error": code}. With argv[1] "prompt-in-think"
 * it prints true/false per case instead (octo_text_prompt_in_think).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolcall/toolcall.h"

static json_t *streamed(const octo_text_parse_opts *o, const char *s, size_t n)
{
    octo_text_output_stream *st;
    json_t *acc = json_pack("{s:s, s:s, s:[]}", "content", "", "reasoning_content", "",
                            "tool_calls");
    if (octo_text_output_stream_new(o, &st)) return NULL;
    for (size_t i = 0; i <= n; i++) {
        json_t *d, *ev;
        size_t k;
        octo_err rc = i < n ? octo_text_output_stream_feed(st, s + i, 1, &d)
                            : octo_text_output_stream_finish(st, &d);
        if (rc) {
            json_object_set_new(acc, "error", json_integer(rc));
            break;
        }
        json_array_foreach(d, k, ev) {
            const char *keys[2] = {"content", "reasoning_content"};
            for (int j = 0; j < 2; j++) {
                json_t *v = json_object_get(ev, keys[j]);
                if (!v) continue;
                char *cat = NULL;
                size_t a = json_string_length(json_object_get(acc, keys[j]));
                size_t b = json_string_length(v);
                cat = malloc(a + b + 1);
                memcpy(cat, json_string_value(json_object_get(acc, keys[j])), a);
                memcpy(cat + a, json_string_value(v), b);
                json_object_set_new(acc, keys[j], json_stringn(cat, a + b));
                free(cat);
            }
            json_t *tc = json_array_get(json_object_get(ev, "tool_calls"), 0);
            if (tc) {
                json_t *fn = json_object_get(tc, "function");
                json_t *calls = json_object_get(acc, "tool_calls");
                if (json_object_get(fn, "name"))
                    json_array_append_new(calls, json_pack("{s:O, s:s}", "name",
                                                           json_object_get(fn, "name"),
                                                           "arguments", ""));
                json_t *last = json_array_get(calls, json_array_size(calls) - 1);
                const char *args = json_string_value(json_object_get(fn, "arguments"));
                if (last && args && *args)
                    json_object_set_new(last, "arguments", json_string(args));
            }
        }
        json_decref(d);
    }
    octo_text_output_stream_free(st);
    return acc;
}

int main(int argc, char **argv)
{
    octo_text_parse_opts o = {.thinking_enabled = true};
    json_t *defs = NULL;
    bool prompt_mode = argc > 1 && strcmp(argv[1], "prompt-in-think") == 0;
    if (!prompt_mode && (argc < 3 || octo_text_tool_format_parse(argv[1], &o.tools) ||
        octo_text_reasoning_format_parse(argv[2], &o.reasoning))) {
        fprintf(stderr, "usage: tool_parsers TOOLS REASONING [TOOLS.json]\n");
        return 2;
    }
    if (argc > 3) defs = json_load_file(argv[3], 0, NULL);
    o.tool_defs = defs;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    int c;
    for (;;) {
        c = getchar();
        if ((c == EOF || c == 0) && prompt_mode) {
            puts(octo_text_prompt_in_think(buf, n) ? "true" : "false");
            n = 0;
            if (c == EOF) break;
            continue;
        }
        if (c == EOF || c == 0) {
            json_t *msg = NULL;
            bool called = false;
            octo_err rc = octo_text_output_parse(&o, buf, n, &msg, &called);
            json_t *line = rc ? json_pack("{s:i}", "error", rc) : msg;
            if (!rc) json_object_set_new(line, "stream", streamed(&o, buf, n));
            char *s = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
            puts(s);
            free(s);
            json_decref(line);
            n = 0;
            if (c == EOF) break;
            continue;
        }
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        buf[n++] = (char)c;
    }
    free(buf);
    json_decref(defs);
    return 0;
}
