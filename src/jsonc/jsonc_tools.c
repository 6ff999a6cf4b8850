/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonc_tools — the JSON schemas that vLLM constrains generation with for
 * OpenAI requests: tool_choice "required" (an array of {"name",
 * "parameters"} objects, one anyOf branch per tool), a named function (its
 * parameters schema), and response_format json_object / json_schema.
 *
 * It only builds schemas (jansson values); compiling them is
 * octo_text_jsonc_new's job. Request validation beyond what is needed to
 * build the schema belongs to the api module.
 */
#include <string.h>

#include "jsonc/jsonc_int.h"

/* A tool's "function" object, or NULL when the entry is malformed. */
static const json_t *tool_function(const json_t *tool)
{
    const json_t *fn = json_object_get(tool, "function");
    if (!json_is_object(fn) || !json_is_string(json_object_get(fn, "name"))) return NULL;
    return fn;
}

/* The parameters schema of a function: a new reference; an absent or empty
 * one is {"type":"object","properties":{}}. */
static json_t *params_of(const json_t *fn)
{
    json_t *p = json_object_get(fn, "parameters");
    if (p && !(json_is_object(p) && json_object_size(p) == 0)) return json_incref(p);
    return json_pack("{s:s,s:{}}", "type", "object", "properties");
}

/* As vLLM: each tool's "$defs" move to the top of the combined schema (so
 * "#/$defs/x" still resolves); one name with two different schemas is
 * OCTO_E_INVALID. *params becomes a copy without "$defs" when it had any. */
static octo_err hoist_defs(json_t **params, json_t *defs)
{
    json_t *d = json_object_get(*params, "$defs");
    if (!json_is_object(d)) return OCTO_OK;
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v) {
        json_t *old = json_object_get(defs, k);
        if (old && !json_equal(old, v)) return OCTO_E_INVALID;
        if (json_object_set(defs, k, v)) return OCTO_E_NOMEM;
    }
    json_t *c = json_copy(*params);
    if (!c || json_object_del(c, "$defs")) {
        json_decref(c);
        return OCTO_E_NOMEM;
    }
    json_decref(*params);
    *params = c;
    return OCTO_OK;
}

static octo_err required_schema(const json_t *tools, json_t **schema)
{
    json_t *branches = json_array(), *defs = json_object();
    octo_err rc = OCTO_E_NOMEM;
    if (!branches || !defs) goto fail;
    size_t i;
    const json_t *tool;
    json_array_foreach(tools, i, tool) {
        const json_t *fn = tool_function(tool);
        json_t *params = fn ? params_of(fn) : NULL;
        rc = !fn ? OCTO_E_INVALID : !params ? OCTO_E_NOMEM : hoist_defs(&params, defs);
        if (rc) {
            json_decref(params);
            goto fail;
        }
        json_t *br = json_pack("{s:{s:{s:s,s:[O]},s:o},s:[s,s]}", "properties", "name", "type",
                               "string", "enum", json_object_get(fn, "name"), "parameters",
                               params, "required", "name", "parameters");
        rc = OCTO_E_NOMEM;
        if (!br || json_array_append_new(branches, br)) goto fail;
    }
    rc = OCTO_E_INVALID;
    if (json_array_size(branches) == 0) goto fail;
    *schema = json_pack("{s:s,s:i,s:{s:s,s:o}}", "type", "array", "minItems", 1, "items", "type",
                        "object", "anyOf", branches);
    branches = NULL;
    rc = OCTO_E_NOMEM;
    if (!*schema) goto fail;
    if (json_object_size(defs) && json_object_set(*schema, "$defs", defs)) goto fail;
    json_decref(defs);
    return OCTO_OK;
fail:
    json_decref(*schema);
    *schema = NULL;
    json_decref(branches);
    json_decref(defs);
    return rc;
}

static octo_err named_schema(const json_t *tools, const char *name, json_t **schema)
{
    size_t i;
    const json_t *tool;
    json_array_foreach(tools, i, tool) {
        const json_t *fn = tool_function(tool);
        if (!fn) return OCTO_E_INVALID;
        if (strcmp(json_string_value(json_object_get(fn, "name")), name) != 0) continue;
        *schema = params_of(fn);
        return *schema ? OCTO_OK : OCTO_E_NOMEM;
    }
    return OCTO_E_NOT_FOUND;
}

octo_err octo_text_jsonc_schema_for_tools(const json_t *tools, const json_t *tool_choice,
                                          json_t **schema)
{
    if (!schema) return OCTO_E_INVALID;
    *schema = NULL;
    if (!tool_choice || json_is_null(tool_choice)) return OCTO_OK;
    if (json_is_string(tool_choice)) {
        const char *c = json_string_value(tool_choice);
        if (!strcmp(c, "auto") || !strcmp(c, "none")) return OCTO_OK;
        if (strcmp(c, "required") != 0) return OCTO_E_INVALID;
        if (!json_is_array(tools)) return OCTO_E_INVALID;
        return required_schema(tools, schema);
    }
    const json_t *fn = json_object_get(tool_choice, "function");
    const json_t *name = json_object_get(fn, "name");
    if (!json_is_string(name) || !json_is_array(tools)) return OCTO_E_INVALID;
    return named_schema(tools, json_string_value(name), schema);
}

octo_err octo_text_jsonc_schema_for_response_format(const json_t *response_format,
                                                    json_t **schema, bool *object_only,
                                                    bool *constrained)
{
    if (!schema || !object_only || !constrained) return OCTO_E_INVALID;
    *schema = NULL;
    *object_only = false;
    *constrained = false;
    if (!response_format || json_is_null(response_format)) return OCTO_OK;
    const char *type = json_string_value(json_object_get(response_format, "type"));
    if (!type) return OCTO_E_INVALID;
    if (!strcmp(type, "text")) return OCTO_OK;
    if (!strcmp(type, "json_object")) {
        *object_only = true;
        *constrained = true;
        return OCTO_OK;
    }
    if (strcmp(type, "json_schema") != 0) return OCTO_E_INVALID;
    const json_t *js = json_object_get(response_format, "json_schema");
    json_t *s = json_object_get(js, "schema");
    if (!json_is_object(js)) return OCTO_E_INVALID;
    *constrained = true;
    if (!s) {
        *object_only = true; /* no schema given: any object */
        return OCTO_OK;
    }
    if (!json_is_object(s) && !json_is_boolean(s)) return OCTO_E_INVALID;
    *schema = json_incref(s);
    return OCTO_OK;
}
