/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_int — what the three config files share: the table of settable
 * fields (one entry per YAML key and vLLM flag), the value parsers that
 * turn a string into a field, and the error-message helper.
 *
 * Only the .c files of src/config include this; other modules see config.h alone.
 */
#ifndef OCTO_CONFIG_INT_H
#define OCTO_CONFIG_INT_H

#include <stddef.h>

#include "config.h"

/* How a field's text becomes its value. */
typedef enum cfg_kind {
    CK_STR,       /* char *: non-empty, printable, at most `hi` bytes */
    CK_CHOICE,    /* char *: one of `choices` ("alias=canonical" entries map) */
    CK_LONG,      /* long in lo..hi */
    CK_TOKENS,    /* long in lo..hi, also "64k" (x1000) / "64K" (x1024); -1 = 0 */
    CK_FRACTION,  /* double in (0, 1] */
    CK_BOOL,      /* bool: true/false/yes/no/on/off/1/0 */
    CK_TASK,      /* octo_task, from task names and vLLM aliases */
    CK_LOAD,      /* octo_load_format */
    CK_DEVICES,   /* int devices[], n_devices: "0,1,2,3" or "4-7" (YAML: list) */
    CK_NAMES,     /* aliases[] (YAML: list of strings) */
    CK_KEYS,      /* server api_keys[] (YAML: list of strings) */
    CK_KB_KEYS,   /* server kb_api_keys[] (YAML: list of strings) */
} cfg_kind;

/* Where a field lives. */
typedef enum cfg_scope {
    CS_MODEL,     /* octo_model_config */
    CS_SERVER,    /* octo_server_config */
    CS_LIMITS,    /* octo_server_config, under server.limits */
    CS_STORAGE,   /* octo_server_config, under server.storage */
    CS_KNOWLEDGE, /* octo_server_config, under server.knowledge */
} cfg_scope;

typedef struct cfg_field {
    const char *key;   /* YAML key (canonical) */
    const char *alt;   /* a second accepted YAML key for the same field, or NULL */
    const char *flag;  /* vLLM-style flag without "--", or NULL */
    cfg_scope scope;
    cfg_kind kind;
    size_t off;        /* offset in the scope's struct */
    long lo, hi;       /* CK_LONG/CK_TOKENS range; CK_STR maximum length */
    const char *const *choices; /* CK_CHOICE: NULL-terminated */
    bool nullable;     /* YAML null (or CLI "none") clears a CK_STR/CK_CHOICE to NULL */
} cfg_field;

/* The table, terminated by an entry with key == NULL. */
extern const cfg_field octo_cfg_fields[];

/* The field of `scope` whose key or alt is `key`; NULL when unknown. */
const cfg_field *octo_cfg_field_by_key(cfg_scope scope, const char *key);
/* The field whose flag is `flag` (without dashes); NULL when unknown. */
const cfg_field *octo_cfg_field_by_flag(const char *flag);
/* The nearest known key of `scope` to `key` (for "did you mean"), or NULL. */
const char *octo_cfg_suggest_key(cfg_scope scope, const char *key);

/* Sets field f of the struct at `base` from `text`. On failure returns
 * OCTO_E_INVALID (or OCTO_E_NOMEM) and writes what is wrong, without
 * location, into why (e.g. "expected an integer in 1..65535, got 'abc'").
 * CK_NAMES and CK_KEYS append one element. */
octo_err octo_cfg_field_set(void *base, const cfg_field *f, const char *text, char *why,
                            size_t why_size) OCTO_WUR;
/* Clears a nullable field, or resets a list field to empty. */
void octo_cfg_field_clear(void *base, const cfg_field *f);
/* A short description of what the field accepts ("an integer in 1..65535"). */
void octo_cfg_field_expect(const cfg_field *f, char *out, size_t out_size);

/* Parses a boolean literal; false when `text` is none. */
bool octo_cfg_parse_bool(const char *text, bool *out /* OUT */);

/* Writes a formatted message into err (when err_size > 0). */
void octo_cfg_errf(char *err, size_t err_size, const char *fmt, ...) OCTO_PRINTF(3, 4);

#endif /* OCTO_CONFIG_INT_H */
