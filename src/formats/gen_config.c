/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen_config — the small JSON side files of a checkpoint:
 * generation_config.json (the sampling defaults a model ships) and the
 * sentence-transformers files of embedding checkpoints (modules.json, the
 * Pooling module's config.json, config_sentence_transformers.json).
 *
 * It reports what the files say; choosing between these defaults and a
 * request's own parameters is the engine's job, not this file's.
 */
#include <string.h>

#include "formats/formats_int.h"

/* ==== generation_config.json ==== */

static void gen_unset(octo_formats_gen_config *g)
{
    memset(g, 0, sizeof *g);
    g->bos_token_id = -1;
    g->pad_token_id = -1;
}

static octo_err num(json_t *o, const char *key, double *dst, bool *has, const char *label,
                    char *err, size_t n)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    if (!json_is_number(v))
        return fmt_err(OCTO_E_PARSE, err, n, "%s: \"%s\" is not a number", label, key);
    *dst = json_number_value(v);
    *has = true;
    return OCTO_OK;
}

static octo_err integer(json_t *o, const char *key, int64_t *dst, bool *has, const char *label,
                        char *err, size_t n)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    if (!fmt_json_int(v, dst))
        return fmt_err(OCTO_E_PARSE, err, n, "%s: \"%s\" is not an integer", label, key);
    if (has) *has = true;
    return OCTO_OK;
}

static octo_err gen_ids(json_t *o, octo_formats_gen_config *g, const char *label, char *err,
                        size_t n)
{
    json_t *v = json_object_get(o, "eos_token_id");
    if (!v || json_is_null(v)) return OCTO_OK;
    if (fmt_json_int(v, &g->eos_token_id[0])) {
        g->n_eos = 1;
        return OCTO_OK;
    }
    if (!json_is_array(v))
        return fmt_err(OCTO_E_PARSE, err, n, "%s: \"eos_token_id\" is not an integer or a list",
                    label);
    if (json_array_size(v) > OCTO_FORMATS_MAX_EOS)
        return fmt_err(OCTO_E_TOO_LARGE, err, n, "%s: \"eos_token_id\" lists %zu ids (limit %d)",
                    label, json_array_size(v), OCTO_FORMATS_MAX_EOS);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!fmt_json_int(json_array_get(v, i), &g->eos_token_id[i]))
            return fmt_err(OCTO_E_PARSE, err, n, "%s: \"eos_token_id\"[%zu] is not an integer",
                        label, i);
    g->n_eos = (int)json_array_size(v);
    return OCTO_OK;
}

static octo_err gen_parse_obj(json_t *o, const char *label, octo_formats_gen_config *g,
                              char *err, size_t n)
{
    octo_err rc;
    if ((rc = num(o, "temperature", &g->temperature, &g->has_temperature, label, err, n)) ||
        (rc = num(o, "top_p", &g->top_p, &g->has_top_p, label, err, n)) ||
        (rc = num(o, "min_p", &g->min_p, &g->has_min_p, label, err, n)) ||
        (rc = num(o, "repetition_penalty", &g->repetition_penalty, &g->has_repetition_penalty,
                  label, err, n)) ||
        (rc = integer(o, "top_k", &g->top_k, &g->has_top_k, label, err, n)) ||
        (rc = integer(o, "max_new_tokens", &g->max_new_tokens, &g->has_max_new_tokens, label,
                      err, n)) ||
        (rc = integer(o, "bos_token_id", &g->bos_token_id, NULL, label, err, n)) ||
        (rc = integer(o, "pad_token_id", &g->pad_token_id, NULL, label, err, n)) ||
        (rc = gen_ids(o, g, label, err, n)))
        return rc;
    json_t *ds = json_object_get(o, "do_sample");
    if (ds && !json_is_null(ds)) {
        if (!json_is_boolean(ds))
            return fmt_err(OCTO_E_PARSE, err, n, "%s: \"do_sample\" is not a boolean", label);
        g->do_sample = json_is_true(ds);
        g->has_do_sample = true;
    }
    if (g->has_temperature && !(g->temperature >= 0))
        return fmt_err(OCTO_E_INVALID, err, n, "%s: temperature %g is negative", label,
                    g->temperature);
    if (g->has_top_p && !(g->top_p >= 0 && g->top_p <= 1))
        return fmt_err(OCTO_E_INVALID, err, n, "%s: top_p %g is outside [0, 1]", label, g->top_p);
    if (g->has_min_p && !(g->min_p >= 0 && g->min_p <= 1))
        return fmt_err(OCTO_E_INVALID, err, n, "%s: min_p %g is outside [0, 1]", label, g->min_p);
    if (g->has_top_k && g->top_k < 0)
        return fmt_err(OCTO_E_INVALID, err, n, "%s: top_k %lld is negative", label,
                    (long long)g->top_k);
    if (g->has_repetition_penalty && !(g->repetition_penalty > 0))
        return fmt_err(OCTO_E_INVALID, err, n, "%s: repetition_penalty %g is not positive", label,
                    g->repetition_penalty);
    return OCTO_OK;
}

octo_err octo_formats_gen_config_parse(const char *json, size_t len, const char *label,
                                       octo_formats_gen_config *out, char *err, size_t err_size)
{
    gen_unset(out);
    if (!label) label = "generation_config.json";
    json_t *root = NULL;
    octo_err rc = fmt_json_mem(json, len, label, &root, err, err_size);
    if (rc) return rc;
    rc = gen_parse_obj(root, label, out, err, err_size);
    json_decref(root);
    if (rc) gen_unset(out);
    return rc;
}

octo_err octo_formats_gen_config_load(const char *path, octo_formats_gen_config *out, char *err,
                                      size_t err_size)
{
    gen_unset(out);
    json_t *root = NULL;
    const char *label;
    octo_err rc = fmt_json_in(path, "generation_config.json", &root, &label, err, err_size);
    if (rc) return rc;
    rc = gen_parse_obj(root, label, out, err, err_size);
    json_decref(root);
    if (rc) gen_unset(out);
    return rc;
}

/* ==== sentence-transformers pooling ==== */

void octo_formats_pooling_config_deinit(octo_formats_pooling_config *pc)
{
    if (!pc) return;
    octo_free(pc->query_prompt);
    octo_free(pc->document_prompt);
    memset(pc, 0, sizeof *pc);
}

static bool flag(json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

/* Reads <dir>/<sub>/config.json of the Pooling module. */
static octo_err read_pooling(const char *dir, const char *sub, octo_formats_pooling_config *pc,
                             char *err, size_t n)
{
    char mdir[OCTO_LIMIT_PATH_BYTES], path[OCTO_LIMIT_PATH_BYTES];
    if (strstr(sub, "..") || sub[0] == '/')
        return fmt_err(OCTO_E_INVALID, err, n, "modules.json: module path '%s' leaves the folder",
                    sub);
    if ((sub[0] ? fmt_path_join(mdir, sizeof mdir, dir, sub)
                : (octo_strlcpy(mdir, dir, sizeof mdir) >= sizeof mdir)) ||
        fmt_path_join(path, sizeof path, mdir, "config.json"))
        return fmt_err(OCTO_E_TOO_LARGE, err, n, "%s/%s: path too long", dir, sub);
    json_t *o = NULL;
    octo_err rc = fmt_json_file(path, &o, err, n);
    if (rc) return rc;
    if (flag(o, "pooling_mode_lasttoken"))
        pc->mode = OCTO_POOLING_LAST_TOKEN;
    else if (flag(o, "pooling_mode_mean_tokens"))
        pc->mode = OCTO_POOLING_MEAN;
    else if (flag(o, "pooling_mode_cls_token"))
        pc->mode = OCTO_POOLING_CLS;
    else if (flag(o, "pooling_mode_max_tokens"))
        pc->mode = OCTO_POOLING_MAX;
    else {
        json_t *pm = json_object_get(o, "pooling_mode");
        const char *s = json_string_value(pm);
        if (s && !strcmp(s, "lasttoken")) pc->mode = OCTO_POOLING_LAST_TOKEN;
        else if (s && !strcmp(s, "mean")) pc->mode = OCTO_POOLING_MEAN;
        else if (s && !strcmp(s, "cls")) pc->mode = OCTO_POOLING_CLS;
        else if (s && !strcmp(s, "max")) pc->mode = OCTO_POOLING_MAX;
    }
    pc->include_prompt = json_object_get(o, "include_prompt") ? flag(o, "include_prompt") : true;
    int64_t dim = 0;
    json_t *d = json_object_get(o, "word_embedding_dimension");
    if (d && (!fmt_json_int(d, &dim) || dim < 0)) rc = OCTO_E_PARSE;
    pc->dimension = dim;
    json_decref(o);
    if (rc) return fmt_err(rc, err, n, "%s: bad word_embedding_dimension", path);
    if (pc->mode == OCTO_POOLING_NONE)
        return fmt_err(OCTO_E_INVALID, err, n, "%s: no supported pooling mode is enabled", path);
    return OCTO_OK;
}

/* config_sentence_transformers.json: prompts and similarity (optional). */
static octo_err read_st_config(const char *dir, octo_formats_pooling_config *pc, char *err,
                               size_t n)
{
    char path[OCTO_LIMIT_PATH_BYTES];
    if (fmt_path_join(path, sizeof path, dir, "config_sentence_transformers.json"))
        return fmt_err(OCTO_E_TOO_LARGE, err, n, "%s: path too long", dir);
    if (!fmt_exists(path)) return OCTO_OK;
    json_t *o = NULL;
    octo_err rc = fmt_json_file(path, &o, err, n);
    if (rc) return rc;
    json_t *pr = json_object_get(o, "prompts");
    const char *q = json_string_value(json_object_get(pr, "query"));
    const char *d = json_string_value(json_object_get(pr, "document"));
    const char *sim = json_string_value(json_object_get(o, "similarity_fn_name"));
    if ((q && !(pc->query_prompt = octo_strdup(q))) ||
        (d && !(pc->document_prompt = octo_strdup(d))))
        rc = fmt_err(OCTO_E_NOMEM, err, n, "%s: out of memory", path);
    if (sim) octo_strlcpy(pc->similarity, sim, sizeof pc->similarity);
    json_decref(o);
    return rc;
}

octo_err octo_formats_pooling_config_load(const char *dir, octo_formats_pooling_config *out,
                                          char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    char path[OCTO_LIMIT_PATH_BYTES];
    if (fmt_path_join(path, sizeof path, dir, "modules.json"))
        return fmt_err(OCTO_E_TOO_LARGE, err, err_size, "%s: path too long", dir);
    if (!fmt_exists(path))
        return fmt_err(OCTO_E_NOT_FOUND, err, err_size, "%s: no modules.json", dir);
    char *data = NULL;
    size_t len = 0;
    octo_err rc = octo_file_read(path, OCTO_LIMIT_JSON_FILE_BYTES, &data, &len);
    if (rc) return fmt_err(rc, err, err_size, "%s: cannot read", path);
    json_error_t je;
    json_t *mods = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    octo_free(data);
    if (!mods || !json_is_array(mods)) {
        json_decref(mods);
        return fmt_err(OCTO_E_PARSE, err, err_size, "modules.json: not a JSON list of modules");
    }
    bool have_pool = false;
    for (size_t i = 0; i < json_array_size(mods) && !rc; i++) {
        json_t *m = json_array_get(mods, i);
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *sub = json_string_value(json_object_get(m, "path"));
        if (!type || !sub) {
            rc = fmt_err(OCTO_E_PARSE, err, err_size, "modules.json: module %zu lacks type or path",
                      i);
        } else if (strstr(type, "Pooling")) {
            rc = read_pooling(dir, sub, out, err, err_size);
            have_pool = true;
        } else if (strstr(type, "Normalize")) {
            out->normalize = true;
        }
    }
    json_decref(mods);
    if (!rc && !have_pool)
        rc = fmt_err(OCTO_E_INVALID, err, err_size, "modules.json: no Pooling module");
    if (!rc) rc = read_st_config(dir, out, err, err_size);
    if (rc) octo_formats_pooling_config_deinit(out);
    return rc;
}
