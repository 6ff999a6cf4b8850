/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plan — models on GPUs: the GPU list, each entry's share of its cards and
 * the KV capacity it leaves, the per-GPU sums, what would make a model that
 * does not fit fit, and a proposed placement. The per-model sizes come from
 * plan_size.c, the text and JSON reports from plan_report.c.
 */
#include "plan_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIB (1024ull * 1024ull)
#define PLACE_MAX_UTIL 0.95 /* --place leaves 5 % of each card to the context and others */

/* ==== GPUs ==== */

typedef struct known_gpu {
    const char *name;
    unsigned gib;     /* the marketing size, for "-<N>G" checks */
    uint64_t mib;     /* what nvidia-smi / cudaMemGetInfo report */
} known_gpu;

static const known_gpu k_gpus[] = {
    {"H100", 80, 81559},  {"H100", 94, 95830},  {"H200", 141, 143771}, {"H20", 96, 97871},
    {"H800", 80, 81559},  {"A100", 80, 81920},  {"A100", 40, 40960},   {"A800", 80, 81920},
    {"L20", 48, 46068},   {"L40S", 48, 46068},  {"L40", 48, 46068},    {"L4", 24, 23034},
    {"A10", 24, 23028},   {"RTX4090", 24, 24564}, {"RTX6000ADA", 48, 49140},
};

static octo_err gpu_piece(const char *s, size_t len, octo_plan_gpus *out, char *err,
                          size_t err_size)
{
    char piece[96];
    if (len == 0 || len >= sizeof piece) goto bad;
    memcpy(piece, s, len);
    piece[len] = '\0';
    char *end = NULL;
    long count = strtol(piece, &end, 10);
    if (end == piece || (*end != 'x' && *end != 'X') || count < 1 || count > OCTO_PLAN_MAX_GPUS)
        goto bad;
    char *name = end + 1, *dash = strrchr(name, '-');
    unsigned gib = 0;
    if (dash) {
        char *gend = NULL;
        unsigned long g = strtoul(dash + 1, &gend, 10);
        if (gend == dash + 1 || (strcasecmp(gend, "G") && strcasecmp(gend, "GB")) || g < 1 ||
            g > 4096)
            goto bad;
        gib = (unsigned)g;
        *dash = '\0';
    }
    if (!*name) goto bad;
    uint64_t bytes = 0;
    for (size_t i = 0; i < sizeof k_gpus / sizeof k_gpus[0] && !bytes; i++) {
        if (strcasecmp(k_gpus[i].name, name) == 0 && (!gib || gib == k_gpus[i].gib))
            bytes = k_gpus[i].mib * MIB;
    }
    if (!bytes && gib) bytes = (uint64_t)gib << 30;
    if (!bytes) {
        snprintf(err, err_size, "--gpus: '%s' is not a GPU the planner knows: give its memory "
                 "as %ldx%s-<N>G", piece, count, name);
        return OCTO_E_INVALID;
    }
    if (out->n + count > OCTO_PLAN_MAX_GPUS) {
        snprintf(err, err_size, "--gpus: more than %d GPUs", OCTO_PLAN_MAX_GPUS);
        return OCTO_E_TOO_LARGE;
    }
    for (long i = 0; i < count; i++) {
        octo_plan_gpu *g = &out->gpu[out->n++];
        snprintf(g->name, sizeof g->name, "%s", name);
        g->bytes = bytes;
    }
    return OCTO_OK;
bad:
    snprintf(err, err_size, "--gpus: '%.*s' is not COUNTxNAME[-<N>G] (e.g. 8xL20-48G)",
             (int)(len < 64 ? len : 64), s);
    return OCTO_E_INVALID;
}

octo_err octo_plan_gpus_parse(const char *spec, octo_plan_gpus *out, char *err,
                              size_t err_size)
{
    if (!spec || !*spec) {
        snprintf(err, err_size, "--gpus: empty");
        return OCTO_E_INVALID;
    }
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        octo_err rc = gpu_piece(p, len, out, err, err_size);
        if (rc) return rc;
        if (!comma) return OCTO_OK;
        p = comma + 1;
    }
}

/* ==== plan lifetime ==== */

octo_plan *octo_plan_new(const octo_plan_gpus *gpus)
{
    octo_plan *p = octo_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->entries = octo_calloc(OCTO_PLAN_MAX_MODELS, sizeof *p->entries);
    p->models = octo_calloc(OCTO_PLAN_MAX_MODELS, sizeof *p->models);
    if (!p->entries || !p->models) {
        octo_plan_free(p);
        return NULL;
    }
    p->cap = OCTO_PLAN_MAX_MODELS;
    if (gpus) p->gpus = *gpus;
    return p;
}

void octo_plan_free(octo_plan *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) octo_formats_model_config_free(p->cfg[i]);
    octo_free(p->entries);
    octo_free(p->models);
    octo_free(p);
}

size_t octo_plan_count(const octo_plan *p) { return p->n; }
const octo_plan_entry *octo_plan_entry_at(const octo_plan *p, size_t i)
{
    return i < p->n ? &p->entries[i] : NULL;
}
int octo_plan_gpu_count(const octo_plan *p) { return p->gpus.n; }
const octo_plan_gpu_row *octo_plan_gpu_at(const octo_plan *p, int i)
{
    return i >= 0 && i < p->gpus.n ? &p->rows[i] : NULL;
}
const octo_plan_gpu *octo_plan_gpu_spec(const octo_plan *p, int i)
{
    return i >= 0 && i < p->gpus.n ? &p->gpus.gpu[i] : NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* True for GGUF tensor names that tensor parallelism splits: token
 * embedding and output (vocabulary), attention and FFN projections; norms
 * and the expert router (ffn_gate_inp) stay whole. */
static bool gguf_split(const char *name)
{
    if (strstr(name, "_norm") || strstr(name, "ffn_gate_inp") || strstr(name, "exp_probs"))
        return false;
    return !strncmp(name, "token_embd", 10) || !strncmp(name, "output.", 7) ||
           strstr(name, ".attn_q") || strstr(name, ".attn_k") || strstr(name, ".attn_v") ||
           strstr(name, ".attn_output") || strstr(name, ".ffn_");
}

/* config.json (or a folder) through formats; a .gguf through its metadata,
 * with its tensors' bytes summed (entry i). */
static octo_err load_config(octo_plan *p, size_t i, const char *path,
                            octo_formats_model_config **cfg, char *err, size_t err_size)
{
    if (!ends_with(path, ".gguf")) return octo_formats_model_config_load(path, cfg, err, err_size);
    octo_formats_gguf *g = NULL;
    octo_err rc = octo_formats_gguf_open(path, &g, err, err_size);
    if (!rc) rc = octo_formats_gguf_model_config(g, cfg, err, err_size);
    unsigned counts[64] = {0};
    size_t n = rc ? 0 : octo_formats_gguf_tensor_count(g);
    p->gguf_split[i] = p->gguf_repl[i] = 0;
    for (size_t t = 0; t < n; t++) {
        octo_formats_gguf_tensor x;
        if (octo_formats_gguf_tensor_at(g, t, &x)) continue;
        *(gguf_split(x.name) ? &p->gguf_split[i] : &p->gguf_repl[i]) += x.nbytes;
        if (x.ggml_type < 64 && x.n_dims >= 2) counts[x.ggml_type]++;
    }
    unsigned best = 0;
    for (uint32_t t = 0; t < 64; t++) {
        if (counts[t] > counts[best]) best = t;
    }
    const char *tn = octo_formats_ggml_type_name(best);
    snprintf(p->gguf_type[i], sizeof p->gguf_type[i], "%s", n && tn ? tn : "gguf");
    octo_formats_gguf_close(g);
    return rc;
}

/* Sizes entry i from its (possibly changed) model input. */
static octo_err size_entry(octo_plan *p, size_t i, char *err, size_t err_size)
{
    octo_plan_entry *e = &p->entries[i];
    octo_formats_model_config *cfg = p->cfg[i];
    if (!cfg) return OCTO_E_INVALID;
    octo_err rc = octo_plan_size_model(cfg, &p->models[i], &e->size, err, err_size);
    if (rc) {
        snprintf(e->error, sizeof e->error, "%s", err);
        return rc;
    }
    /* a GGUF file without a quantization override: its own tensor bytes */
    if ((p->gguf_split[i] || p->gguf_repl[i]) && !p->models[i].quantization) {
        octo_plan_size *s = &e->size;
        uint64_t tp = (uint64_t)s->tp;
        s->weights_total = p->gguf_split[i] + p->gguf_repl[i];
        s->weights = (p->gguf_split[i] + tp - 1) / tp + p->gguf_repl[i];
        snprintf(s->quant, sizeof s->quant, "gguf-%s", p->gguf_type[i]);
    }
    return OCTO_OK;
}

octo_err octo_plan_add(octo_plan *p, const octo_plan_model *m, char *err, size_t err_size)
{
    char dummy[256]; /* room for every message: none is cut */
    if (!err) {
        err = dummy;
        err_size = sizeof dummy;
    }
    err[0] = '\0';
    if (p->n >= p->cap) {
        snprintf(err, err_size, "more than %d models", OCTO_PLAN_MAX_MODELS);
        return OCTO_E_TOO_LARGE;
    }
    size_t i = p->n++;
    octo_plan_entry *e = &p->entries[i];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", m->name ? m->name : m->path ? m->path : "?");
    snprintf(e->path, sizeof e->path, "%s", m->path ? m->path : "");
    e->task = m->task;
    p->models[i] = *m;
    p->models[i].name = e->name;
    p->models[i].path = e->path;
    p->models[i].quantization = NULL;
    if (m->quantization) snprintf(p->quant[i], sizeof p->quant[i], "%s", m->quantization);
    if (m->quantization) p->models[i].quantization = p->quant[i];
    e->n_devices = m->n_devices;
    memcpy(e->devices, m->devices, sizeof e->devices);
    e->util = m->gpu_memory_utilization > 0 ? m->gpu_memory_utilization : OCTO_MEM_GPU_UTIL;
    if (!m->path || !*m->path) {
        snprintf(err, err_size, "%s: no path to a config.json", e->name);
        snprintf(e->error, sizeof e->error, "%s", err);
        return OCTO_E_INVALID;
    }
    for (int d = 0; d < m->n_devices; d++) {
        if (m->devices[d] < 0 || m->devices[d] >= p->gpus.n) {
            snprintf(err, err_size, "%s: device %d is not among the %d GPUs planned for "
                     "(--gpus)", e->name, m->devices[d], p->gpus.n);
            snprintf(e->error, sizeof e->error, "%s", err);
            return OCTO_E_INVALID;
        }
    }
    int64_t tp = m->tensor_parallel_size > 0 ? m->tensor_parallel_size : 1;
    if (m->n_devices > 0 && m->tensor_parallel_size > 0 && m->n_devices != tp) {
        snprintf(err, err_size, "%s: tensor_parallel_size %lld but %d devices", e->name,
                 (long long)tp, m->n_devices);
        snprintf(e->error, sizeof e->error, "%s", err);
        return OCTO_E_INVALID;
    }
    octo_err rc = load_config(p, i, m->path, &p->cfg[i], err, err_size);
    if (rc) {
        snprintf(e->error, sizeof e->error, "%s", err);
        return rc;
    }
    return size_entry(p, i, err, err_size);
}

/* ==== capacity ==== */

static uint64_t gpu_mem(const octo_plan *p, const octo_plan_entry *e)
{
    uint64_t mem = 0;
    for (int d = 0; d < e->n_devices; d++) {
        uint64_t b = p->gpus.gpu[e->devices[d]].bytes;
        if (!mem || b < mem) mem = b;
    }
    return mem;
}

/* KV bytes a pooling engine allocates: octo_engine_pool_kv_blocks over
 * the configured max_model_len (32768 when unset, as api_pooler sizes it). */
static int64_t pool_kv_blocks(const octo_plan_model *m, const octo_plan_size *s)
{
    int64_t len = m->max_model_len > 0 ? m->max_model_len : OCTO_MEM_MAX_MODEL_LEN;
    int64_t tokens = s->batch_tokens > len ? s->batch_tokens : len;
    int64_t bs = OCTO_MEM_KV_BLOCK_TOKENS;
    return (tokens + bs - 1) / bs + s->max_num_seqs + 1;
}

/* Bytes one GPU needs for the model to be usable: weights, workspace,
 * reserve and one full-length sequence (generation) or the fixed pool. */
static uint64_t need_of(const octo_plan_model *m, const octo_plan_size *s)
{
    uint64_t base = s->weights + s->workspace + s->reserve;
    int64_t bs = OCTO_MEM_KV_BLOCK_TOKENS;
    if (m->task != OCTO_PLAN_GENERATE)
        return base + (uint64_t)pool_kv_blocks(m, s) * (uint64_t)bs * s->kv_per_token;
    int64_t blocks = (s->max_model_len + bs - 1) / bs;
    return base + (uint64_t)blocks * (uint64_t)bs * s->kv_per_token;
}

static double util_for(uint64_t need, uint64_t mem)
{
    return ceil((double)need / (double)mem * 100.0 - 1e-9) / 100.0;
}

static void advise(octo_plan *p, size_t i, double others)
{
    octo_plan_entry *e = &p->entries[i];
    const octo_plan_model *m = &p->models[i];
    const octo_plan_size *s = &e->size;
    uint64_t mem = gpu_mem(p, e);
    octo_buf b;
    octo_buf_init(&b, sizeof e->advice - 1);
    octo_err rc = OCTO_OK;
    int64_t bs = OCTO_MEM_KV_BLOCK_TOKENS;
    if (m->task == OCTO_PLAN_GENERATE && e->kv_budget >= (int64_t)(bs * s->kv_per_token)) {
        int64_t len = e->kv_budget / (int64_t)s->kv_per_token / bs * bs;
        rc = octo_buf_printf(&b, "max_model_len <= %lld; ", (long long)len);
    }
    double u = util_for(need_of(m, s), mem);
    if (!rc && u + others <= 1.0 + 1e-9) {
        rc = octo_buf_printf(&b, "gpu_memory_utilization >= %.2f; ", u);
    } else if (!rc) {
        rc = octo_buf_printf(&b, "gpu_memory_utilization >= %.2f (the other models on its "
                             "GPUs hold %.2f); ", u, others);
    }
    /* more tensor parallelism (up to the GPUs planned for), the same share */
    octo_formats_model_config *cfg = p->cfg[i];
    char err[256];
    for (int64_t tp = s->tp * 2; !rc && cfg && tp <= p->gpus.n && tp <= OCTO_PLAN_MAX_DEVICES;
         tp *= 2) {
        octo_plan_model mm = *m;
        octo_plan_size ss;
        mm.tensor_parallel_size = tp;
        mm.n_devices = 0;
        if (octo_plan_size_model(cfg, &mm, &ss, err, sizeof err)) break;
        if (need_of(&mm, &ss) <= e->share) {
            rc = octo_buf_printf(&b, "tensor_parallel_size %lld (%.2f GiB of weights per GPU); ",
                                 (long long)tp, (double)ss.weights / (1 << 30));
            break;
        }
    }
    /* fewer tokens per step (the workspace, and a pooling engine's pool) */
    for (int64_t bt = s->batch_tokens / 2; !rc && cfg && bt >= 1024 && bt >= s->max_num_seqs;
         bt /= 2) {
        octo_plan_model mm = *m;
        octo_plan_size ss;
        mm.max_num_batched_tokens = bt;
        if (octo_plan_size_model(cfg, &mm, &ss, err, sizeof err)) break;
        if (need_of(&mm, &ss) <= e->share) {
            rc = octo_buf_printf(&b, "max_num_batched_tokens %lld; ", (long long)bt);
            break;
        }
    }
    /* another quantisation, the same share and TP */
    static const char *const quants[] = {"fp8", "awq"};
    for (size_t q = 0; !rc && cfg && q < 2; q++) {
        if (!strncmp(s->quant, quants[q], 3) || !strncmp(s->quant, "awq", 3) ||
            !strncmp(s->quant, "gptq", 4) || (q == 0 && !strncmp(s->quant, "fp8", 3)))
            continue;
        octo_plan_model mm = *m;
        octo_plan_size ss;
        mm.quantization = quants[q];
        mm.group_size = 0;
        if (octo_plan_size_model(cfg, &mm, &ss, err, sizeof err)) continue;
        if (need_of(&mm, &ss) <= e->share) {
            rc = octo_buf_printf(&b, "quantization %s (%.2f GiB of weights per GPU); ", ss.quant,
                                 (double)ss.weights / (1 << 30));
            break;
        }
    }
    if (b.len >= 2) b.data[b.len - 2] = '\0';
    snprintf(e->advice, sizeof e->advice, "%s", b.data ? b.data : "");
    octo_buf_deinit(&b);
}

void octo_plan_evaluate(octo_plan *p)
{
    memset(p->rows, 0, sizeof p->rows);
    for (int g = 0; g < p->gpus.n; g++) {
        p->rows[g].total = p->gpus.gpu[g].bytes;
        p->rows[g].fits = true;
    }
    int64_t bs = OCTO_MEM_KV_BLOCK_TOKENS;
    for (size_t i = 0; i < p->n; i++) {
        octo_plan_entry *e = &p->entries[i];
        const octo_plan_model *m = &p->models[i];
        const octo_plan_size *s = &e->size;
        e->fits = false;
        e->advice[0] = '\0';
        e->kv_blocks = e->kv_tokens = e->concurrent = 0;
        e->full_seqs = 0;
        e->shortfall = 0;
        if (e->error[0]) continue;
        if (e->n_devices == 0) { /* the CPU: host memory, not planned here */
            e->fits = true;
            continue;
        }
        uint64_t mem = gpu_mem(p, e);
        e->share = (uint64_t)(e->util * (double)mem);
        e->kv_budget = (int64_t)e->share - (int64_t)(s->weights + s->workspace + s->reserve);
        uint64_t per_block = (uint64_t)bs * s->kv_per_token;
        if (m->task == OCTO_PLAN_GENERATE) {
            e->kv_blocks = e->kv_budget > 0 ? e->kv_budget / (int64_t)per_block : 0;
        } else {
            e->kv_blocks = pool_kv_blocks(m, s);
        }
        e->kv_tokens = e->kv_blocks * bs;
        e->full_seqs = (double)e->kv_tokens / (double)s->max_model_len;
        e->concurrent = (int64_t)e->full_seqs;
        if (e->concurrent > s->max_num_seqs) e->concurrent = s->max_num_seqs;
        e->used = s->weights + s->workspace + s->reserve + (uint64_t)e->kv_blocks * per_block;
        uint64_t need = need_of(m, s);
        e->fits = need <= e->share;
        e->shortfall = e->fits ? 0 : (int64_t)(need - e->share);
        int tp = (int)s->tp;
        for (int d = 0; d < e->n_devices && d < tp; d++) {
            octo_plan_gpu_row *r = &p->rows[e->devices[d]];
            r->weights += s->weights;
            r->workspace += s->workspace;
            r->reserve += s->reserve;
            r->kv += (uint64_t)e->kv_blocks * per_block;
            r->used += e->used;
            r->util_sum += e->util;
            r->n_models++;
        }
    }
    for (int g = 0; g < p->gpus.n; g++) {
        octo_plan_gpu_row *r = &p->rows[g];
        r->context = r->n_models ? OCTO_PLAN_CONTEXT_BYTES : 0;
        r->fits = r->util_sum <= 1.0 + 1e-9 && r->used + r->context <= r->total;
    }
    for (size_t i = 0; i < p->n; i++) {
        octo_plan_entry *e = &p->entries[i];
        if (e->fits || e->error[0] || !e->n_devices) continue;
        double others = 0;
        for (int d = 0; d < e->n_devices; d++) {
            double o = p->rows[e->devices[d]].util_sum - e->util;
            if (o > others) others = o;
        }
        advise(p, i, others);
    }
}

bool octo_plan_fits(const octo_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (!p->entries[i].fits) return false;
    for (int g = 0; g < p->gpus.n; g++)
        if (!p->rows[g].fits) return false;
    return true;
}

/* ==== placement ==== */

/* The tensor parallel size an unplaced model gets: the smallest power of
 * two whose need fits PLACE_MAX_UTIL of the smallest card. */
static int64_t place_tp(octo_plan *p, size_t i, uint64_t mem)
{
    octo_plan_model mm = p->models[i];
    if (mm.tensor_parallel_size > 0) return mm.tensor_parallel_size;
    char err[256];
    for (int64_t tp = 1; tp <= p->gpus.n && tp <= OCTO_PLAN_MAX_DEVICES; tp *= 2) {
        octo_plan_size ss;
        mm.tensor_parallel_size = tp;
        mm.n_devices = 0;
        if (octo_plan_size_model(p->cfg[i], &mm, &ss, err, sizeof err)) continue;
        if ((double)need_of(&mm, &ss) <= PLACE_MAX_UTIL * (double)mem) return tp;
    }
    return 0;
}

octo_err octo_plan_place(octo_plan *p, char *err, size_t err_size)
{
    if (p->gpus.n == 0) {
        snprintf(err, err_size, "--place needs GPUs (--gpus)");
        return OCTO_E_INVALID;
    }
    uint64_t mem = p->gpus.gpu[0].bytes;
    for (int g = 1; g < p->gpus.n; g++)
        if (p->gpus.gpu[g].bytes < mem) mem = p->gpus.gpu[g].bytes;
    double load[OCTO_PLAN_MAX_GPUS] = {0};
    size_t order[OCTO_PLAN_MAX_MODELS];
    uint64_t key[OCTO_PLAN_MAX_MODELS];
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->entries[i].error[0]) continue;
        int64_t tp = place_tp(p, i, mem);
        if (!tp) {
            snprintf(err, err_size, "%s fits on no group of these GPUs (even with tensor "
                     "parallelism up to %d)", p->entries[i].name, p->gpus.n);
            return OCTO_E_TOO_LARGE;
        }
        p->models[i].tensor_parallel_size = tp;
        p->models[i].n_devices = 0;
        octo_err rc = size_entry(p, i, err, err_size);
        if (rc) return rc;
        key[i] = need_of(&p->models[i], &p->entries[i].size) * (uint64_t)tp;
        order[n++] = i;
    }
    for (size_t a = 1; a < n; a++) /* largest first (insertion sort, few models) */
        for (size_t b = a; b > 0 && key[order[b]] > key[order[b - 1]]; b--) {
            size_t t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        octo_plan_entry *e = &p->entries[i];
        int tp = (int)p->models[i].tensor_parallel_size;
        double u = util_for(need_of(&p->models[i], &e->size), mem);
        int best = -1;
        double best_load = 2.0;
        for (int g0 = 0; g0 + tp <= p->gpus.n; g0 += tp) {
            double worst = 0;
            for (int d = 0; d < tp; d++)
                if (load[g0 + d] > worst) worst = load[g0 + d];
            if (worst + u <= PLACE_MAX_UTIL + 1e-9 && worst < best_load) {
                best = g0;
                best_load = worst;
            }
        }
        if (best < 0) {
            snprintf(err, err_size, "%s (needs %.2f of %d GPU%s) does not fit next to the "
                     "models placed before it", e->name, u, tp, tp > 1 ? "s" : "");
            return OCTO_E_TOO_LARGE;
        }
        e->n_devices = tp;
        for (int d = 0; d < tp; d++) {
            e->devices[d] = best + d;
            load[best + d] += u;
        }
        e->util = u;
    }
    /* generation models share what is left of their GPUs */
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        octo_plan_entry *e = &p->entries[i];
        if (p->models[i].task != OCTO_PLAN_GENERATE) continue;
        double worst = 0;
        int sharing = 1;
        for (int d = 0; d < e->n_devices; d++)
            if (load[e->devices[d]] > worst) worst = load[e->devices[d]];
        for (size_t k2 = k + 1; k2 < n; k2++) {
            const octo_plan_entry *o = &p->entries[order[k2]];
            if (p->models[order[k2]].task != OCTO_PLAN_GENERATE) continue;
            bool shared = false;
            for (int a = 0; a < e->n_devices && !shared; a++)
                for (int b = 0; b < o->n_devices; b++) shared |= e->devices[a] == o->devices[b];
            sharing += shared;
        }
        double extra = floor((PLACE_MAX_UTIL - worst) / sharing * 100.0 + 1e-9) / 100.0;
        if (extra <= 0) continue;
        e->util += extra;
        for (int d = 0; d < e->n_devices; d++) load[e->devices[d]] += extra;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        p->models[i].n_devices = p->entries[i].n_devices;
        memcpy(p->models[i].devices, p->entries[i].devices, sizeof p->entries[i].devices);
        p->models[i].gpu_memory_utilization = p->entries[i].util;
    }
    return OCTO_OK;
}
