/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer — text to token ids and back: the byte-level BPE tokenizer
 * (Hugging Face tokenizer.json or a GGUF vocabulary) and the streaming
 * detokeniser.
 *
 * It knows no chat template, no model weights, no engine and no transport.
 */
#ifndef OCTO_TOKENIZER_H
#define OCTO_TOKENIZER_H

#include "base/base.h"

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

#endif /* OCTO_TOKENIZER_H */
