/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_render — test driver for the chat-template interpreter. Usage:
 *   tool_render TEMPLATE|- CASES.jsonl
 * Each input line is a JSON object:
 *   {"context": {...}}                         render TEMPLATE with context
 *   {"request": {...}, "opts": {...}}          octo_text_chat_format
 *   {"src": "...", "context": {...}}           parse src instead (TEMPLATE "-")
 * opts: bos_token/eos_token/pad_token/unk_token strings, content_format
 * "auto"|"string"|"openai". Each output line is a JSON object
 * {"ok": true, "text": "..."} or {"ok": false, "error": "...", "code": "..."}.
 * Not a product tool: the Python tests compare its output with jinja2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"

static void emit(octo_err rc, const octo_buf *b, const char *err)
{
    json_t *o = rc ? json_pack("{s:b,s:s,s:s}", "ok", 0, "error", err, "code", octo_err_str(rc))
                   : json_pack("{s:b,s:s%}", "ok", 1, "text", b->data ? b->data : "", b->len);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{\"ok\":false,\"error\":\"output not valid UTF-8\",\"code\":\"x\"}");
    free(s);
    json_decref(o);
}

static void set_opt(const json_t *o, const char *k, const char **dst)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_string(v)) *dst = json_string_value(v);
}

static void run_case(octo_text_template *fixed, const json_t *c)
{
    char err[1024] = "";
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    octo_text_template *t = fixed;
    octo_err rc = OCTO_OK;
    const json_t *src = json_object_get(c, "src");
    if (json_is_string(src)) {
        t = octo_text_template_new(json_string_value(src), json_string_length(src), err,
                                   sizeof err);
        if (!t) rc = OCTO_E_PARSE;
    }
    if (!rc && !t) {
        octo_strlcpy(err, "no template", sizeof err);
        rc = OCTO_E_INVALID;
    }
    if (!rc && json_object_get(c, "request")) {
        octo_text_chat_opts opts = {0};
        const json_t *o = json_object_get(c, "opts");
        set_opt(o, "bos_token", &opts.bos_token);
        set_opt(o, "eos_token", &opts.eos_token);
        set_opt(o, "pad_token", &opts.pad_token);
        set_opt(o, "unk_token", &opts.unk_token);
        const char *fmt = json_string_value(json_object_get(o, "content_format"));
        if (fmt && !strcmp(fmt, "string")) opts.content_format = OCTO_TEXT_CONTENT_STRING;
        if (fmt && !strcmp(fmt, "openai")) opts.content_format = OCTO_TEXT_CONTENT_OPENAI;
        rc = octo_text_chat_format(t, json_object_get(c, "request"), &opts, &b, err, sizeof err);
    } else if (!rc) {
        rc = octo_text_template_render(t, json_object_get(c, "context"), &b, err, sizeof err);
    }
    emit(rc, &b, err);
    octo_buf_deinit(&b);
    if (t != fixed) octo_text_template_free(t);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tool_render TEMPLATE|- CASES.jsonl\n");
        return 2;
    }
    char err[1024] = "";
    octo_text_template *t = NULL;
    if (strcmp(argv[1], "-") != 0) {
        octo_err rc = octo_text_template_load(argv[1], NULL, &t, err, sizeof err);
        if (rc) {
            fprintf(stderr, "tool_render: %s\n", err);
            return 1;
        }
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *c = json_loadb(line, (size_t)n, 0, &je);
        if (!c) {
            fprintf(stderr, "tool_render: bad case line: %s\n", je.text);
            return 1;
        }
        run_case(t, c);
        json_decref(c);
    }
    free(line);
    fclose(f);
    octo_text_template_free(t);
    return 0;
}
