/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template — Jinja2 chat templates and chat formatting: the interpreter
 * that renders Hugging Face chat templates byte for byte as Python jinja2
 * does, and the formatting of an OpenAI chat request into the prompt
 * string through it.
 *
 * It does not tokenise (tokenizer/), parse model output (toolcall/) or
 * know any transport.
 */
#ifndef OCTO_TEMPLATE_H
#define OCTO_TEMPLATE_H

#include <jansson.h>

#include "base/base.h"

/* A parsed Jinja2 chat template (immutable; render it from any number of
 * threads at once). Rendering follows Python jinja2 as Hugging Face
 * transformers configures it: trim_blocks, lstrip_blocks, loop controls,
 * the raise_exception and strftime_now globals and a tojson filter that is
 * json.dumps(x, ensure_ascii=False) (", " and ": " separators). Constructs
 * outside the supported subset are errors naming them, never a guess. */
typedef struct octo_text_template octo_text_template;

/* Parses template source (len bytes, need not be NUL-terminated). Returns
 * NULL on error with a message ("unexpected 'endif' at line 12",
 * "unsupported filter 'xyz' at line 3") in err (err_size bytes, may be 0).
 * The caller frees the result with octo_text_template_free. */
octo_text_template *octo_text_template_new(const char *src, size_t len, char *err,
                                           size_t err_size);
/* Reads a template from a file: a ".jinja" (any non-JSON) file is the
 * template itself; a ".json" file is a tokenizer_config.json whose
 * "chat_template" is a string or a list of {"name", "template"} (then
 * `name` picks one, NULL meaning "default"). OCTO_E_IO, OCTO_E_NOT_FOUND
 * (no chat_template / no such name), OCTO_E_PARSE and friends. */
octo_err octo_text_template_load(const char *path, const char *name,
                                 octo_text_template **out /* OUT */, char *err,
                                 size_t err_size) OCTO_WUR;
/* Same from an already parsed tokenizer_config.json object. */
octo_err octo_text_template_from_config(const json_t *tokenizer_config, const char *name,
                                        octo_text_template **out /* OUT */, char *err,
                                        size_t err_size) OCTO_WUR;
void octo_text_template_free(octo_text_template *t);
/* True when the template loops over a message's content (it expects
 * OpenAI-style content parts rather than one string). */
bool octo_text_template_iterates_content(const octo_text_template *t);

/* Renders with `context` (a JSON object: its members are the template's
 * variables; may be NULL) and appends the text to out (its own bound and
 * OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES both apply). On error out is left as it
 * was and err holds the reason: OCTO_E_INVALID for template-raised errors
 * (raise_exception's message verbatim) and Python-level type errors,
 * OCTO_E_UNSUPPORTED for constructs octo does not implement,
 * OCTO_E_TOO_LARGE for output/iteration/nesting limits. */
octo_err octo_text_template_render(const octo_text_template *t, const json_t *context,
                                   octo_buf *out, char *err, size_t err_size) OCTO_WUR;

/* How message content reaches the template (vLLM's chat content format):
 * STRING joins text parts with "\n"; OPENAI passes a list of parts
 * ({"type":"text","text":..}, {"type":"image"/"audio"/"video"}), a
 * plain string becoming one text part; AUTO picks OPENAI when the template
 * has a {% for %} over something named content (message.content, or a
 * macro parameter called content as in Qwen3.5) — broader than vLLM's
 * detection, which misses loops inside macros. */
typedef enum octo_text_content_format {
    OCTO_TEXT_CONTENT_AUTO = 0,
    OCTO_TEXT_CONTENT_STRING,
    OCTO_TEXT_CONTENT_OPENAI,
} octo_text_content_format;

typedef struct octo_text_chat_opts {
    /* Special tokens exposed to the template (NULL: undefined there). */
    const char *bos_token, *eos_token, *pad_token, *unk_token;
    octo_text_content_format content_format;
    /* STRING format: accept image/audio parts (dropped from the text; the
     * caller inserts their placeholders). False: such parts are an error. */
    bool allow_media;
} octo_text_chat_opts;

/* Fills opts' special tokens from a tokenizer_config.json object (string
 * or {"content": ...} values). Pointers borrow from cfg. */
void octo_text_chat_opts_from_config(const json_t *tokenizer_config,
                                     octo_text_chat_opts *opts /* OUT */);

/* Formats an OpenAI chat request (messages, tools, add_generation_prompt
 * (default true), continue_final_message, chat_template_kwargs) into the
 * prompt string, appended to out, normalising messages and tools the way
 * vLLM does before it renders: tool_calls[].function.arguments strings are
 * parsed into JSON values ({} when invalid), content follows the content
 * format (empty text parts dropped when joining; text-only tool results
 * become one string), an assistant's "reasoning" is passed as reasoning and
 * reasoning_content (a bare reasoning_content is kept as is), tool_call_id,
 * name and task are kept, and tools become {"type", "function": {"name",
 * "description", "parameters", ...}} with absent fields null.
 * HF's tool_use template choice is the caller's (template_from_config).
 * OCTO_E_INVALID / OCTO_E_UNSUPPORTED for malformed requests (with err),
 * plus the render errors. out is unchanged on error. */
octo_err octo_text_chat_format(const octo_text_template *t, const json_t *request,
                               const octo_text_chat_opts *opts, octo_buf *out, char *err,
                               size_t err_size) OCTO_WUR;

#endif /* OCTO_TEMPLATE_H */
