/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_embed — POST /v1/embeddings (OpenAI shape, with vLLM's extras) for
 * Qwen3-Embedding-style models: inputs as a string, a list of strings, a
 * list of token ids or a list of such lists; the prompt goes through the
 * tokenizer's post-processor (which appends <|endoftext|> for the current
 * Qwen3-Embedding checkpoints); the engine gives the final-norm hidden state
 * of each prompt's last token (last-token pooling), which is truncated to
 * `dimensions` (Matryoshka) and L2-normalised here.
 *
 * A task instruction is written the official way, "Instruct: {task}\n
 * Query:{text}", when the request carries `instruction`; `prompt_name`
 * "query" uses the prompt of config_sentence_transformers.json instead
 * (sentence-transformers' prompt_name). Token-id inputs are used as given.
 *
 * It does no batching of its own: the pooling batcher merges concurrent
 * requests into shared forwards.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_INPUTS 2048 /* as OpenAI's API */

typedef struct embed_req {
    octo_api_pooler *p;
    int64_t trunc, dims;
    bool base64, normalize, add_special;
    const char *instruction, *prefix; /* at most one is set */
} embed_req;

static bool bad(octo_http_req *req, const char *param, const char *msg)
{
    octo_http_fail(req, OCTO_E_INVALID, param, "%s", msg);
    return false;
}

static bool read_params(octo_http_req *req, const json_t *body, embed_req *r)
{
    const json_t *v = json_object_get(body, "encoding_format");
    if (v && !json_is_null(v)) {
        const char *f = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(f, "float") && strcmp(f, "base64"))
            return bad(req, "encoding_format", "encoding_format must be 'float' or 'base64'");
        r->base64 = !strcmp(f, "base64");
    }
    r->dims = r->p->hidden_size;
    v = json_object_get(body, "dimensions");
    if (v && !json_is_null(v)) {
        json_int_t d = json_is_integer(v) ? json_integer_value(v) : 0;
        if (d < 1 || d > r->p->hidden_size) {
            octo_http_fail(req, OCTO_E_INVALID, "dimensions", "dimensions must be an integer in "
                                    "1..%lld", (long long)r->p->hidden_size);
            return false;
        }
        r->dims = d;
    }
    if (!octo_api_json_bool(req, body, "normalize", "normalize", true, &r->normalize) ||
        !octo_api_json_bool(req, body, "add_special_tokens", "add_special_tokens", true,
                            &r->add_special))
        return false;
    v = json_object_get(body, "instruction");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) return bad(req, "instruction", "instruction must be a string");
        r->instruction = json_string_value(v);
    }
    v = json_object_get(body, "prompt_name");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || strcmp(json_string_value(v), "query"))
            return bad(req, "prompt_name", "prompt_name must be 'query'");
        if (!r->p->query_prompt)
            return bad(req, "prompt_name", "the model defines no 'query' prompt");
        if (r->instruction)
            return bad(req, "prompt_name", "give either instruction or prompt_name");
        r->prefix = r->p->query_prompt;
    }
    return octo_api_pool_trunc_read(req, body, r->p, &r->trunc);
}

static bool add_text(octo_http_req *req, const embed_req *r, octo_api_pool_inputs *in,
                     const json_t *s)
{
    const char *text = json_string_value(s);
    size_t len = json_string_length(s);
    if (len == 0) return bad(req, "input", "input must not be an empty string");
    int32_t *ids = NULL;
    size_t n = 0, bad_at = 0;
    octo_err rc = octo_runtime_embed_tokens(r->p->rt, r->instruction, r->prefix, text, len,
                                            r->add_special, &ids, &n, &bad_at);
    if (rc == OCTO_E_PARSE) return bad(req, "input", "input is not valid UTF-8");
    if (rc) {
        octo_http_fail(req, rc, "input", "cannot tokenise the "
                                "input: %s", octo_err_str(rc));
        return false;
    }
    if (n == 0) return bad(req, "input", "input gives no tokens");
    return octo_api_pool_inputs_add(req, r->p, in, ids, (int64_t)n, r->trunc,
                                    "embedding generation");
}

static bool add_ids(octo_http_req *req, const embed_req *r, octo_api_pool_inputs *in,
                    const json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n == 0) return bad(req, "input", "input must not be an empty list of token ids");
    if (n > OCTO_LIMIT_PROMPT_TOKENS) return bad(req, "input", "too many token ids");
    int32_t *ids = octo_malloc(n * sizeof *ids);
    if (!ids) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(arr, i);
        json_int_t v = json_is_integer(t) ? json_integer_value(t) : -1;
        if (v < 0 || v >= r->p->vocab_size) {
            octo_free(ids);
            octo_http_fail(req, OCTO_E_INVALID, "input", "token id %lld is outside the "
                                    "vocabulary (0..%lld)", (long long)v,
                                    (long long)r->p->vocab_size - 1);
            return false;
        }
        ids[i] = (int32_t)v;
    }
    return octo_api_pool_inputs_add(req, r->p, in, ids, (int64_t)n, r->trunc,
                                    "embedding generation");
}

/* input: a string, a list of strings, a list of ids or a list of lists of
 * ids (OpenAI). */
static bool read_inputs(octo_http_req *req, const json_t *body, const embed_req *r,
                        octo_api_pool_inputs *in)
{
    const json_t *input = json_object_get(body, "input");
    if (json_is_string(input)) return add_text(req, r, in, input);
    if (!json_is_array(input))
        return bad(req, "input", "'input' must be a string, a list of strings, a list of token "
                   "ids or a list of lists of token ids");
    size_t n = json_array_size(input);
    if (n == 0) return bad(req, "input", "input must not be an empty list");
    const json_t *first = json_array_get(input, 0);
    if (json_is_integer(first)) {
        if (r->instruction || r->prefix)
            return bad(req, "instruction", "an instruction applies to text inputs only");
        return add_ids(req, r, in, input);
    }
    if (n > MAX_INPUTS) return bad(req, "input", "at most 2048 inputs per request");
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(input, i);
        bool ok;
        if (json_is_string(first) && json_is_string(x)) {
            ok = add_text(req, r, in, x);
        } else if (json_is_array(first) && json_is_array(x)) {
            if (r->instruction || r->prefix)
                return bad(req, "instruction", "an instruction applies to text inputs only");
            ok = add_ids(req, r, in, x);
        } else {
            return bad(req, "input", "the items of 'input' must all be strings or all lists of "
                       "token ids");
        }
        if (!ok) return false;
    }
    return true;
}

/* Matryoshka truncation to dims (the caller keeps those), then L2
 * normalisation. */
static void finish_vector(float *v, int64_t dims, bool normalize)
{
    if (normalize) octo_runtime_embed_normalize(v, dims);
}

static char *base64_f32(const float *v, int64_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t nb = (size_t)n * 4;
    unsigned char *b = octo_malloc(nb ? nb : 1);
    char *out = octo_malloc((nb + 2) / 3 * 4 + 1);
    if (!b || !out) {
        octo_free(b);
        octo_free(out);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) { /* little-endian f32 */
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) b[i * 4 + k] = (unsigned char)(u >> (8 * k));
    }
    size_t o = 0;
    for (size_t i = 0; i < nb; i += 3) {
        uint32_t w = (uint32_t)b[i] << 16;
        if (i + 1 < nb) w |= (uint32_t)b[i + 1] << 8;
        if (i + 2 < nb) w |= b[i + 2];
        out[o++] = tab[(w >> 18) & 63];
        out[o++] = tab[(w >> 12) & 63];
        out[o++] = i + 1 < nb ? tab[(w >> 6) & 63] : '=';
        out[o++] = i + 2 < nb ? tab[w & 63] : '=';
    }
    out[o] = '\0';
    octo_free(b);
    return out;
}

static json_t *vector_json(const float *v, int64_t dims, bool b64)
{
    if (b64) {
        char *s = base64_f32(v, dims);
        json_t *j = s ? json_string(s) : NULL;
        octo_free(s);
        return j;
    }
    json_t *a = json_array();
    for (int64_t i = 0; a && i < dims; i++) json_array_append_new(a, json_real((double)v[i]));
    return a;
}

static void respond(octo_http_req *req, const embed_req *r, const octo_api_pool_inputs *in,
                    float *out, const char *model)
{
    int64_t hidden = r->p->hidden_size;
    json_t *data = json_array();
    for (size_t i = 0; data && i < in->n; i++) {
        float *v = out + (int64_t)i * hidden;
        finish_vector(v, r->dims, r->normalize);
        json_t *e = vector_json(v, r->dims, r->base64);
        if (!e) {
            json_decref(data);
            data = NULL;
            break;
        }
        json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index",
                                              (json_int_t)i, "embedding", e));
    }
    if (!data) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return;
    }
    char id[40] = "embd-";
    octo_random_hex(id + 5, 32);
    json_t *usage = json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)in->total_tokens,
                              "total_tokens", (json_int_t)in->total_tokens);
    octo_http_respond_json(req, 200, json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", id,
                                               "object", "list", "created",
                                               (json_int_t)octo_unix_time(), "model", model,
                                               "data", data, "usage", usage));
}

void octo_api_embeddings(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    json_t *body;
    octo_api_pool_inputs in = {0};
    float *out = NULL;
    const octo_model_config *m =
        octo_api_request_begin(api, req, OCTO_TASK_EMBED, "Embeddings", &body);
    if (!m) return;
    embed_req r = {.p = octo_api_pooler_ready(api, req, m)};
    if (!r.p) goto done;
    if (!read_params(req, body, &r) || !read_inputs(req, body, &r, &in)) goto done;
    out = octo_api_pool_run(req, r.p, &in);
    if (!out) goto done;
    const json_t *jm = json_object_get(body, "model");
    respond(req, &r, &in, out, json_is_string(jm) ? json_string_value(jm) : m->name);
done:
    octo_free(out);
    octo_api_pool_inputs_deinit(&in);
    json_decref(body);
}
