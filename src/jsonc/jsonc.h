/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonc — constrained JSON decoding: token masks that keep generation
 * inside JSON or a JSON schema (guided decoding for tool_choice and
 * response_format), over a tokenizer's vocabulary.
 *
 * It samples nothing and knows no engine: the engine applies the masks.
 */
#ifndef OCTO_JSONC_H
#define OCTO_JSONC_H

#include <jansson.h>

#include "base/base.h"
#include "tokenizer/tokenizer.h"

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

#endif /* OCTO_JSONC_H */
