/* SPDX-License-Identifier: Apache-2.0 */
/*
 * text — everything between a JSON request and token ids, and between
 * generated ids and an OpenAI response: the byte-level BPE tokenizer and
 * streaming detokeniser, the Jinja chat-template interpreter and chat
 * formatting, and the tool-call and reasoning output parsers.
 *
 * It knows no model weights, no engine and no transport.
 */
#ifndef OCTO_TEXT_H
#define OCTO_TEXT_H

#include "base/base.h"

/* ==== tokenizer (byte-level BPE) ==== */

/* ==== chat templates (Jinja) and chat formatting ==== */

#include <jansson.h>

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

/* ==== output parsers: tool calls and reasoning ==== */

/* Turn a model's generated text into an OpenAI assistant message, the way
 * vLLM's parsers of the same names do: `<think>` blocks into
 * reasoning_content, `<tool_call>` blocks into tool_calls, the rest into
 * content. Whole-text and streaming forms give the same strings for any
 * split of the text. Input must be valid UTF-8 (OCTO_E_INVALID otherwise).
 * Tool-call ids are "call_" + 24 random hex digits. */

#include <jansson.h>

typedef enum octo_text_tool_format {
    OCTO_TEXT_TOOLS_NONE = 0, /* no tool parsing: all text is content */
    OCTO_TEXT_TOOLS_HERMES,   /* <tool_call>\n{"name":..,"arguments":{..}}\n</tool_call> */
    OCTO_TEXT_TOOLS_GLM45,    /* <tool_call>NAME\n<arg_key>k</arg_key>\n<arg_value>v</arg_value> */
} octo_text_tool_format;

typedef enum octo_text_reasoning_format {
    OCTO_TEXT_REASONING_NONE = 0,
    OCTO_TEXT_REASONING_QWEN3,       /* <think> emitted by the model or opened by the prompt */
    OCTO_TEXT_REASONING_GLM45,       /* "\n<think>...</think>" emitted by the model */
    OCTO_TEXT_REASONING_DEEPSEEK_R1, /* output starts inside the think block */
} octo_text_reasoning_format;

/* Parses a vLLM parser name: "hermes", "glm45" (also "glm4_moe"), "" or
 * "none". OCTO_E_NOT_FOUND for another name. */
octo_err octo_text_tool_format_parse(const char *name, octo_text_tool_format *out /* OUT */)
    OCTO_WUR;
/* Parses "qwen3", "glm45", "deepseek_r1", "" or "none". */
octo_err octo_text_reasoning_format_parse(const char *name,
                                          octo_text_reasoning_format *out /* OUT */) OCTO_WUR;

typedef struct octo_text_parse_opts {
    octo_text_tool_format tools;
    octo_text_reasoning_format reasoning;
    /* false (enable_thinking=false): no reasoning, all output is content. */
    bool thinking_enabled;
    /* The rendered prompt ended inside an open <think> block, so the output
     * starts as reasoning (always so for DEEPSEEK_R1). */
    bool prompt_in_think;
    /* The request's "tools" array (borrowed, may be NULL): glm45 keeps the
     * values of parameters typed "string" as strings. */
    const json_t *tool_defs;
} octo_text_parse_opts;

/* Whether a rendered prompt ends inside an open think block, i.e. ends
 * with "<think>" and optional whitespace (the generation prompt of the
 * Qwen3 thinking-2507, QwQ and DeepSeek-R1 templates). Gives
 * octo_text_parse_opts.prompt_in_think. */
bool octo_text_prompt_in_think(const char *prompt, size_t len);

/* Parses a whole generated text. On OCTO_OK *message is a new object
 * {"role":"assistant","content":str|null,"reasoning_content":str (only when
 * the output opened a think block or began inside one),"tool_calls":[...]
 * (only when non-empty)}; content is null when empty and there is
 * reasoning or a tool call. Malformed tool calls stay in content;
 * whitespace-only text after a call is dropped. *tools_called (may be NULL) tells whether
 * finish_reason should be "tool_calls". Errors: OCTO_E_INVALID (bad UTF-8),
 * OCTO_E_NOMEM, OCTO_E_TOO_LARGE. */
octo_err octo_text_output_parse(const octo_text_parse_opts *opts, const char *text, size_t len,
                                json_t **message /* OUT */, bool *tools_called /* OUT */)
    OCTO_WUR;

/* The streaming form: fed text deltas split anywhere (even inside a UTF-8
 * character), it returns OpenAI delta objects, in order:
 *   {"reasoning_content": "..."}  {"content": "..."}
 *   {"tool_calls":[{"index":i,"id":..,"type":"function",
 *                   "function":{"name":..,"arguments":""}}]}
 *   {"tool_calls":[{"index":i,"function":{"arguments":"..."}}]}
 * It holds back only bytes that could still start a tag or finish a UTF-8
 * character, and a tool call until it is complete (so a malformed one can
 * still come out as content): a call's arguments come in one delta. Text
 * deltas are never empty and never split a character. */
typedef struct octo_text_output_stream octo_text_output_stream;

/* opts is copied (tool_defs stays borrowed: keep it alive). */
octo_err octo_text_output_stream_new(const octo_text_parse_opts *opts,
                                     octo_text_output_stream **out /* OUT */) OCTO_WUR;
void octo_text_output_stream_free(octo_text_output_stream *s);
/* Feeds len bytes; *deltas gets a new array (possibly empty) that the caller
 * owns. After an error the stream is dead (every later call fails). */
octo_err octo_text_output_stream_feed(octo_text_output_stream *s, const char *text, size_t len,
                                      json_t **deltas /* OUT */) OCTO_WUR;
/* Ends the text: flushes what was held back (an unterminated hermes call
 * still counts when its JSON is complete). OCTO_E_INVALID when the text
 * ended inside a UTF-8 character. Later feeds and finishes fail. */
octo_err octo_text_output_stream_finish(octo_text_output_stream *s,
                                        json_t **deltas /* OUT */) OCTO_WUR;
/* Whether a tool call has been emitted (finish_reason "tool_calls"). */
bool octo_text_output_stream_tools_called(const octo_text_output_stream *s);

/* tool_choice "required": vLLM constrains the output to a JSON array
 * [{"name":..,"parameters":{..}}, ...]; this parses that shape (a single
 * object, and "arguments" instead of "parameters", are accepted too) into a
 * new array of OpenAI tool calls (arguments as json.dumps would print them;
 * "{}" when absent). OCTO_E_PARSE when the text is not that shape. */
octo_err octo_text_tool_calls_parse_required(const char *text, size_t len,
                                             json_t **tool_calls /* OUT */) OCTO_WUR;

#endif /* OCTO_TEXT_H */
