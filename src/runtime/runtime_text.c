/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime_text — the text side of a model instance, each file read once:
 * tokenizer.json, tokenizer_config.json (special tokens, chat_template),
 * the chat template (discovery below), generation_config.json (EOS ids,
 * sampling defaults), config_sentence_transformers.json (an embedding
 * model's query prompt), and the reranker prompt of a score model. Also
 * the pooling arithmetic that embeddings and scores share.
 *
 * It renders no chat and parses no tool call: text/ does, on what this
 * loads.
 */
#include "runtime_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The official Qwen3-Reranker prompt (model card): a system judgement
 * instruction, then the user turn that the pair fills, then an assistant
 * turn with an empty think block, whose next token is "yes" or "no". */
static const char k_rr_prefix[] =
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    "and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n"
    "<|im_start|>user\n";
static const char k_rr_suffix[] = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ==== generate: tokenizer_config.json, template, generation config ==== */

/* The chat template, first found of: the entry's chat_template
 * (--chat-template), tokenizer_config.json's chat_template, then
 * chat_template.jinja beside it. None: the model serves completions only
 * (chat answers 400, as vLLM does). */
static octo_err load_template(octo_runtime_model *rm, char *err, size_t n)
{
    char path[OCTO_LIMIT_PATH_BYTES + 64];
    const char *origin = NULL;
    octo_err rc = OCTO_OK;
    if (rm->cfg->chat_template) {
        origin = rm->cfg->chat_template;
        rc = octo_text_template_load(origin, NULL, &rm->tpl, err, n);
    } else if (rm->tok_config && json_object_get(rm->tok_config, "chat_template")) {
        origin = "tokenizer_config.json";
        rc = octo_text_template_from_config(rm->tok_config, NULL, &rm->tpl, err, n);
    } else {
        snprintf(path, sizeof path, "%s/chat_template.jinja", rm->tok_dir);
        if (!is_file(path)) return OCTO_OK;
        origin = path;
        rc = octo_text_template_load(path, NULL, &rm->tpl, err, n);
    }
    if (rc) return rc;
    rm->tpl_origin = octo_strdup(origin);
    return rm->tpl_origin ? OCTO_OK : OCTO_E_NOMEM;
}

static octo_err load_chat(octo_runtime_model *rm, char *err, size_t n)
{
    char path[OCTO_LIMIT_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", rm->tok_dir);
    if (is_file(path)) {
        json_error_t je;
        rm->tok_config = json_load_file(path, 0, &je);
        if (!rm->tok_config) {
            snprintf(err, n, "%s:%d: %s", path, je.line, je.text);
            return OCTO_E_PARSE;
        }
    }
    octo_text_chat_opts_from_config(rm->tok_config, &rm->chat_opts);
    octo_err rc = load_template(rm, err, n);
    if (rc) return rc;
    /* sampling defaults and EOS ids; none or a malformed one: the API's
     * own defaults and config.json's EOS */
    char gerr[256];
    rc = octo_formats_gen_config_load(rm->dir, &rm->gen, gerr, sizeof gerr);
    if (rc) {
        if (rc != OCTO_E_NOT_FOUND) OCTO_LOG_WARN("generation_config.json ignored: %s", gerr);
        memset(&rm->gen, 0, sizeof rm->gen);
    }
    return OCTO_OK;
}

/* ==== embed and score ==== */

/* sentence-transformers' query prompt, when the checkpoint names one. */
static octo_err load_query_prompt(octo_runtime_model *rm)
{
    char path[OCTO_LIMIT_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/config_sentence_transformers.json", rm->dir);
    if (!is_file(path)) return OCTO_OK;
    json_t *st = json_load_file(path, 0, NULL);
    const json_t *q = json_object_get(json_object_get(st, "prompts"), "query");
    bool has = json_is_string(q);
    if (has) rm->query_prompt = octo_strdup(json_string_value(q));
    json_decref(st);
    return has && !rm->query_prompt ? OCTO_E_NOMEM : OCTO_OK;
}

static octo_err encode_const(const octo_text_tokenizer *tok, const char *s, int32_t **ids,
                             int64_t *n)
{
    size_t len = 0;
    octo_err rc = octo_text_tokenizer_encode(tok, s, strlen(s), false, ids, &len, NULL);
    *n = (int64_t)len;
    return rc;
}

static octo_err load_score(octo_runtime_model *rm, char *err, size_t n)
{
    rm->yes_id = octo_text_tokenizer_token_id(rm->tok, "yes");
    rm->no_id = octo_text_tokenizer_token_id(rm->tok, "no");
    if (rm->yes_id < 0 || rm->no_id < 0) {
        snprintf(err, n, "a score model needs the tokens \"yes\" and \"no\" in its vocabulary");
        return OCTO_E_INVALID;
    }
    octo_err rc = encode_const(rm->tok, k_rr_prefix, &rm->rr_prefix, &rm->n_rr_prefix);
    if (!rc) rc = encode_const(rm->tok, k_rr_suffix, &rm->rr_suffix, &rm->n_rr_suffix);
    if (rc) snprintf(err, n, "cannot tokenise the reranker prompt: %s", octo_err_str(rc));
    return rc;
}

/* ==== load ==== */

octo_err octo_runtime_text_load(octo_runtime_model *rm, char *err, size_t n)
{
    char path[OCTO_LIMIT_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/tokenizer.json", rm->tok_dir);
    if (!is_file(path)) {
        snprintf(err, n, "no tokenizer.json in %s", rm->tok_dir);
        return OCTO_E_NOT_FOUND;
    }
    rm->tok = octo_text_tokenizer_load(path, err, n);
    if (!rm->tok) return OCTO_E_PARSE;
    switch (rm->cfg->task) {
    case OCTO_TASK_GENERATE: return load_chat(rm, err, n);
    case OCTO_TASK_EMBED: return load_query_prompt(rm);
    case OCTO_TASK_SCORE: return load_score(rm, err, n);
    default: return OCTO_E_UNSUPPORTED;
    }
}

octo_err octo_runtime_text_finish(octo_runtime_model *rm, char *err, size_t n)
{
    if (rm->cfg->task != OCTO_TASK_GENERATE || rm->opts.engine_only) return OCTO_OK;
    const int64_t *eos = NULL;
    int n_eos = octo_engine_eos_ids(rm->engine, &eos);
    int32_t stop[16];
    size_t n_stop = 0;
    for (int k = 0; k < n_eos && n_stop < 16; k++) stop[n_stop++] = (int32_t)eos[k];
    rm->jvocab = octo_text_jsonc_vocab_new(rm->tok, stop, n_stop, err, n);
    return rm->jvocab ? OCTO_OK : OCTO_E_NOMEM;
}

void octo_runtime_text_free(octo_runtime_model *rm)
{
    octo_text_jsonc_vocab_free(rm->jvocab);
    octo_text_template_free(rm->tpl);
    octo_text_tokenizer_free(rm->tok);
    json_decref(rm->tok_config);
    octo_free(rm->tpl_origin);
    octo_free(rm->query_prompt);
    octo_free(rm->rr_prefix);
    octo_free(rm->rr_suffix);
}

/* ==== accessors ==== */

const octo_text_tokenizer *octo_runtime_model_tokenizer(const octo_runtime_model *rm)
{
    return rm->tok;
}
const octo_text_template *octo_runtime_model_template(const octo_runtime_model *rm)
{
    return rm->tpl;
}
const char *octo_runtime_model_template_origin(const octo_runtime_model *rm)
{
    return rm->tpl_origin;
}
const octo_text_chat_opts *octo_runtime_model_chat_opts(const octo_runtime_model *rm)
{
    return &rm->chat_opts;
}
const octo_formats_gen_config *octo_runtime_model_gen_config(const octo_runtime_model *rm)
{
    return &rm->gen;
}
octo_text_jsonc_vocab *octo_runtime_model_jsonc_vocab(const octo_runtime_model *rm)
{
    return rm->jvocab;
}
const char *octo_runtime_model_query_prompt(const octo_runtime_model *rm)
{
    return rm->query_prompt;
}

/* ==== pooling arithmetic ==== */

int64_t octo_runtime_truncate(int32_t *ids, int64_t len, int64_t keep)
{
    if (keep <= 0 || len <= keep) return len;
    memmove(ids, ids + (len - keep), (size_t)keep * sizeof *ids); /* keep the end, as vLLM */
    return keep;
}

octo_err octo_runtime_embed_tokens(const octo_runtime_model *rm, const char *instruction,
                                   const char *prefix, const char *text, size_t len,
                                   bool add_special, int32_t **ids, size_t *n, size_t *bad_at)
{
    octo_buf full;
    *ids = NULL;
    *n = 0;
    octo_buf_init(&full, OCTO_LIMIT_HTTP_BODY_BYTES + 4096);
    octo_err rc = OCTO_OK;
    if (instruction) rc = octo_buf_printf(&full, "Instruct: %s\nQuery:", instruction);
    else if (prefix) rc = octo_buf_puts(&full, prefix);
    if (!rc) rc = octo_buf_append(&full, text, len);
    if (!rc) rc = octo_text_tokenizer_encode(rm->tok, full.data, full.len, add_special, ids, n,
                                             bad_at);
    octo_buf_deinit(&full);
    return rc;
}

void octo_runtime_embed_normalize(float *v, int64_t dims)
{
    double ss = 0;
    for (int64_t i = 0; i < dims; i++) ss += (double)v[i] * v[i];
    double inv = 1.0 / fmax(sqrt(ss), 1e-12); /* torch F.normalize's eps */
    for (int64_t i = 0; i < dims; i++) v[i] = (float)(v[i] * inv);
}

octo_err octo_runtime_score_tokens(const octo_runtime_model *rm, const char *instruction,
                                   const char *query, size_t query_len, const char *doc,
                                   size_t doc_len, int64_t trunc, int32_t **ids, int64_t *n_out)
{
    *ids = NULL;
    *n_out = 0;
    if (rm->cfg->task != OCTO_TASK_SCORE) return OCTO_E_INVALID;
    octo_buf text;
    octo_buf_init(&text, 2u * OCTO_LIMIT_HTTP_BODY_BYTES);
    octo_err rc = octo_buf_printf(&text, "<Instruct>: %s\n<Query>: ",
                                  instruction ? instruction : OCTO_RUNTIME_SCORE_INSTRUCTION);
    if (!rc) rc = octo_buf_append(&text, query, query_len);
    if (!rc) rc = octo_buf_puts(&text, "\n<Document>: ");
    if (!rc) rc = octo_buf_append(&text, doc, doc_len);
    int32_t *mid = NULL;
    size_t n_mid = 0;
    if (!rc) rc = octo_text_tokenizer_encode(rm->tok, text.data, text.len, true, &mid, &n_mid,
                                             NULL);
    octo_buf_deinit(&text);
    if (rc) return rc;
    int64_t fixed = rm->n_rr_prefix + rm->n_rr_suffix, n = (int64_t)n_mid;
    if (trunc > 0 && fixed + n > trunc) n = trunc > fixed ? trunc - fixed : 0;
    int32_t *out = octo_malloc((size_t)(fixed + n) * sizeof *out);
    if (!out) {
        octo_free(mid);
        return OCTO_E_NOMEM;
    }
    memcpy(out, rm->rr_prefix, (size_t)rm->n_rr_prefix * sizeof *out);
    if (n) memcpy(out + rm->n_rr_prefix, mid, (size_t)n * sizeof *out);
    memcpy(out + rm->n_rr_prefix + n, rm->rr_suffix, (size_t)rm->n_rr_suffix * sizeof *out);
    octo_free(mid);
    *ids = out;
    *n_out = fixed + n;
    return OCTO_OK;
}

double octo_runtime_score_relevance(const float *no_yes)
{
    return 1.0 / (1.0 + exp((double)no_yes[0] - (double)no_yes[1]));
}
