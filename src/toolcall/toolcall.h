/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolcall — the output parsers: generated text into an OpenAI assistant
 * message, whole or streamed: tool calls (hermes, glm45, tool_choice
 * "required") and reasoning (qwen3, glm45, deepseek_r1 think blocks).
 *
 * It works on text only: no tokenizer, no template, no constrained
 * decoding (jsonc/), no transport.
 */
#ifndef OCTO_TOOLCALL_H
#define OCTO_TOOLCALL_H

#include <jansson.h>

#include "base/base.h"

/* Turn a model's generated text into an OpenAI assistant message, the way
 * vLLM's parsers of the same names do: `<think>` blocks into
 * reasoning_content, `<tool_call>` blocks into tool_calls, the rest into
 * content. Whole-text and streaming forms give the same strings for any
 * split of the text. Input must be valid UTF-8 (OCTO_E_INVALID otherwise).
 * Tool-call ids are "call_" + 24 random hex digits. */

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

/* The same output streamed (vLLM's deltas for tool_choice "required"):
 * feed the generated text as it comes; each feed returns a new array of
 * delta objects {"tool_calls": [..]}: per call a first one with index, id,
 * type and name (arguments ""), then argument pieces whose concatenation
 * equals the whole response's "arguments" (a piece per complete member of
 * the parameters object). OCTO_E_NOMEM, OCTO_E_TOO_LARGE. */
typedef struct octo_text_required_stream octo_text_required_stream;
octo_err octo_text_required_stream_new(octo_text_required_stream **out /* OUT */) OCTO_WUR;
void octo_text_required_stream_free(octo_text_required_stream *s);
octo_err octo_text_required_stream_feed(octo_text_required_stream *s, const char *text,
                                        size_t len, json_t **deltas /* OUT */) OCTO_WUR;

#endif /* OCTO_TOOLCALL_H */
