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

/*
 * A byte-level BPE tokenizer that gives the same ids as Hugging Face
 * `tokenizers` for the tokenizer.json files of the GPT-2 / Qwen family:
 * added tokens (special or not) are matched first, leftmost-longest; the
 * rest is normalised (NFC...), pre-tokenised (regex Split, ByteLevel),
 * mapped to byte-level symbols and merged by rank. The object is immutable
 * after construction and safe for concurrent encode/decode calls from any
 * number of threads (its word cache locks internally).
 *
 * Input text must be valid UTF-8 (HF takes a Python str, so invalid bytes
 * cannot reach it): encode rejects anything else with OCTO_E_PARSE and the
 * byte offset of the first bad sequence. Decoding follows HF: unknown ids
 * are skipped, and byte sequences that are not valid UTF-8 become U+FFFD,
 * one per maximal invalid subpart.
 */
typedef struct octo_text_tokenizer octo_text_tokenizer;

/* Loads a Hugging Face tokenizer.json (model BPE; byte-level). On failure
 * returns NULL and writes a one-line reason into err (may be NULL); the
 * reason starts with octo_err_str() of the failure: "parse error: ...",
 * "unsupported: ...", "not found: ...", "too large: ...", "out of memory:
 * ...". Free with octo_text_tokenizer_free. */
octo_text_tokenizer *octo_text_tokenizer_load(const char *path, char *err, size_t err_size);
/* The same from a tokenizer.json held in memory (len bytes, no NUL needed). */
octo_text_tokenizer *octo_text_tokenizer_load_json(const char *json, size_t len, char *err,
                                                   size_t err_size);

/* GGUF token types (tokenizer.ggml.token_type). */
enum {
    OCTO_TEXT_TOKEN_NORMAL = 1,       /* a BPE vocabulary entry */
    OCTO_TEXT_TOKEN_UNKNOWN = 2,      /* treated like NORMAL */
    OCTO_TEXT_TOKEN_CONTROL = 3,      /* special added token (<|im_end|>) */
    OCTO_TEXT_TOKEN_USER_DEFINED = 4, /* non-special added token (<think>) */
    OCTO_TEXT_TOKEN_UNUSED = 5,       /* padding entry: decodable, never produced */
    OCTO_TEXT_TOKEN_BYTE = 6,         /* treated like NORMAL */
};

/* A vocabulary held in memory, as a GGUF file carries it. All pointers are
 * borrowed for the duration of the call only. (tokenizer.ggml.scores is
 * not needed: BPE ranks come from the merges.) */
typedef struct octo_text_tokenizer_vocab {
    size_t n_tokens;
    const char *const *tokens;   /* [n_tokens] byte-level strings; index = id */
    const int32_t *token_types;  /* [n_tokens] OCTO_TEXT_TOKEN_*, NULL: all NORMAL */
    size_t n_merges;
    const char *const *merges;   /* [n_merges] "left right", rank = index */
    const char *pre;             /* pre-tokenizer name: "qwen2", "gpt2", "llama-bpe"
                                  * (NULL: "gpt2") */
    int32_t bos_id, eos_id;      /* -1: none */
    bool add_bos, add_eos;       /* added by encode when add_special is true */
} octo_text_tokenizer_vocab;

/* Builds a tokenizer from in-memory arrays (the GGUF path). "qwen2" means
 * NFC + the Qwen2 split regex + byte level, exactly as Qwen's
 * tokenizer.json. NULL and a reason in err on failure (as _load). */
octo_text_tokenizer *octo_text_tokenizer_new_from_vocab(const octo_text_tokenizer_vocab *v,
                                                        char *err, size_t err_size);
/* _free(NULL) is a no-op. */
void octo_text_tokenizer_free(octo_text_tokenizer *tok);

/* Encodes len bytes of UTF-8 text. add_special: apply the post-processor
 * (TemplateProcessing, e.g. an appended <|endoftext|>; BOS/EOS for a GGUF
 * vocabulary). Special tokens written in the text are always recognised,
 * as HF does. On success *ids is an array of *n ids owned by the caller
 * (octo_free; NULL when *n == 0). Returns OCTO_E_PARSE for invalid UTF-8
 * (*bad_offset, may be NULL, gets the byte offset), OCTO_E_TOO_LARGE past
 * OCTO_LIMIT_PROMPT_TOKENS ids, OCTO_E_NOMEM. */
octo_err octo_text_tokenizer_encode(const octo_text_tokenizer *tok, const char *text, size_t len,
                                    bool add_special, int32_t **ids /* OUT */,
                                    size_t *n /* OUT */, size_t *bad_offset /* OUT */) OCTO_WUR;
/* Appends the text of ids to out (HF decode: unknown ids skipped, special
 * tokens skipped when skip_special, invalid UTF-8 replaced by U+FFFD).
 * OCTO_E_TOO_LARGE when out is full (out keeps what fitted). */
octo_err octo_text_tokenizer_decode(const octo_text_tokenizer *tok, const int32_t *ids, size_t n,
                                    bool skip_special, octo_buf *out) OCTO_WUR;
/* The id of a token given as its vocabulary string ("Ġthe", "<|im_end|>"),
 * or -1 when there is none. */
int32_t octo_text_tokenizer_token_id(const octo_text_tokenizer *tok, const char *token);
/* The vocabulary string of an id (byte-level form), or NULL when unknown.
 * Owned by the tokenizer. */
const char *octo_text_tokenizer_token_str(const octo_text_tokenizer *tok, int32_t id);
/* One past the largest id (ids below it may still be unused). */
size_t octo_text_tokenizer_vocab_size(const octo_text_tokenizer *tok);
/* True for special added tokens (<|im_end|>), false otherwise. */
bool octo_text_tokenizer_is_special(const octo_text_tokenizer *tok, int32_t id);
/* True for any added token, special or not (<think>). */
bool octo_text_tokenizer_is_added(const octo_text_tokenizer *tok, int32_t id);
/* The byte-level symbol (GPT-2's bytes_to_unicode) that stands for byte b
 * in vocabularies, as UTF-8 in out (NUL-terminated); returns its length
 * (1 or 2). */
size_t octo_text_byte_symbol(unsigned char b, char out[3]);

/* A streaming detokeniser: push ids one at a time, get out only complete
 * UTF-8 text; a character split over several tokens comes out whole once
 * its last byte arrives. The concatenation of every push and the final
 * flush equals octo_text_tokenizer_decode of all the ids. One object per
 * stream; it borrows tok, which must outlive it. NULL on NOMEM. */
typedef struct octo_text_detok octo_text_detok;
octo_text_detok *octo_text_detok_new(const octo_text_tokenizer *tok, bool skip_special);
/* Appends the newly complete text (maybe nothing) to out. */
octo_err octo_text_detok_push(octo_text_detok *d, int32_t id, octo_buf *out) OCTO_WUR;
/* Appends what is left (an incomplete sequence becomes U+FFFD) and resets. */
octo_err octo_text_detok_flush(octo_text_detok *d, octo_buf *out) OCTO_WUR;
void octo_text_detok_free(octo_text_detok *d);

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

/* ==== constrained decoding: JSON and JSON schema ==== */

/*
 * Guided decoding as vLLM does it for tool_choice "required", a named
 * tool_choice and response_format json_object / json_schema: before each
 * sampling step a mask sets -inf on every token whose bytes cannot continue
 * a valid JSON text; after it, accept advances the matcher.
 *
 * Three objects: a vocabulary (once per model: token bytes and a trie), a
 * compiled schema (read-only and shareable between threads; it caches
 * masks per matcher state, so reuse one per distinct schema, e.g. keyed by
 * the schema's text) and a matcher (one per sequence).
 *
 * Schema semantics (modelled on vLLM's default backend, xgrammar, in its
 * strict mode; where this list says otherwise, this list holds):
 *  - object: properties must appear in the order of "properties"; those
 *    not in "required" may be left out. additionalProperties false or
 *    absent: no other keys; true: any other keys (after the declared ones)
 *    with any values; a schema: other keys with values of that schema. An
 *    object schema without a "properties" keyword and without
 *    additionalProperties accepts any object ("properties": {} only {}).
 *    Names in "required" that are not in "properties" are not enforced.
 *  - string (any escapes, valid UTF-8 only), number, integer (no fraction
 *    or exponent), boolean, null, array (items; minItems up to 64;
 *    maxItems up to 64 enforced, above that unbounded), type lists, enum
 *    and const (matched in compact JSON form: jansson's json_dumps with
 *    JSON_COMPACT, non-ASCII kept as UTF-8), anyOf and oneOf (oneOf is not
 *    exclusive; the parent's other keywords apply to each branch), allOf of
 *    one schema, $ref into the document ("#/$defs/x", "#/definitions/x",
 *    "#"; recursion is cut after 6 nested expansions, deeper values are
 *    impossible), true / {} (any value), false (no value).
 *  - Ignored, with an INFO log line per keyword and compile: pattern, format,
 *    minLength, maxLength, minimum, maximum, exclusiveMinimum/Maximum,
 *    multipleOf, uniqueItems, patternProperties, propertyNames,
 *    min/maxProperties, prefixItems, contains, not, if, dependent*.
 *    Rejected (NULL from _new): allOf of several schemas, minItems above
 *    64, an unresolvable $ref, a malformed schema.
 *  - Whitespace: up to 16 bytes of space/tab/CR/LF before the value and
 *    around each ':' ',' and bracket; none after the value, so the
 *    model must stop (a stop id, or octo_text_jsonc_finished) once it is
 *    complete. Unconstrained ("any") values nest at most 48 deep.
 *  - Tokens: added tokens (special or not) are never allowed, except the
 *    stop ids, which are allowed exactly when the value is complete.
 *  - Size: at most 2^18 automaton states per schema (TOO_LARGE beyond;
 *    about 150 per small tool) and 2048 live parse alternatives per
 *    matcher (about one per anyOf branch still possible, so a "required"
 *    schema of more than ~500 tools can drop branches: logged as WARN).
 *    Extra keys (additionalProperties) are not checked for duplicates.
 */
typedef struct octo_text_jsonc_vocab octo_text_jsonc_vocab;
typedef struct octo_text_jsonc octo_text_jsonc;
typedef struct octo_text_jsonc_matcher octo_text_jsonc_matcher;

/* Builds the token bytes and trie of tok (borrowed: it must outlive the
 * result). stop_ids (copied; e.g. <|im_end|> and <|endoftext|>) end the
 * output once the value is complete. NULL with a reason in err on
 * NOMEM or an out-of-range stop id. */
octo_text_jsonc_vocab *octo_text_jsonc_vocab_new(const octo_text_tokenizer *tok,
                                                 const int32_t *stop_ids, size_t n_stop,
                                                 char *err, size_t err_size);
void octo_text_jsonc_vocab_free(octo_text_jsonc_vocab *v);

/* Compiles a JSON schema (borrowed during the call only), or with schema
 * NULL any JSON value (object_only: any JSON object, json_object mode;
 * object_only is ignored when a schema is given). v must outlive the
 * result. NULL with a reason in err ("invalid: ...", "unsupported: ...",
 * "too large: ...") when the schema cannot be compiled. */
octo_text_jsonc *octo_text_jsonc_new(const octo_text_jsonc_vocab *v, const json_t *schema,
                                     bool object_only, char *err, size_t err_size);
void octo_text_jsonc_free(octo_text_jsonc *jc);
/* Automaton size (diagnostics). */
size_t octo_text_jsonc_states(const octo_text_jsonc *jc);

/* A matcher at the start of the value; jc must outlive it. NULL on NOMEM.
 * One per sequence, used by one thread at a time. */
octo_text_jsonc_matcher *octo_text_jsonc_matcher_new(octo_text_jsonc *jc);
void octo_text_jsonc_matcher_free(octo_text_jsonc_matcher *m);
/* Sets logits[i] = -inf for every token i < V that may not come next
 * (ids at or past the tokenizer's vocabulary size always). OCTO_E_INVALID
 * after a stop token was accepted, OCTO_E_NOMEM. The first mask of a
 * matcher state walks the token trie; later ones (any matcher of the same
 * compiled schema) come from a cache of the last 64 states. */
octo_err octo_text_jsonc_mask(octo_text_jsonc_matcher *m, float *logits, int64_t V) OCTO_WUR;
/* The same as a bitmask: bit i of (*bits)[i / 32] set when token i is
 * allowed; *n_bits (may be NULL) gets the vocabulary size. The array is
 * owned by the matcher and valid until its next call. */
octo_err octo_text_jsonc_mask_bits(octo_text_jsonc_matcher *m, const uint32_t **bits /* OUT */,
                                   size_t *n_bits /* OUT */) OCTO_WUR;
/* Advances by one token. OCTO_E_INVALID (state unchanged) when the token
 * may not come next. */
octo_err octo_text_jsonc_accept(octo_text_jsonc_matcher *m, int32_t token) OCTO_WUR;
/* Advances by raw bytes (tests, forced text). OCTO_E_INVALID (state
 * unchanged) when the bytes leave the language. */
octo_err octo_text_jsonc_feed(octo_text_jsonc_matcher *m, const char *bytes, size_t n) OCTO_WUR;
/* The text so far is a complete value (a stop token may come). */
bool octo_text_jsonc_complete(const octo_text_jsonc_matcher *m);
/* Complete and nothing may follow but a stop token (or one was accepted):
 * the engine may end the sequence. */
bool octo_text_jsonc_finished(const octo_text_jsonc_matcher *m);

/* The schema vLLM builds for tool_choice with an OpenAI "tools" array:
 * "required" -> {"type":"array","minItems":1,"items":{"type":"object",
 * "anyOf":[{"properties":{"name":{"type":"string","enum":[NAME]},
 * "parameters":PARAMS},"required":["name","parameters"]}, ...]}} with the
 * tools' "$defs" moved to the top ("$defs" of PARAMS removed); a function
 * without parameters (or {}) gets {"type":"object","properties":{}};
 * {"type":"function","function":{"name":N}} -> the parameters of tool N;
 * "auto", "none", NULL -> *schema = NULL (no constraint). *schema is a new
 * reference. OCTO_E_NOT_FOUND for an unknown function name,
 * OCTO_E_INVALID for a malformed tools array or tool_choice. */
octo_err octo_text_jsonc_schema_for_tools(const json_t *tools, const json_t *tool_choice,
                                          json_t **schema /* OUT */) OCTO_WUR;
/* The constraint of an OpenAI response_format: "text" or NULL ->
 * *constrained false; "json_object" -> any object (*schema NULL,
 * *object_only true); "json_schema" -> json_schema.schema (a new reference;
 * a missing schema means any object). OCTO_E_INVALID when malformed. */
octo_err octo_text_jsonc_schema_for_response_format(const json_t *response_format,
                                                    json_t **schema /* OUT */,
                                                    bool *object_only /* OUT */,
                                                    bool *constrained /* OUT */) OCTO_WUR;

#endif /* OCTO_TEXT_H */
