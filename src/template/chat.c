/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chat — turns an OpenAI chat-completions request into the prompt string
 * by rendering the model's chat template, the way vLLM feeds Hugging Face
 * templates: content becomes one string (text parts joined with "\n") or,
 * for templates that loop over content, a list of parts; tool results made
 * of text parts become one string; tool-call arguments given as JSON
 * strings are parsed (invalid JSON becomes {}); an assistant's "reasoning"
 * is passed as reasoning and reasoning_content (a bare reasoning_content
 * is kept too, which vLLM would drop); name, task and tool_call_id pass
 * through. The template then sees messages, tools, documents (None),
 * add_generation_prompt, the tokenizer's special tokens and the request's
 * chat_template_kwargs. continue_final_message trims the render after the
 * last message as transformers does.
 *
 * It does not tokenise, validate tool schemas, or fetch images: media
 * parts only become {"type": "image"/"audio"/"video"} markers.
 */
#include "template/template_int.h"

#include <stdio.h>
#include <string.h>

static octo_err fail(char *err, size_t err_size, octo_err rc, const char *msg, size_t idx)
{
    if (err && err_size) snprintf(err, err_size, "messages[%zu]: %s", idx, msg);
    return rc;
}

/* The modality of a media part ("image", "audio", "video"), or NULL. */
static const char *media_kind(const json_t *part, const char *type)
{
    static const struct { const char *key, *kind; } media[] = {
        {"image_url", "image"}, {"input_image", "image"}, {"image_embeds", "image"},
        {"image_pil", "image"}, {"audio_url", "audio"}, {"input_audio", "audio"},
        {"audio_embeds", "audio"}, {"video_url", "video"},
    };
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++) {
        if (type && strcmp(type, media[i].key) == 0) return media[i].kind;
        if (!type && json_object_get(part, media[i].key) &&
            !(strcmp(media[i].key, "input_audio") == 0 &&
              json_is_null(json_object_get(part, "input_audio"))))
            return media[i].kind;
    }
    return NULL;
}

/* One content part as vLLM parses it: *text gets the text of a text-like
 * part (NULL: skip it), *marker a {"type": modality} object for media (or
 * a tool_reference) in the OpenAI format. */
static octo_err convert_part(const json_t *p, bool openai, bool allow_media, const json_t **text,
                             json_t **marker, char *err, size_t err_size, size_t idx)
{
    *text = NULL;
    *marker = NULL;
    if (json_is_string(p)) {
        *text = p;
        return OCTO_OK;
    }
    const json_t *jt = json_object_get(p, "type");
    const char *type = json_string_value(jt);
    if (!json_is_object(p) || (jt && !json_is_null(jt) && !type))
        return fail(err, err_size, OCTO_E_INVALID, "invalid content part", idx);
    static const char *const texty[][2] = {{"text", "text"}, {"input_text", "text"},
                                           {"output_text", "text"}, {"refusal", "refusal"},
                                           {"thinking", "thinking"}};
    for (size_t i = 0; type && i < sizeof texty / sizeof texty[0]; i++) {
        if (strcmp(type, texty[i][0]) != 0) continue;
        const json_t *t = json_object_get(p, texty[i][1]);
        if (!t || json_is_null(t)) return OCTO_OK; /* skipped, as vLLM does */
        if (!json_is_string(t))
            return fail(err, err_size, OCTO_E_INVALID, "text part must hold a string", idx);
        *text = t;
        return OCTO_OK;
    }
    if (type && strcmp(type, "tool_reference") == 0) {
        const json_t *name = json_object_get(p, "name");
        if (!openai) {
            *text = json_is_string(name) ? name : NULL;
            return OCTO_OK;
        }
        *marker = json_pack("{s:s,s:O}", "type", "tool_reference", "name",
                            name ? (json_t *)name : json_null());
        return *marker ? OCTO_OK : OCTO_E_NOMEM;
    }
    const char *kind = media_kind(p, type);
    if (!kind) {
        char msg[160];
        if (type) snprintf(msg, sizeof msg, "unsupported content part type '%.64s'", type);
        else snprintf(msg, sizeof msg, "missing 'type' field in content part");
        return fail(err, err_size, type ? OCTO_E_UNSUPPORTED : OCTO_E_INVALID, msg, idx);
    }
    if (!openai && !allow_media)
        return fail(err, err_size, OCTO_E_UNSUPPORTED,
                    "this model does not accept image, audio or video input", idx);
    if (openai) {
        *marker = json_pack("{s:s}", "type", kind);
        return *marker ? OCTO_OK : OCTO_E_NOMEM;
    }
    return OCTO_OK;
}

/* Converts one message's content: a string (text parts joined with "\n",
 * empty ones dropped) or, in the OpenAI format, a list of parts. */
static octo_err convert_content(const json_t *content, bool openai, bool allow_media,
                                json_t **out, char *err, size_t err_size, size_t idx)
{
    json_t *one = NULL;
    if (json_is_string(content)) {
        one = json_pack("[{s:s,s:O}]", "type", "text", "text", content);
        if (!one) return OCTO_E_NOMEM;
        content = one;
    } else if (content && !json_is_null(content) && !json_is_array(content)) {
        return fail(err, err_size, OCTO_E_INVALID, "content must be a string or an array", idx);
    }
    json_t *parts = json_array();
    octo_buf text;
    octo_buf_init(&text, OCTO_LIMIT_HTTP_BODY_BYTES);
    octo_err rc = parts ? OCTO_OK : OCTO_E_NOMEM;
    size_t ntext = 0;
    for (size_t i = 0; i < json_array_size(content) && !rc; i++) {
        const json_t *t;
        json_t *marker;
        rc = convert_part(json_array_get(content, i), openai, allow_media, &t, &marker, err,
                          err_size, idx);
        if (rc) break;
        if (openai && t) marker = json_pack("{s:s,s:O}", "type", "text", "text", t);
        if (openai && (t || marker)) {
            rc = marker && !json_array_append_new(parts, marker) ? OCTO_OK : OCTO_E_NOMEM;
        } else if (t && json_string_length(t)) { /* "\n".join of the truthy texts */
            if (ntext++) rc = octo_buf_puts(&text, "\n");
            if (!rc) rc = octo_buf_append(&text, json_string_value(t), json_string_length(t));
        }
    }
    json_decref(one);
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

/* vLLM hands tool results that are only text parts to the template as one
 * string, even in the OpenAI format. */
static json_t *tool_content(json_t *content)
{
    if (!json_is_array(content)) return content;
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_HTTP_BODY_BYTES);
    for (size_t i = 0; i < json_array_size(content); i++) {
        const char *type = json_string_value(json_object_get(json_array_get(content, i), "type"));
        if (!type || strcmp(type, "text") != 0) {
            octo_buf_deinit(&b);
            return content;
        }
        const json_t *t = json_object_get(json_array_get(content, i), "text");
        if ((i && octo_buf_puts(&b, "\n")) ||
            octo_buf_append(&b, json_string_value(t) ? json_string_value(t) : "",
                            json_string_length(t))) {
            octo_buf_deinit(&b);
            return content;
        }
    }
    json_t *s = json_stringn(b.data ? b.data : "", b.len);
    octo_buf_deinit(&b);
    if (!s) return content;
    json_decref(content);
    return s;
}

/* Copies tool_calls; arguments given as a JSON string become the parsed
 * value ({} when it is not valid JSON), anything but an object or array
 * becomes {} — vLLM's _postprocess_messages. */
static octo_err convert_tool_calls(const json_t *calls, json_t **out, char *err,
                                   size_t err_size, size_t idx)
{
    json_t *copy = json_deep_copy(calls);
    if (!copy) return OCTO_E_NOMEM;
    for (size_t i = 0; json_is_array(copy) && i < json_array_size(copy); i++) {
        json_t *fn = json_object_get(json_array_get(copy, i), "function");
        if (!json_is_object(fn)) {
            json_decref(copy);
            return fail(err, err_size, OCTO_E_INVALID, "tool call without a function", idx);
        }
        json_t *args = json_object_get(fn, "arguments"), *parsed = NULL;
        if (json_is_string(args))
            parsed = json_loadb(json_string_value(args), json_string_length(args),
                                JSON_DECODE_ANY, NULL);
        else if (json_is_object(args) || json_is_array(args))
            continue;
        json_object_set_new(fn, "arguments", parsed ? parsed : json_object());
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
    bool assistant = strcmp(role, "assistant") == 0, tool = strcmp(role, "tool") == 0;
    if (tool) content = tool_content(content);
    json_t *msg = json_pack("{s:s,s:o}", "role", role, "content", content);
    if (!msg) return OCTO_E_NOMEM;
    const json_t *tc = json_object_get(m, "tool_calls");
    if (assistant && tc && !json_is_null(tc)) {
        rc = convert_tool_calls(tc, &calls, err, err_size, idx);
        if (!rc && json_is_array(calls) && json_array_size(calls) == 0) json_decref(calls);
        else if (!rc) json_object_set_new(msg, "tool_calls", calls);
    }
    const json_t *reasoning = json_object_get(m, "reasoning");
    const json_t *rcontent = json_object_get(m, "reasoning_content");
    if (!rc && assistant && reasoning && !json_is_null(reasoning)) {
        json_object_set(msg, "reasoning", (json_t *)reasoning);
        json_object_set(msg, "reasoning_content", (json_t *)reasoning);
    } else if (!rc && assistant && rcontent && !json_is_null(rcontent)) {
        json_object_set(msg, "reasoning_content", (json_t *)rcontent);
    }
    const json_t *id = json_object_get(m, "tool_call_id");
    if (!rc && tool && id) json_object_set(msg, "tool_call_id", (json_t *)id);
    const json_t *name = json_object_get(m, "name"), *task = json_object_get(m, "task");
    if (!rc && json_is_string(name)) json_object_set(msg, "name", (json_t *)name);
    if (!rc && json_is_string(task)) json_object_set(msg, "task", (json_t *)task);
    if (!rc && strcmp(role, "developer") == 0) {
        const json_t *tools = json_object_get(m, "tools");
        json_object_set(msg, "tools", tools ? (json_t *)tools : json_null());
    }
    if (!rc && json_array_append_new(msgs, msg)) return OCTO_E_NOMEM;
    if (rc) json_decref(msg);
    return rc;
}

/* vLLM validates each tool with pydantic and passes model_dump() to the
 * template: {"type", "function": {"name", "description", "parameters",
 * extra keys...}, extra keys...}, with absent description/parameters as
 * null. Templates observe that (tojson prints "description": null). */
static octo_err normalize_tools(const json_t *tools, json_t **out, char *err, size_t err_size)
{
    *out = json_array();
    if (!*out) return OCTO_E_NOMEM;
    for (size_t i = 0; i < json_array_size(tools); i++) {
        const json_t *t = json_array_get(tools, i), *fn = json_object_get(t, "function");
        const json_t *type = json_object_get(t, "type");
        if (!json_is_object(fn) || !json_is_string(json_object_get(fn, "name")) ||
            (type && !(json_is_string(type) && !strcmp(json_string_value(type), "function")))) {
            if (err && err_size)
                snprintf(err, err_size, "tools[%zu]: expected {\"type\": \"function\", "
                         "\"function\": {\"name\": ...}}", i);
            return OCTO_E_INVALID;
        }
        json_t *nf = json_pack("{s:O,s:O,s:O}", "name", json_object_get(fn, "name"),
                               "description", json_object_get(fn, "description")
                                   ? json_object_get(fn, "description") : json_null(),
                               "parameters", json_object_get(fn, "parameters")
                                   ? json_object_get(fn, "parameters") : json_null());
        json_t *nt = nf ? json_pack("{s:s,s:o}", "type", "function", "function", nf) : NULL;
        if (!nt || json_array_append_new(*out, nt)) return OCTO_E_NOMEM;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)fn, k, v)
            if (!json_object_get(nf, k)) json_object_set(nf, k, v);
        json_object_foreach((json_t *)t, k, v)
            if (!json_object_get(nt, k)) json_object_set(nt, k, v);
    }
    return OCTO_OK;
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
    if (tools && !json_is_null(tools) && !json_is_array(tools)) {
        if (err && err_size) octo_strlcpy(err, "'tools' must be an array", err_size);
        return OCTO_E_INVALID;
    }
    json_t *ntools = NULL;
    if (json_is_array(tools)) {
        octo_err rc = normalize_tools(tools, &ntools, err, err_size);
        if (rc) {
            json_decref(ntools);
            return rc;
        }
    }
    json_object_set_new(ctx, "tools", ntools ? ntools : json_null());
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
