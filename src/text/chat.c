/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chat — turns an OpenAI chat-completions request into the prompt string
 * by rendering the model's chat template, the way vLLM feeds Hugging Face
 * templates: messages are normalised (content as one string or as a list of
 * parts, tool-call arguments parsed from JSON strings into objects,
 * reasoning_content kept), then the template sees messages, tools,
 * documents (None), add_generation_prompt, the tokenizer's special tokens
 * and the request's chat_template_kwargs. continue_final_message trims the
 * render after the last message as transformers does.
 *
 * It does not tokenise, validate tool schemas, or fetch images: media
 * parts only become {"type": "image"/"audio"} markers for the template.
 */
#include "jinja_int.h"

#include <stdio.h>
#include <string.h>

static octo_err fail(char *err, size_t err_size, octo_err rc, const char *msg, size_t idx)
{
    if (err && err_size) snprintf(err, err_size, "messages[%zu]: %s", idx, msg);
    return rc;
}

static bool is_media(const char *type)
{
    static const char *media[] = {"image_url", "input_audio", "image", "audio", "video",
                                  "video_url", "audio_url", "image_pil", "image_embeds"};
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++)
        if (strcmp(type, media[i]) == 0) return true;
    return false;
}

/* Converts one message's content to the template's shape. */
static octo_err convert_content(const json_t *content, bool openai, bool allow_media,
                                json_t **out, char *err, size_t err_size, size_t idx)
{
    if (!content || json_is_null(content)) {
        *out = openai ? json_array() : json_string("");
        return *out ? OCTO_OK : OCTO_E_NOMEM;
    }
    if (json_is_string(content)) {
        if (!openai) {
            *out = json_incref((json_t *)content);
            return OCTO_OK;
        }
        *out = json_pack("[{s:s,s:O}]", "type", "text", "text", content);
        return *out ? OCTO_OK : OCTO_E_NOMEM;
    }
    if (!json_is_array(content))
        return fail(err, err_size, OCTO_E_INVALID, "content must be a string or an array", idx);
    json_t *parts = json_array();
    octo_buf text;
    octo_buf_init(&text, OCTO_LIMIT_HTTP_BODY_BYTES);
    octo_err rc = parts ? OCTO_OK : OCTO_E_NOMEM;
    size_t ntext = 0;
    for (size_t i = 0; i < json_array_size(content) && !rc; i++) {
        const json_t *p = json_array_get(content, i);
        const char *type = json_string_value(json_object_get(p, "type"));
        if (!type) {
            rc = fail(err, err_size, OCTO_E_INVALID, "content part without a type", idx);
        } else if (strcmp(type, "text") == 0) {
            const json_t *t = json_object_get(p, "text");
            if (!json_is_string(t)) {
                rc = fail(err, err_size, OCTO_E_INVALID, "text part without text", idx);
            } else if (openai) {
                json_t *part = json_pack("{s:s,s:O}", "type", "text", "text", t);
                rc = part && !json_array_append_new(parts, part) ? OCTO_OK : OCTO_E_NOMEM;
            } else {
                if (ntext++) rc = octo_buf_puts(&text, "\n");
                if (!rc) rc = octo_buf_append(&text, json_string_value(t), json_string_length(t));
            }
        } else if (is_media(type)) {
            bool audio = strstr(type, "audio") != NULL, video = strstr(type, "video") != NULL;
            if (openai) {
                json_t *part = json_pack("{s:s}", "type",
                        audio ? "audio" : video ? "video" : "image");
                rc = part && !json_array_append_new(parts, part) ? OCTO_OK : OCTO_E_NOMEM;
            } else if (!allow_media) {
                rc = fail(err, err_size, OCTO_E_UNSUPPORTED,
                          "this model does not accept image, audio or video input", idx);
            }
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown content part type '%.64s'", type);
            rc = fail(err, err_size, OCTO_E_INVALID, msg, idx);
        }
    }
    if (!rc && !openai) {
        json_decref(parts);
        parts = json_stringn(text.data ? text.data : "", text.len);
        if (!parts) rc = fail(err, err_size, OCTO_E_INVALID, "content is not valid UTF-8", idx);
    }
    octo_buf_deinit(&text);
    if (rc) {
        json_decref(parts);
        return rc;
    }
    *out = parts;
    return OCTO_OK;
}

/* Copies tool_calls, parsing each function.arguments JSON string. */
static octo_err convert_tool_calls(const json_t *calls, json_t **out, char *err,
                                   size_t err_size, size_t idx)
{
    if (!json_is_array(calls))
        return fail(err, err_size, OCTO_E_INVALID, "tool_calls must be an array", idx);
    json_t *copy = json_deep_copy(calls);
    if (!copy) return OCTO_E_NOMEM;
    for (size_t i = 0; i < json_array_size(copy); i++) {
        json_t *fn = json_object_get(json_array_get(copy, i), "function");
        json_t *args = json_object_get(fn, "arguments");
        if (!json_is_object(fn)) {
            json_decref(copy);
            return fail(err, err_size, OCTO_E_INVALID, "tool call without a function", idx);
        }
        if (!json_is_string(args)) continue;
        json_error_t je;
        json_t *parsed = json_loadb(json_string_value(args), json_string_length(args),
                                    JSON_DECODE_ANY, &je);
        if (!parsed) {
            char msg[256];
            snprintf(msg, sizeof msg, "tool call arguments are not valid JSON: %s", je.text);
            json_decref(copy);
            return fail(err, err_size, OCTO_E_INVALID, msg, idx);
        }
        json_object_set_new(fn, "arguments", parsed);
    }
    *out = copy;
    return OCTO_OK;
}

static octo_err convert_message(const json_t *m, bool openai, bool allow_media, json_t *msgs,
                                char *err, size_t err_size, size_t idx)
{
    const char *role = json_string_value(json_object_get(m, "role"));
    if (!json_is_object(m) || !role)
        return fail(err, err_size, OCTO_E_INVALID, "message must be an object with a role", idx);
    json_t *content = NULL, *calls = NULL;
    octo_err rc = convert_content(json_object_get(m, "content"), openai, allow_media, &content,
                                  err, err_size, idx);
    if (rc) return rc;
    json_t *msg = json_pack("{s:s,s:o}", "role", role, "content", content);
    if (!msg) return OCTO_E_NOMEM;
    const json_t *reasoning = json_object_get(m, "reasoning_content");
    if (!json_is_string(reasoning)) reasoning = json_object_get(m, "reasoning");
    if (strcmp(role, "assistant") == 0 && json_is_string(reasoning))
        json_object_set(msg, "reasoning_content", (json_t *)reasoning);
    const json_t *tc = json_object_get(m, "tool_calls");
    if (strcmp(role, "assistant") == 0 && tc && !json_is_null(tc)) {
        rc = convert_tool_calls(tc, &calls, err, err_size, idx);
        if (!rc) json_object_set_new(msg, "tool_calls", calls);
    }
    const json_t *id = json_object_get(m, "tool_call_id");
    if (!rc && strcmp(role, "tool") == 0 && id) json_object_set(msg, "tool_call_id", (json_t *)id);
    const json_t *name = json_object_get(m, "name");
    if (!rc && json_is_string(name)) json_object_set(msg, "name", (json_t *)name);
    if (!rc && json_array_append_new(msgs, msg)) return OCTO_E_NOMEM;
    if (rc) json_decref(msg);
    return rc;
}

static const char *token_str(const json_t *v)
{
    if (json_is_string(v)) return json_string_value(v);
    return json_string_value(json_object_get(v, "content"));
}

void octo_text_chat_opts_from_config(const json_t *cfg, octo_text_chat_opts *opts)
{
    opts->bos_token = token_str(json_object_get(cfg, "bos_token"));
    opts->eos_token = token_str(json_object_get(cfg, "eos_token"));
    opts->pad_token = token_str(json_object_get(cfg, "pad_token"));
    opts->unk_token = token_str(json_object_get(cfg, "unk_token"));
}

static octo_err build_context(const octo_text_template *t, const json_t *req,
                              const octo_text_chat_opts *o, bool gen, json_t *ctx, char *err,
                              size_t err_size)
{
    const char *tok_names[] = {"bos_token", "eos_token", "pad_token", "unk_token"};
    const char *tok_vals[] = {o->bos_token, o->eos_token, o->pad_token, o->unk_token};
    for (size_t i = 0; i < 4; i++)
        if (tok_vals[i]) json_object_set_new(ctx, tok_names[i], json_string(tok_vals[i]));
    const json_t *kw = json_object_get(req, "chat_template_kwargs");
    if (kw && !json_is_null(kw)) {
        if (!json_is_object(kw)) {
            if (err && err_size) octo_strlcpy(err, "chat_template_kwargs must be an object",
                    err_size);
            return OCTO_E_INVALID;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)kw, k, v) {
            if (!strcmp(k, "messages") || !strcmp(k, "tools") || !strcmp(k, "documents") ||
                !strcmp(k, "add_generation_prompt")) {
                if (err && err_size)
                    snprintf(err, err_size, "chat_template_kwargs may not set '%s'", k);
                return OCTO_E_INVALID;
            }
            json_object_set(ctx, k, v);
        }
    }
    const json_t *msgs = json_object_get(req, "messages");
    if (!json_is_array(msgs)) {
        if (err && err_size) octo_strlcpy(err, "'messages' must be an array", err_size);
        return OCTO_E_INVALID;
    }
    bool openai = o->content_format == OCTO_TEXT_CONTENT_OPENAI ||
                  (o->content_format == OCTO_TEXT_CONTENT_AUTO &&
                   octo_text_template_iterates_content(t));
    json_t *conv = json_array();
    if (!conv) return OCTO_E_NOMEM;
    json_object_set_new(ctx, "messages", conv);
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        octo_err rc = convert_message(json_array_get(msgs, i), openai, o->allow_media, conv, err,
                                      err_size, i);
        if (rc) return rc;
    }
    const json_t *tools = json_object_get(req, "tools");
    json_object_set(ctx, "tools", tools ? (json_t *)tools : json_null());
    json_object_set_new(ctx, "documents", json_null());
    json_object_set_new(ctx, "add_generation_prompt", json_boolean(gen));
    return OCTO_OK;
}

/* transformers' continue_final_message: cut the render right after the
 * final message's text so generation continues it. */
static octo_err trim_final(const json_t *ctx, octo_buf *b, size_t start, char *err,
                           size_t err_size)
{
    const json_t *msgs = json_object_get(ctx, "messages");
    const json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    const json_t *content = json_object_get(last, "content");
    if (json_is_array(content)) {
        const json_t *found = NULL;
        for (size_t i = json_array_size(content); i > 0 && !found; i--)
            found = json_object_get(json_array_get(content, i - 1), "text");
        content = found;
    }
    if (!json_is_string(content)) {
        if (err && err_size) octo_strlcpy(err, "continue_final_message: no final text", err_size);
        return OCTO_E_INVALID;
    }
    const char *s = json_string_value(content);
    size_t n = json_string_length(content), lo, hi;
    jj_strip(s, n, NULL, 0, true, true, &lo, &hi);
    const char *hay = b->data + start, *at = NULL;
    size_t hn = b->len - start;
    for (size_t i = hn + 1; i-- > 0 && !at;) /* rindex */
        if (i + (hi - lo) <= hn && memcmp(hay + i, s + lo, hi - lo) == 0) at = hay + i;
    if (!at) {
        if (err && err_size)
            octo_strlcpy(err, "continue_final_message is set but the final message does not "
                         "appear in the chat after applying the chat template", err_size);
        return OCTO_E_INVALID;
    }
    size_t pos = (size_t)(at - b->data), keep = n - lo; /* len(final.lstrip()) */
    bool same = keep == n && pos + n <= b->len && memcmp(b->data + pos, s, n) == 0;
    if (!same) keep = hi - lo; /* trailing space was trimmed by the template */
    b->len = pos + keep;
    b->data[b->len] = '\0';
    return OCTO_OK;
}

octo_err octo_text_chat_format(const octo_text_template *t, const json_t *request,
                               const octo_text_chat_opts *opts, octo_buf *out, char *err,
                               size_t err_size)
{
    if (err && err_size) err[0] = '\0';
    octo_text_chat_opts none = {0};
    if (!opts) opts = &none;
    if (!t || !json_is_object(request)) {
        if (err && err_size) octo_strlcpy(err, "request must be a JSON object", err_size);
        return OCTO_E_INVALID;
    }
    const json_t *g = json_object_get(request, "add_generation_prompt");
    bool gen = g && !json_is_null(g) ? json_is_true(g) : true;
    bool cont = json_is_true(json_object_get(request, "continue_final_message"));
    if (gen && cont) {
        if (err && err_size)
            octo_strlcpy(err, "continue_final_message and add_generation_prompt cannot both be "
                         "true", err_size);
        return OCTO_E_INVALID;
    }
    json_t *ctx = json_object();
    if (!ctx) return OCTO_E_NOMEM;
    size_t start = out->len;
    octo_err rc = build_context(t, request, opts, gen, ctx, err, err_size);
    if (!rc) rc = octo_text_template_render(t, ctx, out, err, err_size);
    if (!rc && cont) {
        rc = trim_final(ctx, out, start, err, err_size);
        if (rc) {
            out->len = start;
            if (out->data) out->data[start] = '\0';
        }
    }
    json_decref(ctx);
    return rc;
}
