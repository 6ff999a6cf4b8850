/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_params — the sampling and generation parameters of a chat or
 * completions request, read from its JSON with vLLM's defaults and checks.
 * Every bad value answers 400 naming the parameter. The model's
 * generation_config.json supplies defaults a request leaves out (vLLM's
 * `--generation-config auto`).
 */
#include "api_int.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void octo_api_gen_params_deinit(octo_api_gen_params *p)
{
    for (int i = 0; i < p->n_stop; i++) octo_free(p->stop[i]);
    octo_free(p->bias);
    memset(p, 0, sizeof *p);
}

typedef struct checker {
    octo_http_req *req;
    const json_t *body;
    bool failed;
} checker;

static bool bad(checker *c, const char *param, const char *fmt, ...) OCTO_PRINTF(3, 4);
static bool bad(checker *c, const char *param, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!c->failed) octo_http_fail(c->req, OCTO_E_INVALID, param, "%s", msg);
    c->failed = true;
    return false;
}

/* Reads an optional number within [lo, hi]; null counts as absent. */
static bool num(checker *c, const char *key, double lo, double hi, double *out)
{
    const json_t *v = json_object_get(c->body, key);
    if (!v || json_is_null(v)) return false;
    if (!json_is_number(v)) return bad(c, key, "'%s' must be a number", key);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return bad(c, key, "'%s' must be in [%g, %g], got %g", key, lo, hi, d);
    *out = d;
    return true;
}

static bool integer(checker *c, const char *key, long long lo, long long hi, long long *out)
{
    const json_t *v = json_object_get(c->body, key);
    if (!v || json_is_null(v)) return false;
    if (!json_is_integer(v)) return bad(c, key, "'%s' must be an integer", key);
    long long i = json_integer_value(v);
    if (i < lo || i > hi)
        return bad(c, key, "'%s' must be in [%lld, %lld], got %lld", key, lo, hi, i);
    *out = i;
    return true;
}

static bool boolean(checker *c, const char *key, bool *out)
{
    const json_t *v = json_object_get(c->body, key);
    if (!v || json_is_null(v)) return false;
    if (!json_is_boolean(v)) return bad(c, key, "'%s' must be a boolean", key);
    *out = json_is_true(v);
    return true;
}

static void read_stop(checker *c, octo_api_gen_params *p)
{
    const json_t *v = json_object_get(c->body, "stop");
    if (!v || json_is_null(v)) return;
    const json_t *items[OCTO_API_MAX_STOP];
    size_t n = 0;
    if (json_is_string(v)) {
        items[n++] = v;
    } else if (json_is_array(v)) {
        if (json_array_size(v) > OCTO_API_MAX_STOP) {
            bad(c, "stop", "at most %d stop strings", OCTO_API_MAX_STOP);
            return;
        }
        for (size_t i = 0; i < json_array_size(v); i++) items[n++] = json_array_get(v, i);
    } else {
        bad(c, "stop", "'stop' must be a string or a list of strings");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!json_is_string(items[i]) || json_string_length(items[i]) == 0 ||
            json_string_length(items[i]) > 1024) {
            bad(c, "stop", "each stop string must be a non-empty string of at most 1024 bytes");
            return;
        }
        p->stop[p->n_stop] = octo_strndup(json_string_value(items[i]),
                                          json_string_length(items[i]));
        if (!p->stop[p->n_stop]) {
            bad(c, "stop", "out of memory");
            return;
        }
        size_t len = json_string_length(items[i]);
        if (len > p->max_stop_len) p->max_stop_len = len;
        p->n_stop++;
    }
}

static void read_ids(checker *c, const char *key, int32_t *dst, int32_t max, int32_t *n,
                     int64_t vocab)
{
    const json_t *v = json_object_get(c->body, key);
    if (!v || json_is_null(v)) return;
    if (!json_is_array(v) || json_array_size(v) > (size_t)max) {
        bad(c, key, "'%s' must be a list of at most %d token ids", key, max);
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *t = json_array_get(v, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= vocab) {
            bad(c, key, "'%s' holds an invalid token id", key);
            return;
        }
        dst[(*n)++] = (int32_t)json_integer_value(t);
    }
}

static void read_logit_bias(checker *c, octo_api_gen_params *p, int64_t vocab)
{
    const json_t *v = json_object_get(c->body, "logit_bias");
    if (!v || json_is_null(v)) return;
    if (!json_is_object(v) || json_object_size(v) > OCTO_ENGINE_MAX_LOGIT_BIAS) {
        bad(c, "logit_bias", "'logit_bias' must map at most %d token ids to numbers",
            OCTO_ENGINE_MAX_LOGIT_BIAS);
        return;
    }
    p->bias = octo_calloc(json_object_size(v) + 1, sizeof *p->bias);
    if (!p->bias) {
        bad(c, "logit_bias", "out of memory");
        return;
    }
    const char *k;
    json_t *val;
    int32_t n = 0;
    json_object_foreach((json_t *)v, k, val) {
        long id;
        if (octo_parse_long(k, 0, (long)vocab - 1, &id) != OCTO_OK) {
            bad(c, "logit_bias", "logit_bias key '%s' is not a token id of this model", k);
            return;
        }
        if (!json_is_number(val) || fabs(json_number_value(val)) > 100) {
            bad(c, "logit_bias", "logit_bias values must be numbers in [-100, 100]");
            return;
        }
        p->bias[n].token = (int32_t)id;
        p->bias[n].bias = (float)json_number_value(val);
        n++;
    }
    p->sp.logit_bias = p->bias;
    p->sp.n_logit_bias = n;
}

bool octo_api_gen_params_read(octo_http_req *req, const json_t *body, const octo_api_llm *llm,
                              bool chat, octo_api_gen_params *p)
{
    checker c = {req, body, false};
    memset(p, 0, sizeof *p);
    octo_engine_sampling_default(&p->sp);
    const octo_formats_gen_config *g = &llm->gen;
    if (g->has_temperature) p->sp.temperature = (float)g->temperature;
    if (g->has_top_p) p->sp.top_p = (float)g->top_p;
    if (g->has_top_k) p->sp.top_k = (int32_t)g->top_k;
    if (g->has_min_p) p->sp.min_p = (float)g->min_p;
    if (g->has_repetition_penalty) p->sp.repetition_penalty = (float)g->repetition_penalty;
    p->n = 1;
    p->max_tokens = -1;
    p->logprobs = -1;
    p->skip_special_tokens = true;
    double d = 0;
    long long i = 0;
    if (num(&c, "temperature", 0, 100, &d)) p->sp.temperature = (float)d;
    if (num(&c, "top_p", 1e-9, 1, &d)) p->sp.top_p = (float)d;
    if (integer(&c, "top_k", -1, 1 << 30, &i)) p->sp.top_k = (int32_t)(i <= 0 ? 0 : i);
    if (num(&c, "min_p", 0, 1, &d)) p->sp.min_p = (float)d;
    if (num(&c, "presence_penalty", -2, 2, &d)) p->sp.presence_penalty = (float)d;
    if (num(&c, "frequency_penalty", -2, 2, &d)) p->sp.frequency_penalty = (float)d;
    if (num(&c, "repetition_penalty", 1e-6, 100, &d)) p->sp.repetition_penalty = (float)d;
    if (integer(&c, "seed", LLONG_MIN, LLONG_MAX, &i)) {
        p->sp.has_seed = true;
        p->sp.seed = (uint64_t)i;
    }
    if (integer(&c, "n", 1, OCTO_API_MAX_N, &i)) p->n = (int)i;
    if (integer(&c, "max_tokens", 1, 1 << 30, &i)) p->max_tokens = i;
    if (chat && integer(&c, "max_completion_tokens", 1, 1 << 30, &i)) p->max_tokens = i;
    boolean(&c, "stream", &p->stream);
    boolean(&c, "ignore_eos", &p->sp.ignore_eos);
    boolean(&c, "skip_special_tokens", &p->skip_special_tokens);
    boolean(&c, "include_stop_str_in_output", &p->include_stop_str_in_output);
    if (!chat) boolean(&c, "echo", &p->echo);
    const json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) {
            bad(&c, "stream_options", "'stream_options' must be an object");
        } else {
            const json_t *iu = json_object_get(so, "include_usage");
            if (iu && !json_is_boolean(iu))
                bad(&c, "stream_options", "'stream_options.include_usage' must be a boolean");
            p->include_usage = iu && json_is_true(iu);
            const json_t *cu = json_object_get(so, "continuous_usage_stats");
            if (cu && !json_is_null(cu) && !json_is_boolean(cu))
                bad(&c, "stream_options",
                    "'stream_options.continuous_usage_stats' must be a boolean");
            p->continuous_usage = cu && json_is_true(cu);
        }
    }
    boolean(&c, "return_token_ids", &p->return_token_ids);
    if (!c.failed && p->return_token_ids && p->stream)
        bad(&c, "return_token_ids", "'return_token_ids' with 'stream' is not supported yet");
    /* vLLM's min_tokens needs the sampler to hold EOS and stop tokens back:
     * not in this build, so it is refused rather than ignored. */
    if (integer(&c, "min_tokens", 0, 1 << 30, &i) && i > 0 && !c.failed)
        bad(&c, "min_tokens", "'min_tokens' is not supported by this server yet");
    if (chat) {
        bool lp = false;
        boolean(&c, "logprobs", &lp);
        long long top = 0;
        bool has_top = integer(&c, "top_logprobs", 0, OCTO_ENGINE_MAX_TOP_LOGPROBS, &top);
        if (has_top && !lp && !c.failed)
            bad(&c, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
        if (lp) p->logprobs = (int)top;
    } else if (integer(&c, "logprobs", 0, OCTO_ENGINE_MAX_TOP_LOGPROBS, &i)) {
        p->logprobs = (int)i;
    }
    p->sp.logprobs = p->logprobs;
    read_stop(&c, p);
    read_ids(&c, "stop_token_ids", p->sp.stop_ids, OCTO_ENGINE_MAX_STOP_IDS, &p->sp.n_stop_ids,
             llm->vocab_size);
    read_logit_bias(&c, p, llm->vocab_size);
    if (!c.failed && p->stream && p->n > 1 && p->echo)
        bad(&c, "echo", "'echo' with 'stream' and n > 1 is not supported");
    if (c.failed) {
        octo_api_gen_params_deinit(p);
        return false;
    }
    return true;
}
