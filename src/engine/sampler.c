/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler — picks the next token from one row of logits the way vLLM's
 * v1 sampler does, in this order:
 *   1. raw logprobs (log_softmax of the model's logits) when asked;
 *   2. logit_bias added;
 *   3. penalties: repetition (prompt and output tokens: positive logits
 *      divided, negative multiplied), frequency (minus penalty x count in
 *      the output), presence (minus penalty once per output token seen);
 *   4. temperature < 1e-5: argmax (first index on ties), done;
 *   5. logits / temperature;
 *   6. min_p: drop tokens whose probability is below min_p x the top one;
 *   7. top_k: drop logits below the k-th largest (ties kept);
 *   8. top_p: over the ascending sort, drop tokens whose cumulative
 *      probability (with all smaller ones) is <= 1 - top_p, never the top;
 *   9. draw from the renormalised rest with the sequence's own PRNG
 *      (xoshiro256**), so a seed reproduces a run.
 * Tokens more than 40 nats below the best are never candidates in 9 (their
 * total mass is below 1e-12 for any vocabulary we serve).
 *
 * Not a constrained decoder (grammars, allowed-token lists) and not beam
 * search.
 */
#include "engine_int.h" /* octo_engine_row_logprobs */

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREEDY_TEMP 1e-5f
#define CAND_NATS 40.0f

/* ==== PRNG ==== */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void octo_engine_rng_seed(octo_engine_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

double octo_engine_rng_uniform(octo_engine_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (double)(result >> 11) * 0x1.0p-53;
}

/* ==== parameters ==== */

void octo_engine_sampling_default(octo_sampling_params *p)
{
    memset(p, 0, sizeof *p);
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->repetition_penalty = 1.0f;
    p->logprobs = -1;
}

octo_err octo_engine_sampling_check(const octo_sampling_params *p, int64_t V, char *err,
                                    size_t err_size)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        err_size = sizeof dummy;
    }
#define BAD(...)                                  \
    do {                                          \
        snprintf(err, err_size, __VA_ARGS__);     \
        return OCTO_E_INVALID;                    \
    } while (0)
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature)) BAD("temperature must be >= 0");
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) BAD("top_p must be in (0, 1]");
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f)) BAD("min_p must be in [0, 1]");
    if (!(p->repetition_penalty > 0.0f) || !isfinite(p->repetition_penalty)) {
        BAD("repetition_penalty must be > 0");
    }
    if (!(fabsf(p->presence_penalty) <= 2.0f)) BAD("presence_penalty must be in [-2, 2]");
    if (!(fabsf(p->frequency_penalty) <= 2.0f)) BAD("frequency_penalty must be in [-2, 2]");
    if (p->logprobs < -1 || p->logprobs > OCTO_ENGINE_MAX_TOP_LOGPROBS) {
        BAD("logprobs must be at most %d", OCTO_ENGINE_MAX_TOP_LOGPROBS);
    }
    if (p->n_logit_bias < 0 || p->n_logit_bias > OCTO_ENGINE_MAX_LOGIT_BIAS ||
        (p->n_logit_bias && !p->logit_bias)) {
        BAD("at most %d logit_bias entries", OCTO_ENGINE_MAX_LOGIT_BIAS);
    }
    for (int32_t i = 0; i < p->n_logit_bias; i++) {
        if (p->logit_bias[i].token < 0 || p->logit_bias[i].token >= V) {
            BAD("logit_bias token %d out of vocabulary", (int)p->logit_bias[i].token);
        }
        if (!isfinite(p->logit_bias[i].bias)) BAD("logit_bias must be finite");
    }
    if (p->n_stop_ids < 0 || p->n_stop_ids > OCTO_ENGINE_MAX_STOP_IDS) BAD("too many stop ids");
    for (int32_t i = 0; i < p->n_stop_ids; i++) {
        if (p->stop_ids[i] < 0 || p->stop_ids[i] >= V) BAD("stop token id out of vocabulary");
    }
#undef BAD
    return OCTO_OK;
}

/* ==== helpers ==== */

/* Scratch layout: raw logits copy [V] f32, candidates [V] i32, counts [V]
 * i32. */
size_t octo_engine_sampler_scratch_bytes(int64_t V) { return (size_t)V * 12u + 64u; }

static float log_sum_exp(const float *x, int64_t V, float *max_out)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; i++) {
        if (x[i] > mx) mx = x[i];
    }
    *max_out = mx;
    if (mx == -INFINITY) return -INFINITY;
    double s = 0.0;
    for (int64_t i = 0; i < V; i++) s += exp((double)(x[i] - mx));
    return mx + (float)log(s);
}

/* The n largest of x[V] (descending, lower index first on ties). */
static int32_t top_n(const float *x, int64_t V, int32_t n, int32_t *ids, float *vals)
{
    int32_t k = 0;
    for (int64_t i = 0; i < V; i++) {
        float v = x[i];
        if (v == -INFINITY || (k == n && v <= vals[k - 1])) continue;
        int32_t j = k < n ? k++ : n - 1;
        while (j > 0 && vals[j - 1] < v) {
            vals[j] = vals[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        vals[j] = v;
        ids[j] = (int32_t)i;
    }
    return k;
}

static void fill_logprobs(const float *x, int64_t V, int32_t n, int32_t token,
                          octo_sample_result *out)
{
    float mx;
    float lse = log_sum_exp(x, V, &mx);
    out->logprob = x[token] - lse;
    if (n <= 0) return;
    out->n_top = top_n(x, V, n, out->top_ids, out->top_logprobs);
    for (int32_t i = 0; i < out->n_top; i++) out->top_logprobs[i] -= lse;
}

void octo_engine_row_logprobs(const float *x, int64_t V, int32_t token, int32_t k,
                              octo_sample_result *out)
{
    memset(out, 0, sizeof *out);
    out->token = token;
    fill_logprobs(x, V, k, token, out);
}

static void apply_penalties(const octo_sampling_params *p, float *x, int64_t V,
                            const int32_t *prompt, int64_t n_prompt, const int32_t *output,
                            int64_t n_output, int32_t *counts)
{
    bool rep = p->repetition_penalty != 1.0f;
    bool fp = p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f;
    if (!rep && !fp) return;
    /* counts: bit 30 = seen in prompt, low bits = output count */
    const int32_t PROMPT = 1 << 30;
    memset(counts, 0, (size_t)V * sizeof *counts);
    for (int64_t i = 0; i < n_prompt; i++) counts[prompt[i]] |= PROMPT;
    for (int64_t i = 0; i < n_output; i++) counts[output[i]]++;
    for (int64_t t = 0; t < V; t++) {
        int32_t c = counts[t];
        if (!c) continue;
        int32_t n_out = c & (PROMPT - 1);
        if (rep) x[t] = x[t] > 0.0f ? x[t] / p->repetition_penalty : x[t] * p->repetition_penalty;
        if (n_out) x[t] -= p->frequency_penalty * (float)n_out + p->presence_penalty;
    }
}

static int cmp_desc(const void *a, const void *b, void *keys)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float x = ((const float *)keys)[i], y = ((const float *)keys)[j];
    if (x != y) return x > y ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Masks to -inf everything the min_p, top_k and top_p filters drop;
 * returns the surviving candidates sorted by descending logit in cand. */
static int64_t filter(const octo_sampling_params *p, float *x, int64_t V, int32_t *cand)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; i++) {
        if (x[i] > mx) mx = x[i];
    }
    if (mx == -INFINITY) return 0;
    float floor_logit = mx - CAND_NATS;
    if (p->min_p > 0.0f) { /* prob < min_p * max_prob  <=>  logit < max + log(min_p) */
        float f = mx + logf(p->min_p);
        if (f > floor_logit) floor_logit = f;
    }
    int64_t n = 0;
    for (int64_t i = 0; i < V; i++) {
        if (x[i] >= floor_logit) cand[n++] = (int32_t)i;
        else x[i] = -INFINITY;
    }
    bool need_sort = p->top_k > 0 || p->top_p < 1.0f;
    if (!need_sort) return n;
    qsort_r(cand, (size_t)n, sizeof *cand, cmp_desc, x);
    if (p->top_k > 0 && p->top_k < n) {
        float kth = x[cand[p->top_k - 1]];
        int64_t keep = p->top_k;
        while (keep < n && x[cand[keep]] == kth) keep++;
        for (int64_t i = keep; i < n; i++) x[cand[i]] = -INFINITY;
        n = keep;
    }
    if (p->top_p < 1.0f && n > 1) {
        double total = 0.0;
        float top = x[cand[0]];
        for (int64_t i = 0; i < n; i++) total += exp((double)(x[cand[i]] - top));
        /* walk from the smallest: drop while the tail mass <= 1 - top_p */
        double tail = 0.0, limit = 1.0 - (double)p->top_p;
        int64_t keep = n;
        for (int64_t i = n - 1; i > 0; i--) {
            tail += exp((double)(x[cand[i]] - top)) / total;
            if (tail > limit) break;
            keep = i;
        }
        for (int64_t i = keep; i < n; i++) x[cand[i]] = -INFINITY;
        n = keep;
    }
    return n;
}

/* ==== the sampler ==== */

octo_err octo_engine_sampler_run(const octo_sampling_params *p, float *x, int64_t V,
                                 const int32_t *prompt, int64_t n_prompt,
                                 const int32_t *output, int64_t n_output,
                                 octo_engine_rng *rng, void *scratch, octo_sample_result *out)
{
    float *raw = scratch;
    int32_t *cand = (int32_t *)(raw + V);
    int32_t *counts = cand + V;
    memset(out, 0, sizeof *out);
    out->logprob = NAN;
    for (int64_t i = 0; i < V; i++) {
        if (isnan(x[i]) || x[i] == INFINITY) return OCTO_E_INVALID;
    }
    bool want_lp = p->logprobs >= 0;
    if (want_lp && !p->processed_logprobs) memcpy(raw, x, (size_t)V * sizeof *raw);
    for (int32_t i = 0; i < p->n_logit_bias; i++) {
        x[p->logit_bias[i].token] += p->logit_bias[i].bias;
    }
    apply_penalties(p, x, V, prompt, n_prompt, output, n_output, counts);

    int32_t token = -1;
    if (p->temperature < GREEDY_TEMP) {
        float best = -INFINITY;
        for (int64_t i = 0; i < V; i++) {
            if (x[i] > best) {
                best = x[i];
                token = (int32_t)i;
            }
        }
        if (token < 0) return OCTO_E_INVALID;
    } else {
        float inv_t = 1.0f / p->temperature;
        for (int64_t i = 0; i < V; i++) x[i] *= inv_t;
        int64_t n = filter(p, x, V, cand);
        if (n == 0) return OCTO_E_INVALID;
        float top = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            if (x[cand[i]] > top) top = x[cand[i]];
        }
        double total = 0.0;
        for (int64_t i = 0; i < n; i++) total += exp((double)(x[cand[i]] - top));
        double u = octo_engine_rng_uniform(rng) * total, acc = 0.0;
        token = cand[n - 1];
        for (int64_t i = 0; i < n; i++) {
            acc += exp((double)(x[cand[i]] - top));
            if (u < acc) {
                token = cand[i];
                break;
            }
        }
    }
    out->token = token;
    if (want_lp) fill_logprobs(p->processed_logprobs ? x : raw, V, p->logprobs, token, out);
    return OCTO_OK;
}
