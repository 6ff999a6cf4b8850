/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_chat — POST /v1/chat/completions as vLLM serves it: the chat
 * template renders the messages (tools, chat_template_kwargs), the
 * configured tool-call and reasoning parsers split the output into
 * content, reasoning_content and tool_calls, whole or as SSE deltas.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

/* vLLM (0.10 on) returns the reasoning as `reasoning` beside the older
 * `reasoning_content`; clients read one or the other. */
static void add_reasoning_alias(json_t *obj)
{
    json_t *r = json_object_get(obj, "reasoning_content");
    if (r && !json_object_get(obj, "reasoning")) json_object_set(obj, "reasoning", r);
}

static json_t *chunk_with(octo_api_gen *g, int index, json_t *delta, json_t *logprobs,
                          const char *finish)
{
    add_reasoning_alias(delta);
    json_t *choice = json_pack("{s:i, s:o, s:o, s:o}", "index", index, "delta", delta,
                               "logprobs", logprobs ? logprobs : json_null(), "finish_reason",
                               finish ? json_string(finish) : json_null());
    return json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", g->id, "object",
                     "chat.completion.chunk", "created", (json_int_t)g->created, "model",
                     g->model, "choices", choice);
}

/* The calls of a guided (required / named) output, OpenAI-shaped. */
static json_t *guided_calls(const octo_api_gen *g, const octo_api_choice *c)
{
    const char *text = c->text.data ? c->text.data : "";
    json_t *calls = NULL;
    if (g->tool_mode == OCTO_API_TOOLS_REQUIRED) {
        if (octo_text_tool_calls_parse_required(text, c->text.len, &calls) != OCTO_OK)
            calls = json_array();
    } else {
        char id[40] = "call_";
        octo_random_hex(id + 5, 24);
        calls = json_pack("[{s:s, s:s, s:{s:s, s:s%}}]", "id", id, "type", "function",
                          "function", "name", g->named_tool, "arguments", text, c->text.len);
    }
    return calls;
}

static json_t *chat_first(octo_api_gen *g, octo_api_choice *c)
{
    return chunk_with(g, c->index, json_pack("{s:s, s:s}", "role", "assistant", "content", ""),
                      NULL, NULL);
}

/* Turns parser deltas into chunks; the logprobs ride on the first one (or
 * on an empty content delta when the text produced none yet). */
static void deltas_to_chunks(octo_api_gen *g, octo_api_choice *c, json_t *deltas, json_t *lp,
                             json_t *out)
{
    size_t i;
    json_t *d;
    json_array_foreach(deltas, i, d) {
        json_t *l = NULL;
        if (lp) {
            l = json_pack("{s:o}", "content", lp);
            lp = NULL;
        }
        json_array_append_new(out, chunk_with(g, c->index, json_incref(d), l, NULL));
    }
    if (lp)
        json_array_append_new(out, chunk_with(g, c->index, json_pack("{s:s}", "content", ""),
                                              json_pack("{s:o}", "content", lp), NULL));
}

/* A named tool choice streams as vLLM does: a first delta with the call's
 * id, type and name (arguments ""), then the guided arguments text as it
 * comes, then the finish chunk. */
static void named_call_chunks(octo_api_gen *g, octo_api_choice *c, const char *text, size_t len,
                              bool final, json_t *out)
{
    if (!c->tool_open) {
        char id[40] = "call_";
        octo_random_hex(id + 5, 24);
        json_t *call = json_pack("[{s:i, s:s, s:s, s:{s:s, s:s}}]", "index", 0, "id", id, "type",
                                 "function", "function", "name", g->named_tool, "arguments", "");
        json_array_append_new(out, chunk_with(g, c->index, json_pack("{s:o}", "tool_calls", call),
                                              NULL, NULL));
        c->tool_open = true;
    }
    if (len > 0) {
        json_t *call = json_pack("[{s:i, s:{s:s%}}]", "index", 0, "function", "arguments", text,
                                 len);
        json_array_append_new(out, chunk_with(g, c->index, json_pack("{s:o}", "tool_calls", call),
                                              NULL, NULL));
    }
    if (final)
        json_array_append_new(out, chunk_with(g, c->index, json_object(), NULL,
                                              octo_api_finish_reason(c, false)));
}

static json_t *chat_chunk(octo_api_gen *g, octo_api_choice *c, const char *text, size_t len,
                          json_t *lp, const octo_api_choice *final)
{
    json_t *out = json_array();
    if (g->tool_mode == OCTO_API_TOOLS_NAMED) {
        json_decref(lp);
        named_call_chunks(g, c, text, len, final != NULL, out);
        return out;
    }
    if (g->tool_mode) { /* required: each call as it is generated */
        json_decref(lp);
        json_t *deltas = NULL;
        if (len > 0 && c->rs &&
            octo_text_required_stream_feed(c->rs, text, len, &deltas) == OCTO_OK)
            deltas_to_chunks(g, c, deltas, NULL, out);
        json_decref(deltas);
        if (final) { /* "tool_calls" when the whole list parses, as in a whole response */
            json_t *calls = guided_calls(g, c);
            bool any = json_array_size(calls) > 0;
            json_decref(calls);
            json_array_append_new(out, chunk_with(g, c->index, json_object(), NULL,
                                                  octo_api_finish_reason(c, any)));
        }
        return out;
    }
    json_t *deltas = NULL;
    octo_err rc = final ? octo_text_output_stream_finish(c->ps, &deltas)
                        : octo_text_output_stream_feed(c->ps, text, len, &deltas);
    if (rc == OCTO_OK && deltas) deltas_to_chunks(g, c, deltas, lp, out);
    else json_decref(lp);
    json_decref(deltas);
    if (final) {
        bool tools = octo_text_output_stream_tools_called(c->ps);
        json_array_append_new(out, chunk_with(g, c->index, json_object(), NULL,
                                              octo_api_finish_reason(c, tools)));
    }
    return out;
}

static json_t *chat_response(octo_api_gen *g)
{
    json_t *choices = json_array();
    for (size_t i = 0; i < g->n_choices; i++) {
        octo_api_choice *c = &g->ch[i];
        json_t *msg = NULL;
        bool tools = false;
        if (g->tool_mode == OCTO_API_TOOLS_NAMED && c->finish == OCTO_FINISH_LENGTH) {
            /* cut by max_tokens: the arguments are not whole, so no call is
             * returned (vLLM), only the text with finish_reason "length" */
            msg = json_pack("{s:s%, s:[]}", "content", c->text.data ? c->text.data : "",
                            c->text.len, "tool_calls");
        } else if (g->tool_mode) {
            json_t *calls = guided_calls(g, c);
            tools = g->tool_mode == OCTO_API_TOOLS_REQUIRED && json_array_size(calls) > 0;
            msg = json_pack("{s:n, s:o}", "content", "tool_calls", calls);
        } else if (octo_text_output_parse(&g->popts, c->text.data ? c->text.data : "", c->text.len,
                                   &msg, &tools) != OCTO_OK) {
            msg = json_pack("{s:s%}", "content", c->text.data ? c->text.data : "", c->text.len);
        }
        json_object_set_new(msg, "role", json_string("assistant"));
        add_reasoning_alias(msg);
        if (!json_object_get(msg, "tool_calls"))
            json_object_set_new(msg, "tool_calls", json_array());
        json_t *lp = c->lp ? json_pack("{s:O}", "content", c->lp) : json_null();
        json_t *choice = json_pack("{s:i, s:o, s:o, s:s, s:n}", "index", c->index, "message", msg,
                                   "logprobs", lp, "finish_reason",
                                   octo_api_finish_reason(c, tools), "stop_reason");
        if (g->p.return_token_ids)
            json_object_set_new(choice, "token_ids", octo_api_ids_json(c->ids, c->n_ids));
        json_array_append_new(choices, choice);
    }
    json_t *r = json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", g->id, "object",
                          "chat.completion", "created", (json_int_t)g->created, "model", g->model,
                          "choices", choices, "usage", octo_api_usage(g));
    if (g->p.return_token_ids && g->n_prompts)
        json_object_set_new(r, "prompt_token_ids",
                            octo_api_ids_json(g->prompts[0].ids, g->prompts[0].n_ids));
    return r;
}

/* tools, tool_choice and response_format: what this build can honour. */
/* Compiles `schema` for guided decoding of every choice of g. */
static bool guide(octo_http_req *req, octo_api_gen *g, const json_t *schema, bool object_only,
                  const char *param)
{
    char err[512] = "";
    g->jc = octo_text_jsonc_new(g->llm->jvocab, schema, object_only, err, sizeof err);
    if (!g->jc) {
        octo_http_fail(req, OCTO_E_INVALID, param, "cannot guide the output: %s", err);
        return false;
    }
    return true;
}

/* vLLM's structured outputs: `structured_outputs: {json | choice | regex |
 * grammar | json_object}` and the older `guided_json`, `guided_choice`,
 * `guided_regex`, `guided_grammar`, `guided_json_object`. A JSON schema (or
 * any JSON object) is honoured with guided decoding; the others are refused
 * with a 400 naming them, never ignored. */
bool octo_api_structured_read(octo_http_req *req, const json_t *body, octo_api_gen *g)
{
    static const char *const kinds[] = {"json", "choice", "regex", "grammar", "json_object",
                                        "structural_tag"};
    const json_t *so = json_object_get(body, "structured_outputs");
    if (so && !json_is_null(so) && !json_is_object(so)) {
        octo_http_fail(req, OCTO_E_INVALID, "structured_outputs",
                       "'structured_outputs' must be an object");
        return false;
    }
    const json_t *schema = NULL;
    bool object_only = false;
    const char *param = NULL;
    for (size_t j = 0; j < 2 * (sizeof kinds / sizeof kinds[0]); j++) {
        size_t k = j / 2;
        char legacy[40];
        snprintf(legacy, sizeof legacy, "guided_%s", kinds[k]);
        /* even j: structured_outputs.<kind>; odd j: guided_<kind> */
        const json_t *v = j % 2 ? json_object_get(body, legacy)
                                : so ? json_object_get(so, kinds[k]) : NULL;
        const char *name = j % 2 ? legacy : kinds[k];
        if (!v || json_is_null(v) || json_is_false(v)) continue;
        if (k >= 1 && k != 4) {
            octo_http_fail(req, OCTO_E_INVALID, j % 2 ? legacy : "structured_outputs",
                           "structured output '%s' is not supported by this server: only "
                           "'json' (a JSON schema) and 'json_object' are", name);
            return false;
        }
        if (param) {
            octo_http_fail(req, OCTO_E_INVALID, name, "only one structured output may be given");
            return false;
        }
        if (k == 0 && !json_is_object(v)) {
            octo_http_fail(req, OCTO_E_INVALID, name, "'%s' must be a JSON schema object", name);
            return false;
        }
        object_only = k == 4; /* json_object: any JSON object */
        schema = k == 0 ? v : NULL;
        param = name;
    }
    if (!param) return true;
    if (g->jc) {
        octo_http_fail(req, OCTO_E_INVALID, param,
                       "'%s' cannot be combined with response_format or tool_choice", param);
        return false;
    }
    return guide(req, g, schema, object_only, param);
}

static bool read_tools(octo_http_req *req, const json_t *body, const octo_api_llm *llm,
                       octo_api_gen *g)
{
    octo_text_parse_opts *po = &g->popts;
    const json_t *tools = json_object_get(body, "tools");
    const json_t *choice = json_object_get(body, "tool_choice");
    const json_t *rf = json_object_get(body, "response_format");
    if (rf && !json_is_null(rf)) {
        json_t *schema = NULL;
        bool object_only = false, constrained = false;
        if (octo_text_jsonc_schema_for_response_format(rf, &schema, &object_only,
                                                       &constrained) != OCTO_OK) {
            octo_http_fail(req, OCTO_E_INVALID, "response_format", "invalid 'response_format'");
            return false;
        }
        bool ok = !constrained || guide(req, g, schema, object_only, "response_format");
        json_decref(schema);
        if (!ok) return false;
    }
    if (!octo_api_structured_read(req, body, g)) return false;
    if (tools && !json_is_null(tools) && !json_is_array(tools)) {
        octo_http_fail(req, OCTO_E_INVALID, "tools", "'tools' must be a list");
        return false;
    }
    bool have_tools = tools && json_is_array(tools) && json_array_size(tools) > 0;
    const char *mode = have_tools ? "auto" : "none";
    if (choice && !json_is_null(choice)) {
        if (json_is_string(choice)) {
            mode = json_string_value(choice);
        } else if (json_is_object(choice)) {
            mode = "named";
        } else {
            octo_http_fail(req, OCTO_E_INVALID, "tool_choice", "invalid 'tool_choice'");
            return false;
        }
    }
    po->tool_defs = have_tools ? tools : NULL;
    if (strcmp(mode, "none") == 0) return true;
    if (!have_tools) {
        octo_http_fail(req, OCTO_E_INVALID, "tool_choice",
                                "'tool_choice' is set but 'tools' is empty or missing");
        return false;
    }
    if (strcmp(mode, "auto") == 0) {
        if (!llm->cfg->enable_auto_tool_choice || llm->tool_fmt == OCTO_TEXT_TOOLS_NONE) {
            octo_http_fail(req, OCTO_E_INVALID, "tool_choice",
                                    "\"auto\" tool choice requires --enable-auto-tool-choice and "
                                    "--tool-call-parser to be set");
            return false;
        }
        po->tools = llm->tool_fmt;
        return true;
    }
    if (strcmp(mode, "required") != 0 && strcmp(mode, "named") != 0) {
        octo_http_fail(req, OCTO_E_INVALID, "tool_choice", "unknown tool_choice '%s'", mode);
        return false;
    }
    if (g->jc) {
        octo_http_fail(req, OCTO_E_INVALID, "tool_choice",
                                "tool_choice '%s' cannot be combined with a response_format", mode);
        return false;
    }
    json_t *schema = NULL;
    if (octo_text_jsonc_schema_for_tools(tools, choice, &schema) != OCTO_OK || !schema) {
        octo_http_fail(req, OCTO_E_INVALID, "tool_choice",
                                "tool_choice names no function of 'tools'");
        return false;
    }
    bool ok = guide(req, g, schema, false, "tool_choice");
    json_decref(schema);
    if (!ok) return false;
    g->tool_mode = strcmp(mode, "named") == 0 ? OCTO_API_TOOLS_NAMED : OCTO_API_TOOLS_REQUIRED;
    if (g->tool_mode == OCTO_API_TOOLS_NAMED) {
        const char *fn = json_string_value(
            json_object_get(json_object_get(choice, "function"), "name"));
        g->named_tool = octo_strdup(fn ? fn : "");
    }
    po->tools = OCTO_TEXT_TOOLS_NONE; /* the output is the calls themselves */
    po->reasoning = OCTO_TEXT_REASONING_NONE;
    return true;
}


/* chat_template_kwargs.enable_thinking (default true); false and a 400
 * answered when it is not a boolean. */
static bool thinking_read(octo_http_req *req, const json_t *body, bool *on)
{
    const json_t *kw = json_object_get(body, "chat_template_kwargs");
    if (kw && !json_is_null(kw) && !json_is_object(kw)) {
        octo_http_fail(req, OCTO_E_INVALID, "chat_template_kwargs",
                                "'chat_template_kwargs' must be an object");
        return false;
    }
    return octo_api_json_bool(req, json_is_object(kw) ? kw : NULL, "enable_thinking",
                              "chat_template_kwargs.enable_thinking", true, on);
}

void octo_api_chat(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    json_t *body;
    octo_api_gen *g = NULL;
    octo_buf prompt;
    octo_buf_init(&prompt, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    const octo_model_config *m =
        octo_api_request_begin(api, req, OCTO_TASK_GENERATE, "Chat Completions", &body);
    if (!m) return;
    octo_api_llm *llm = octo_api_llm_of(api, m);
    if (!octo_api_llm_ready(req, llm, m)) goto done;
    if (!llm->tpl) {
        octo_http_fail(req, OCTO_E_INVALID, NULL,
                                "the model `%s` has no chat template: use /v1/completions or "
                                "serve it with --chat-template", m->name);
        goto done;
    }
    const json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        octo_http_fail(req, OCTO_E_INVALID, "messages", "'messages' must be a non-empty list");
        goto done;
    }
    const char *name = json_string_value(json_object_get(body, "model"));
    g = octo_api_gen_new(llm, req, true, name ? name : m->name);
    if (!g) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    g->popts.reasoning = llm->reasoning_fmt;
    if (!thinking_read(req, body, &g->popts.thinking_enabled)) goto done;
    if (!read_tools(req, body, llm, g)) goto done;
    if (!octo_api_gen_params_read(req, body, llm, true, &g->p)) goto done;
    char err[1024] = "";
    if (octo_text_chat_format(llm->tpl, body, &llm->chat_opts, &prompt, err, sizeof err)) {
        octo_http_fail(req, OCTO_E_INVALID, "messages", "%s", err);
        goto done;
    }
    g->popts.prompt_in_think = octo_text_prompt_in_think(prompt.data, prompt.len);
    if (!octo_api_prompt_from_text(req, llm, prompt.data, prompt.len, false, &g->prompts,
                                   &g->n_prompts))
        goto done;
    g->body = json_incref(body);
    g->make_chunk = chat_chunk;
    g->make_first = chat_first;
    if (!octo_api_gen_submit(g)) goto done;
    if (g->p.stream) {
        octo_api_gen_stream(g);
        g = NULL; /* the stream owns it */
        goto done;
    }
    if (!octo_api_gen_run_all(g)) {
        octo_http_fail(req, OCTO_E_CANCELLED, NULL, "client closed the connection");
        goto done;
    }
    octo_http_respond_json(req, 200, chat_response(g));
done:
    octo_buf_deinit(&prompt);
    octo_api_gen_free(g);
    json_decref(body);
}
