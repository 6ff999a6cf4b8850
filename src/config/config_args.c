/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_args — `octo serve` arguments in vLLM's spelling:
 *   octo serve [MODEL] [--config FILE] [--flag value | --flag=value | --bool-flag] ...
 * Two passes over argv: the first finds --config, MODEL/--model and any
 * malformed or unknown flag; after the config file is loaded the second
 * sets each flag through the shared field table (config.c), so a flag and
 * its YAML key accept exactly the same values.
 *
 * Not a general option parser: no short-option clusters, no abbreviations
 * of long flags (vLLM's argparse disables them too).
 */
#include "config_int.h"

#include <stdio.h>
#include <string.h>

enum special { SP_FIELD, SP_CONFIG, SP_MODEL, SP_NAMES, SP_IGNORED, SP_POSITIONAL };

/* One argument as the tokenizer saw it. */
typedef struct argtok {
    enum special sp;
    const cfg_field *f;    /* SP_FIELD */
    char flag[64];         /* canonical flag, without dashes */
    const char *value;     /* the value, or NULL for a bare boolean flag */
    bool negated;          /* --no-FLAG */
    int first, count;      /* SP_NAMES: argv[first .. first+count) */
} argtok;

/* vLLM flags octo accepts and ignores (they tune vLLM internals that octo
 * does not have, or are its default anyway). */
static const char *const ignored_flags[] = {
    "enforce-eager", "disable-log-requests", "disable-log-stats", "enable-prefix-caching",
    "enable-chunked-prefill", NULL,
};

static bool is_ignored(const char *flag)
{
    for (size_t i = 0; ignored_flags[i]; i++)
        if (strcmp(flag, ignored_flags[i]) == 0) return true;
    return false;
}

/* The canonical name of a flag spelled `name` (no dashes, '_' -> '-',
 * short forms expanded). Returns false when longer than the buffer. */
static bool normalize(const char *name, size_t len, char *out, size_t out_size)
{
    if (len >= out_size) return false;
    for (size_t i = 0; i < len; i++) out[i] = name[i] == '_' ? '-' : name[i];
    out[len] = '\0';
    if (strcmp(out, "tp") == 0) octo_strlcpy(out, "tensor-parallel-size", out_size);
    if (strcmp(out, "q") == 0) octo_strlcpy(out, "quantization", out_size);
    return true;
}

static octo_err unknown_flag(const char *arg, char *err, size_t err_size)
{
    char shown[80];
    octo_strlcpy(shown, arg, sizeof shown);
    char *eq = strchr(shown, '=');
    if (eq) *eq = '\0';
    octo_cfg_errf(err, err_size, "unknown flag '%s' (see `octo serve --help`)", shown);
    return OCTO_E_INVALID;
}

/* Classifies the flag name in t->flag; false when unknown. */
static bool classify(argtok *t)
{
    if (strcmp(t->flag, "config") == 0) t->sp = SP_CONFIG;
    else if (strcmp(t->flag, "model") == 0) t->sp = SP_MODEL;
    else if (strcmp(t->flag, "served-model-name") == 0) t->sp = SP_NAMES;
    else if (is_ignored(t->flag)) t->sp = SP_IGNORED;
    else if ((t->f = octo_cfg_field_by_flag(t->flag)) != NULL) t->sp = SP_FIELD;
    else return false;
    return true;
}

static bool takes_no_value(const argtok *t)
{
    return t->sp == SP_IGNORED || (t->sp == SP_FIELD && t->f->kind == CK_BOOL);
}

/* Reads the argument at *i (and its values), leaving *i on the last
 * argument it used. */
static octo_err next_tok(int argc, char **argv, int *i, argtok *t, char *err, size_t err_size)
{
    const char *arg = argv[*i];
    memset(t, 0, sizeof *t);
    if (arg[0] != '-' || arg[1] == '\0') {
        t->sp = SP_POSITIONAL;
        t->value = arg;
        return OCTO_OK;
    }
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (arg[1] != '-' && !(len == 2 && strncmp(name, "tp", 2) == 0) &&
        !(len == 1 && name[0] == 'q'))
        return unknown_flag(arg, err, err_size);
    if (!normalize(name, len, t->flag, sizeof t->flag)) return unknown_flag(arg, err, err_size);
    if (!classify(t)) {
        /* --no-FLAG turns a boolean flag off */
        if (strncmp(t->flag, "no-", 3) != 0) return unknown_flag(arg, err, err_size);
        memmove(t->flag, t->flag + 3, strlen(t->flag + 3) + 1);
        if (!classify(t) || !takes_no_value(t)) return unknown_flag(arg, err, err_size);
        t->negated = true;
        if (eq) {
            octo_cfg_errf(err, err_size, "--no-%s takes no value", t->flag);
            return OCTO_E_INVALID;
        }
        return OCTO_OK;
    }
    if (eq) {
        t->value = eq + 1;
        if (t->sp == SP_NAMES) {
            t->first = -1;
            t->count = 1;
        }
        return OCTO_OK;
    }
    if (takes_no_value(t)) return OCTO_OK;
    if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) {
        octo_cfg_errf(err, err_size, "--%s: missing value", t->flag);
        return OCTO_E_INVALID;
    }
    t->value = argv[++*i];
    if (t->sp == SP_NAMES) {
        /* one or more names: every following argument up to the next flag */
        t->first = *i;
        t->count = 1;
        while (*i + 1 < argc && argv[*i + 1][0] != '-') {
            ++*i;
            t->count++;
        }
    }
    return OCTO_OK;
}

/* What the first pass finds. */
typedef struct scan {
    const char *config;   /* --config FILE */
    const char *model;    /* MODEL or --model */
    const char *model_from; /* "MODEL" or "--model", for messages */
} scan;

static octo_err first_pass(int argc, char **argv, scan *s, char *err, size_t err_size)
{
    argtok t;
    for (int i = 1; i < argc; i++) {
        octo_err rc = next_tok(argc, argv, &i, &t, err, err_size);
        if (rc) return rc;
        if (t.sp == SP_CONFIG) {
            if (s->config) {
                octo_cfg_errf(err, err_size, "--config: given twice");
                return OCTO_E_INVALID;
            }
            s->config = t.value;
        } else if (t.sp == SP_MODEL || t.sp == SP_POSITIONAL) {
            if (s->model) {
                octo_cfg_errf(err, err_size,
                              "%s '%s': the model was already given as '%s' (serve one "
                              "model from the command line, more from --config)",
                              t.sp == SP_MODEL ? "--model" : "unexpected argument", t.value,
                              s->model);
                return OCTO_E_INVALID;
            }
            s->model = t.value;
            s->model_from = t.sp == SP_MODEL ? "--model" : "MODEL";
        }
    }
    return OCTO_OK;
}

/* ==== second pass: setting fields ==== */

static octo_err flag_error(const char *flag, const char *why, char *err, size_t err_size)
{
    octo_cfg_errf(err, err_size, "--%s: %s", flag, why);
    return OCTO_E_INVALID;
}

static octo_err set_names(octo_model_config *m, const argtok *t, char **argv, char *err,
                          size_t err_size)
{
    char why[400];
    const cfg_field *fname = octo_cfg_field_by_key(CS_MODEL, "name");
    const cfg_field *falias = octo_cfg_field_by_key(CS_MODEL, "aliases");
    octo_cfg_field_clear(m, falias);
    for (int k = 0; k < t->count; k++) {
        const char *v = t->first < 0 ? t->value : argv[t->first + k];
        octo_err rc = octo_cfg_field_set(m, k == 0 ? fname : falias, v, why, sizeof why);
        if (rc == OCTO_E_NOMEM) return rc;
        if (rc) return flag_error(t->flag, why, err, err_size);
    }
    return OCTO_OK;
}

static octo_err set_field(octo_config *cfg, octo_model_config *target, const argtok *t,
                          bool *keys_cleared, char *err, size_t err_size)
{
    char why[400];
    const cfg_field *f = t->f;
    void *base = &cfg->server;
    if (f->scope == CS_MODEL) {
        if (!target) {
            octo_cfg_errf(err, err_size,
                          "--%s: no model to apply it to (give MODEL or --model, or a "
                          "--config with exactly one model; the config has %zu)",
                          t->flag, cfg->n_models);
            return OCTO_E_INVALID;
        }
        base = target;
    }
    const char *v = t->value;
    if (f->kind == CK_BOOL && !v) v = t->negated ? "false" : "true";
    if (f->kind == CK_KEYS && !*keys_cleared) {
        /* keys on the command line replace those of the config file */
        octo_cfg_field_clear(base, f);
        *keys_cleared = true;
    }
    if (f->kind == CK_DEVICES) octo_cfg_field_clear(base, f);
    octo_err rc = octo_cfg_field_set(base, f, v, why, sizeof why);
    if (rc == OCTO_E_NOMEM) return rc;
    if (rc) return flag_error(t->flag, why, err, err_size);
    return OCTO_OK;
}

/* Adds the command line's model entry (path only; flags come later). */
static octo_err add_model(octo_config *cfg, const scan *s, octo_model_config **out,
                          char *err, size_t err_size)
{
    char why[400];
    if (cfg->n_models >= OCTO_LIMIT_CONFIG_MODELS) {
        octo_cfg_errf(err, err_size, "%s: more than %u models", s->model_from,
                      OCTO_LIMIT_CONFIG_MODELS);
        return OCTO_E_TOO_LARGE;
    }
    octo_model_config *m = &cfg->models[cfg->n_models++];
    octo_config_model_init(m);
    octo_err rc = octo_cfg_field_set(m, octo_cfg_field_by_key(CS_MODEL, "path"), s->model,
                                     why, sizeof why);
    if (rc == OCTO_E_NOMEM) return rc;
    if (rc) {
        octo_cfg_errf(err, err_size, "%s: %s", s->model_from, why);
        return OCTO_E_INVALID;
    }
    *out = m;
    return OCTO_OK;
}

static octo_err second_pass(octo_config *cfg, octo_model_config *target, int argc,
                            char **argv, char *err, size_t err_size)
{
    bool keys_cleared = false;
    argtok t;
    for (int i = 1; i < argc; i++) {
        octo_err rc = next_tok(argc, argv, &i, &t, err, err_size);
        if (rc) return rc;
        if (t.sp == SP_IGNORED) {
            OCTO_LOG_INFO("--%s: accepted for vLLM compatibility, no effect in octo", t.flag);
        } else if (t.sp == SP_NAMES) {
            if (!target)
                return flag_error(t.flag, "no model to name (give MODEL or --model, or a "
                                  "--config with exactly one model)", err, err_size);
            rc = set_names(target, &t, argv, err, err_size);
        } else if (t.sp == SP_FIELD) {
            rc = set_field(cfg, target, &t, &keys_cleared, err, err_size);
        }
        if (rc) return rc;
    }
    return OCTO_OK;
}

octo_err octo_config_apply_args(octo_config *cfg, int argc, char **argv, char *err,
                                size_t err_size)
{
    scan s = {NULL, NULL, NULL};
    octo_model_config *target = NULL;
    char why[400];
    octo_err rc;
    if (err && err_size) err[0] = '\0';
    rc = first_pass(argc, argv, &s, err, err_size);
    if (rc) goto fail;
    if (s.config) {
        rc = octo_config_load_file(cfg, s.config, err, err_size);
        if (rc) goto fail;
    }
    if (s.model) {
        rc = add_model(cfg, &s, &target, err, err_size);
        if (rc) goto fail;
    } else if (cfg->n_models == 1) {
        target = &cfg->models[0];
    }
    rc = second_pass(cfg, target, argc, argv, err, err_size);
    if (rc) goto fail;
    if (s.model && !target->name) {
        /* vLLM serves a model under its path unless --served-model-name says */
        rc = octo_cfg_field_set(target, octo_cfg_field_by_key(CS_MODEL, "name"), s.model, why,
                                sizeof why);
        if (rc && rc != OCTO_E_NOMEM) {
            octo_cfg_errf(err, err_size, "%s: as a served name, the path %s; give "
                          "--served-model-name", s.model_from, why);
            rc = OCTO_E_INVALID;
        }
        if (rc) goto fail;
    }
    return OCTO_OK;
fail:
    if (rc == OCTO_E_NOMEM) octo_cfg_errf(err, err_size, "out of memory");
    return rc;
}
