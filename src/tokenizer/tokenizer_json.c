/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer_json — reads a Hugging Face tokenizer.json into the tables of
 * tokenizer.c: model BPE (vocab, merges as "a b" strings or [a, b] pairs),
 * added_tokens (ids checked against the ids HF itself would assign),
 * normalizer (NFC/NFD/NFKC/NFKD, Sequence), pre_tokenizer (Split with a
 * Regex or String pattern and any behaviour, ByteLevel, Sequence),
 * post_processor (ByteLevel, TemplateProcessing, Sequence) and decoder
 * (ByteLevel). Every malformed or inconsistent file is refused with a
 * one-line reason naming the field.
 *
 * It deliberately supports only byte-level BPE: WordPiece, Unigram,
 * Metaspace or byte_fallback files are refused as unsupported, never
 * half-loaded.
 */
#include "tokenizer/tokenizer_int.h"

#include <jansson.h>
#include <string.h>

typedef struct jctx {
    octo_text_tokenizer *tok;
    char *err;
    size_t err_size;
} jctx;

#define FAIL(c, rc, ...) tok_fail((c)->err, (c)->err_size, rc, __VA_ARGS__)

/* ---- small typed getters ---- */

static octo_err get_bool(jctx *c, json_t *o, const char *key, const char *where, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v))
        return FAIL(c, OCTO_E_PARSE, "%s.%s: missing or not a boolean", where, key);
    *out = json_is_true(v);
    return OCTO_OK;
}

/* Optional boolean: absent or null keeps *out. */
static octo_err opt_bool(jctx *c, json_t *o, const char *key, const char *where, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    return get_bool(c, o, key, where, out);
}

static const char *get_type(jctx *c, json_t *o, const char *where)
{
    if (!json_is_object(o)) {
        FAIL(c, OCTO_E_PARSE, "%s: not an object", where);
        return NULL;
    }
    json_t *t = json_object_get(o, "type");
    if (!json_is_string(t)) {
        FAIL(c, OCTO_E_PARSE, "%s.type: missing or not a string", where);
        return NULL;
    }
    return json_string_value(t);
}

/* ==== model ==== */

static octo_err model_options(jctx *c, json_t *m)
{
    octo_text_tokenizer *tok = c->tok;
    json_t *v = json_object_get(m, "dropout");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v)) return FAIL(c, OCTO_E_PARSE, "model.dropout: not a number");
        double d = json_number_value(v);
        if (d < 0 || d > 1) return FAIL(c, OCTO_E_PARSE, "model.dropout: %g not in [0, 1]", d);
        if (d > 0) return FAIL(c, OCTO_E_UNSUPPORTED, "model.dropout %g (BPE dropout)", d);
    }
    static const char *const empty_only[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(m, empty_only[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_string(v))
            return FAIL(c, OCTO_E_PARSE, "model.%s: not a string", empty_only[i]);
        if (json_string_length(v))
            return FAIL(c, OCTO_E_UNSUPPORTED, "model.%s \"%.32s\"", empty_only[i],
                        json_string_value(v));
    }
    bool byte_fallback = false;
    octo_err rc = opt_bool(c, m, "byte_fallback", "model", &byte_fallback);
    if (!rc) rc = opt_bool(c, m, "fuse_unk", "model", &tok->fuse_unk);
    if (!rc) rc = opt_bool(c, m, "ignore_merges", "model", &tok->ignore_merges);
    if (rc) return rc;
    if (byte_fallback) return FAIL(c, OCTO_E_UNSUPPORTED, "model.byte_fallback");
    v = json_object_get(m, "unk_token");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) return FAIL(c, OCTO_E_PARSE, "model.unk_token: not a string");
        tok->unk_id = tok_vocab_find(tok, &tok->vocab, json_string_value(v), json_string_length(v));
        if (tok->unk_id < 0)
            return FAIL(c, OCTO_E_PARSE, "model.unk_token \"%.32s\" not in the vocabulary",
                        json_string_value(v));
    }
    return OCTO_OK;
}

static octo_err model_merges(jctx *c, json_t *merges)
{
    if (!json_is_array(merges))
        return FAIL(c, OCTO_E_PARSE, "model.merges: missing or not an array");
    size_t n = json_array_size(merges), rank = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(merges, i);
        const char *l, *r;
        size_t ll, rl;
        if (json_is_string(e)) {
            const char *s = json_string_value(e);
            size_t len = json_string_length(e);
            if (len >= 8 && !strncmp(s, "#version", 8)) continue; /* as HF's legacy reader */
            const char *sp = memchr(s, ' ', len);
            if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)))
                return FAIL(c, OCTO_E_PARSE, "model.merges[%zu]: \"%.64s\" is not two tokens "
                            "separated by one space", i, s);
            l = s;
            ll = (size_t)(sp - s);
            r = sp + 1;
            rl = len - ll - 1;
        } else if (json_is_array(e) && json_array_size(e) == 2 &&
                   json_is_string(json_array_get(e, 0)) && json_is_string(json_array_get(e, 1))) {
            l = json_string_value(json_array_get(e, 0));
            ll = json_string_length(json_array_get(e, 0));
            r = json_string_value(json_array_get(e, 1));
            rl = json_string_length(json_array_get(e, 1));
        } else {
            return FAIL(c, OCTO_E_PARSE, "model.merges[%zu]: neither \"a b\" nor [\"a\", \"b\"]",
                        i);
        }
        if (ll > OCTO_LIMIT_TOKEN_BYTES || rl > OCTO_LIMIT_TOKEN_BYTES)
            return FAIL(c, OCTO_E_TOO_LARGE, "model.merges[%zu]: token too long", i);
        octo_err rc = tok_add_merge(c->tok, l, ll, r, rl, (uint32_t)rank++, n, c->err, c->err_size);
        if (rc) return rc;
    }
    return OCTO_OK;
}

/* Sizes the id table from the vocabulary and added tokens, fills the model
 * vocabulary, then reads merges and options. */
static octo_err load_model(jctx *c, json_t *root, json_t *added)
{
    json_t *m = json_object_get(root, "model");
    if (!m) return FAIL(c, OCTO_E_PARSE, "model: missing");
    const char *type = get_type(c, m, "model");
    if (!type) return OCTO_E_PARSE;
    if (strcmp(type, "BPE")) return FAIL(c, OCTO_E_UNSUPPORTED, "model.type \"%.32s\"", type);
    json_t *vocab = json_object_get(m, "vocab");
    if (!json_is_object(vocab))
        return FAIL(c, OCTO_E_PARSE, "model.vocab: missing or not an object");
    json_int_t max_id = -1;
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= (json_int_t)OCTO_LIMIT_VOCAB_TOKENS)
            return FAIL(c, OCTO_E_PARSE, "model.vocab[\"%.64s\"]: id not an integer in [0, %u)",
                        key, OCTO_LIMIT_VOCAB_TOKENS);
        if (json_integer_value(val) > max_id) max_id = json_integer_value(val);
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *id = json_object_get(json_array_get(added, i), "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= (json_int_t)OCTO_LIMIT_VOCAB_TOKENS)
            return FAIL(c, OCTO_E_PARSE, "added_tokens[%zu].id: missing or out of range", i);
        if (json_integer_value(id) > max_id) max_id = json_integer_value(id);
    }
    octo_err rc = tok_reserve_ids(c->tok, (size_t)(max_id + 1), c->err, c->err_size);
    if (rc) return rc;
    json_object_foreach(vocab, key, val) {
        rc = tok_set_string(c->tok, (int32_t)json_integer_value(val), key, strlen(key), TOKF_MODEL,
                            c->err, c->err_size);
        if (rc) return rc;
    }
    rc = tok_build_vocab(c->tok, c->err, c->err_size);
    if (!rc) rc = model_merges(c, json_object_get(m, "merges"));
    if (!rc) rc = model_options(c, m);
    return rc;
}

/* ==== added tokens ==== */

/* HF assigns an added token the id of its content in the model vocabulary,
 * else the next id after the model's size or the largest added id; a file
 * whose ids differ is inconsistent (HF would silently renumber). */
static octo_err load_added(jctx *c, json_t *added)
{
    octo_text_tokenizer *tok = c->tok;
    long max_added = -1;
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        char where[48];
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        if (!json_is_object(a)) return FAIL(c, OCTO_E_PARSE, "%s: not an object", where);
        json_t *content = json_object_get(a, "content");
        if (!json_is_string(content)) return FAIL(c, OCTO_E_PARSE, "%s.content: missing", where);
        const char *s = json_string_value(content);
        size_t len = json_string_length(content);
        if (!len) continue; /* HF ignores empty added tokens */
        tok_added t = {.id = (int32_t)json_integer_value(json_object_get(a, "id"))};
        octo_err rc = get_bool(c, a, "special", where, &t.special);
        if (!rc) rc = get_bool(c, a, "lstrip", where, &t.lstrip);
        if (!rc) rc = get_bool(c, a, "rstrip", where, &t.rstrip);
        if (!rc) rc = get_bool(c, a, "single_word", where, &t.single_word);
        if (!rc) rc = get_bool(c, a, "normalized", where, &t.normalized);
        if (rc) return rc;
        int32_t in_vocab = tok_vocab_find(tok, &tok->vocab, s, len);
        long want = in_vocab >= 0 ? in_vocab
                    : max_added >= (long)tok->n_model ? max_added + 1 : (long)tok->n_model;
        if (t.id != want)
            return FAIL(c, OCTO_E_PARSE, "%s: \"%.64s\" has id %ld but must be %ld (model vocab "
                        "of %zu, added ids in order)", where, s, (long)t.id, want, tok->n_model);
        if (tok->flags[t.id] & TOKF_ADDED)
            return FAIL(c, OCTO_E_PARSE, "%s: \"%.64s\" added twice", where, s);
        if (in_vocab < 0) {
            rc = tok_set_string(tok, t.id, s, len, 0, c->err, c->err_size);
            if (rc) return rc;
        }
        if (t.id > max_added) max_added = t.id;
        rc = tok_add_added(tok, &t, c->err, c->err_size);
        if (rc) return rc;
    }
    return OCTO_OK;
}

/* ==== normalizer ==== */

static octo_err load_normalizer(jctx *c, json_t *n, const char *where, int depth)
{
    octo_text_tokenizer *tok = c->tok;
    if (!n || json_is_null(n)) return OCTO_OK;
    const char *type = get_type(c, n, where);
    if (!type) return OCTO_E_PARSE;
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(n, "normalizers");
        if (!json_is_array(list))
            return FAIL(c, OCTO_E_PARSE, "%s.normalizers: not an array", where);
        if (depth > 4) return FAIL(c, OCTO_E_UNSUPPORTED, "%s: Sequence nested too deep", where);
        for (size_t i = 0; i < json_array_size(list); i++) {
            char sub[128];
            snprintf(sub, sizeof sub, "%.60s.normalizers[%zu]", where, i);
            octo_err rc = load_normalizer(c, json_array_get(list, i), sub, depth + 1);
            if (rc) return rc;
        }
        return OCTO_OK;
    }
    tok_norm k;
    if (!strcmp(type, "NFC")) k = TOK_NORM_NFC;
    else if (!strcmp(type, "NFD")) k = TOK_NORM_NFD;
    else if (!strcmp(type, "NFKC")) k = TOK_NORM_NFKC;
    else if (!strcmp(type, "NFKD")) k = TOK_NORM_NFKD;
    else return FAIL(c, OCTO_E_UNSUPPORTED, "%s.type \"%.32s\"", where, type);
    if (tok->n_norms == TOK_MAX_NORMS) return FAIL(c, OCTO_E_UNSUPPORTED, "too many normalizers");
    tok->norms[tok->n_norms++] = k;
    return OCTO_OK;
}

/* ==== pre-tokenizer ==== */

static octo_err split_behavior(jctx *c, json_t *p, const char *where, tok_split_behavior *b)
{
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    json_t *v = json_object_get(p, "behavior");
    if (!json_is_string(v)) return FAIL(c, OCTO_E_PARSE, "%s.behavior: missing", where);
    for (int i = 0; i < 5; i++)
        if (!strcmp(json_string_value(v), names[i])) {
            *b = (tok_split_behavior)i;
            return OCTO_OK;
        }
    return FAIL(c, OCTO_E_PARSE, "%s.behavior \"%.32s\" unknown", where, json_string_value(v));
}

static octo_err load_split(jctx *c, json_t *p, const char *where, tok_step *st)
{
    json_t *pat = json_object_get(p, "pattern");
    json_t *rx = json_object_get(pat, "Regex"), *str = json_object_get(pat, "String");
    if (!json_is_string(rx) && !json_is_string(str))
        return FAIL(c, OCTO_E_PARSE, "%s.pattern: neither {\"Regex\": ...} nor {\"String\": ...}",
                    where);
    st->kind = TOK_STEP_SPLIT;
    octo_err rc = split_behavior(c, p, where, &st->behavior);
    if (!rc) rc = get_bool(c, p, "invert", where, &st->invert);
    if (rc) return rc;
    json_t *s = rx ? rx : str;
    if (!json_string_length(s) && str)
        return FAIL(c, OCTO_E_UNSUPPORTED, "%s: empty String", where);
    return tok_compile_regex(json_string_value(s), json_string_length(s), !rx, &st->re, &st->jit,
                             c->err, c->err_size);
}

static octo_err load_pretok(jctx *c, json_t *p, const char *where, int depth)
{
    octo_text_tokenizer *tok = c->tok;
    if (!p || json_is_null(p)) return OCTO_OK;
    const char *type = get_type(c, p, where);
    if (!type) return OCTO_E_PARSE;
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list))
            return FAIL(c, OCTO_E_PARSE, "%s.pretokenizers: not an array", where);
        if (depth > 4) return FAIL(c, OCTO_E_UNSUPPORTED, "%s: Sequence nested too deep", where);
        for (size_t i = 0; i < json_array_size(list); i++) {
            char sub[128];
            snprintf(sub, sizeof sub, "%.60s.pretokenizers[%zu]", where, i);
            octo_err rc = load_pretok(c, json_array_get(list, i), sub, depth + 1);
            if (rc) return rc;
        }
        return OCTO_OK;
    }
    if (tok->n_steps == TOK_MAX_STEPS)
        return FAIL(c, OCTO_E_UNSUPPORTED, "too many pre-tokenizers");
    tok_step st = {0};
    octo_err rc;
    if (!strcmp(type, "Split")) {
        rc = load_split(c, p, where, &st);
    } else if (!strcmp(type, "ByteLevel")) {
        bool use_regex = true; /* HF's default */
        st.kind = TOK_STEP_BYTELEVEL;
        rc = opt_bool(c, p, "add_prefix_space", where, &st.add_prefix_space);
        if (!rc) rc = opt_bool(c, p, "use_regex", where, &use_regex);
        if (!rc && use_regex) rc = tok_bytelevel_regex(&st.re, &st.jit, c->err, c->err_size);
    } else {
        return FAIL(c, OCTO_E_UNSUPPORTED, "%s.type \"%.32s\"", where, type);
    }
    if (rc) return rc;
    tok->steps[tok->n_steps++] = st;
    return OCTO_OK;
}

/* ==== post-processor and decoder ==== */

static octo_err post_push(jctx *c, int32_t id)
{
    octo_text_tokenizer *tok = c->tok;
    int32_t *np = octo_realloc(tok->post, (tok->n_post + 1) * sizeof *np);
    if (!np) return FAIL(c, OCTO_E_NOMEM, "template");
    tok->post = np;
    tok->post[tok->n_post++] = id;
    return OCTO_OK;
}

static octo_err template_item(jctx *c, json_t *item, json_t *specials, size_t idx,
                              size_t *n_seq)
{
    octo_text_tokenizer *tok = c->tok;
    json_t *seq = json_object_get(item, "Sequence"), *sp = json_object_get(item, "SpecialToken");
    if (seq) {
        json_t *id = json_object_get(seq, "id");
        if (!json_is_string(id) || strcmp(json_string_value(id), "A"))
            return FAIL(c, OCTO_E_PARSE, "post_processor.single[%zu]: only sequence A may appear",
                        idx);
        (*n_seq)++;
        return post_push(c, -1);
    }
    json_t *name = json_object_get(sp, "id");
    if (!json_is_string(name))
        return FAIL(c, OCTO_E_PARSE, "post_processor.single[%zu]: neither Sequence nor "
                    "SpecialToken", idx);
    json_t *ids = json_object_get(json_object_get(specials, json_string_value(name)), "ids");
    if (!json_is_array(ids))
        return FAIL(c, OCTO_E_PARSE, "post_processor.special_tokens[\"%.64s\"].ids: missing",
                    json_string_value(name));
    for (size_t k = 0; k < json_array_size(ids); k++) {
        json_t *v = json_array_get(ids, k);
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= (json_int_t)tok->n_ids || !(tok->flags[id] & TOKF_PRESENT))
            return FAIL(c, OCTO_E_PARSE, "post_processor.special_tokens[\"%.64s\"]: id not in "
                        "the vocabulary", json_string_value(name));
        octo_err rc = post_push(c, (int32_t)id);
        if (rc) return rc;
    }
    return OCTO_OK;
}

static octo_err load_template(jctx *c, json_t *p)
{
    octo_text_tokenizer *tok = c->tok;
    json_t *single = json_object_get(p, "single");
    json_t *specials = json_object_get(p, "special_tokens");
    if (!json_is_array(single))
        return FAIL(c, OCTO_E_PARSE, "post_processor.single: missing or not an array");
    if (tok->has_post) return FAIL(c, OCTO_E_UNSUPPORTED, "two TemplateProcessing");
    tok->has_post = true;
    size_t n_seq = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        octo_err rc = template_item(c, json_array_get(single, i), specials, i, &n_seq);
        if (rc) return rc;
    }
    if (n_seq != 1)
        return FAIL(c, OCTO_E_PARSE, "post_processor.single: sequence A appears %zu times", n_seq);
    return OCTO_OK;
}

static octo_err load_post(jctx *c, json_t *p, int depth)
{
    if (!p || json_is_null(p)) return OCTO_OK;
    const char *type = get_type(c, p, "post_processor");
    if (!type) return OCTO_E_PARSE;
    if (!strcmp(type, "ByteLevel")) return OCTO_OK; /* offsets only */
    if (!strcmp(type, "TemplateProcessing")) return load_template(c, p);
    if (!strcmp(type, "Sequence") && depth < 4) {
        json_t *list = json_object_get(p, "processors");
        if (!json_is_array(list))
            return FAIL(c, OCTO_E_PARSE, "post_processor.processors: not an array");
        for (size_t i = 0; i < json_array_size(list); i++) {
            octo_err rc = load_post(c, json_array_get(list, i), depth + 1);
            if (rc) return rc;
        }
        return OCTO_OK;
    }
    return FAIL(c, OCTO_E_UNSUPPORTED, "post_processor.type \"%.32s\"", type);
}

static octo_err load_decoder(jctx *c, json_t *d)
{
    if (!d || json_is_null(d))
        return FAIL(c, OCTO_E_UNSUPPORTED, "decoder: missing (only ByteLevel is supported)");
    const char *type = get_type(c, d, "decoder");
    if (!type) return OCTO_E_PARSE;
    if (strcmp(type, "ByteLevel"))
        return FAIL(c, OCTO_E_UNSUPPORTED, "decoder.type \"%.32s\"", type);
    return OCTO_OK;
}

/* ==== entry points ==== */

static octo_err load_root(jctx *c, json_t *root)
{
    if (!json_is_object(root)) return FAIL(c, OCTO_E_PARSE, "top level: not an object");
    json_t *ver = json_object_get(root, "version");
    if (ver && (!json_is_string(ver) || strcmp(json_string_value(ver), "1.0")))
        return FAIL(c, OCTO_E_UNSUPPORTED, "version: only \"1.0\"");
    json_t *added = json_object_get(root, "added_tokens");
    if (added && !json_is_null(added) && !json_is_array(added))
        return FAIL(c, OCTO_E_PARSE, "added_tokens: not an array");
    octo_err rc = load_model(c, root, added);
    if (!rc) rc = load_added(c, added);
    if (!rc) rc = load_normalizer(c, json_object_get(root, "normalizer"), "normalizer", 0);
    if (!rc) rc = load_pretok(c, json_object_get(root, "pre_tokenizer"), "pre_tokenizer", 0);
    if (rc) return rc;
    bool byte_level = false;
    for (int i = 0; i < c->tok->n_steps; i++)
        byte_level |= c->tok->steps[i].kind == TOK_STEP_BYTELEVEL;
    if (!byte_level)
        return FAIL(c, OCTO_E_UNSUPPORTED, "pre_tokenizer: no ByteLevel (only byte-level BPE)");
    rc = load_post(c, json_object_get(root, "post_processor"), 0);
    if (!rc) rc = load_decoder(c, json_object_get(root, "decoder"));
    if (!rc) rc = tok_finish(c->tok, c->err, c->err_size);
    return rc;
}

octo_text_tokenizer *octo_text_tokenizer_load_json(const char *json, size_t len, char *err,
                                                   size_t err_size)
{
    if (err && err_size) err[0] = '\0';
    jctx c = {.err = err, .err_size = err_size};
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        tok_fail(err, err_size, OCTO_E_PARSE, "JSON line %d column %d: %s", je.line, je.column,
                 je.text);
        return NULL;
    }
    c.tok = tok_alloc();
    octo_err rc = c.tok ? load_root(&c, root) : tok_fail(err, err_size, OCTO_E_NOMEM, "tokenizer");
    json_decref(root);
    if (rc) {
        octo_text_tokenizer_free(c.tok);
        return NULL;
    }
    return c.tok;
}

octo_text_tokenizer *octo_text_tokenizer_load(const char *path, char *err, size_t err_size)
{
    char *data = NULL;
    size_t len = 0;
    octo_err rc = octo_file_read(path, OCTO_LIMIT_JSON_FILE_BYTES, &data, &len);
    if (rc) {
        tok_fail(err, err_size, rc, "cannot read %.200s", path);
        return NULL;
    }
    octo_text_tokenizer *tok = octo_text_tokenizer_load_json(data, len, err, err_size);
    octo_free(data);
    return tok;
}
