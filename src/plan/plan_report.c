/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plan_report — a plan as text tables (one row per model, one per GPU,
 * then what does not fit and why) or as one JSON object with every figure
 * in bytes. Formatting only: the figures come from plan.c.
 */
#include "plan_int.h"

#include <stdio.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)
#define REPORT_MAX (4u << 20)

static const char *task_name(octo_plan_task t)
{
    return t == OCTO_PLAN_EMBED ? "embed" : t == OCTO_PLAN_SCORE ? "score" : "generate";
}

/* "0-3", "4", "4,6" or "cpu". */
static void devices_str(const octo_plan_entry *e, char *out, size_t n)
{
    if (!e->n_devices) {
        snprintf(out, n, "cpu");
        return;
    }
    bool run = true;
    for (int d = 1; d < e->n_devices; d++) run = run && e->devices[d] == e->devices[d - 1] + 1;
    if (run && e->n_devices > 1) {
        snprintf(out, n, "%d-%d", e->devices[0], e->devices[e->n_devices - 1]);
        return;
    }
    size_t len = 0;
    out[0] = '\0';
    for (int d = 0; d < e->n_devices && len + 8 < n; d++)
        len += (size_t)snprintf(out + len, n - len, "%s%d", d ? "," : "", e->devices[d]);
}

static octo_err text_models(const octo_plan *p, octo_buf *b)
{
    octo_err rc = octo_buf_printf(b, "%-12s %-8s %-4s %-5s %-15s %11s %10s %10s %9s %11s "
                                  "%9s %s\n", "model", "task", "gpus", "util", "quant",
                                  "weights/GPU", "KV/token", "workspace", "reserve",
                                  "KV tokens", "full seqs", "fits");
    for (size_t i = 0; !rc && i < p->n; i++) {
        const octo_plan_entry *e = &p->entries[i];
        const octo_plan_size *s = &e->size;
        char dev[64];
        devices_str(e, dev, sizeof dev);
        if (e->error[0]) {
            rc = octo_buf_printf(b, "%-12s %-8s %-4s error: %s\n", e->name, task_name(e->task),
                                 dev, e->error);
            continue;
        }
        if (!e->n_devices) {
            rc = octo_buf_printf(b, "%-12s %-8s %-4s %-5s %-15s %7.2f GiB %6.1f KiB  (runs on "
                                 "the CPU: host memory, not planned)\n", e->name,
                                 task_name(e->task), dev, "-", s->quant, s->weights / GIB,
                                 s->kv_per_token / 1024.0);
            continue;
        }
        rc = octo_buf_printf(b, "%-12s %-8s %-4s %-5.2f %-15s %7.2f GiB %6.1f KiB %6.2f GiB "
                             "%5.2f GiB %11lld %9.2f %s\n", e->name, task_name(e->task), dev,
                             e->util, s->quant, s->weights / GIB, s->kv_per_token / 1024.0,
                             s->workspace / GIB, s->reserve / GIB, (long long)e->kv_tokens,
                             e->full_seqs, e->fits ? "yes" : "NO");
    }
    return rc;
}

static octo_err text_gpus(const octo_plan *p, octo_buf *b)
{
    if (!p->gpus.n) return OCTO_OK;
    octo_err rc = octo_buf_printf(b, "\n%-4s %-8s %9s %9s %9s %9s %9s %9s %9s %6s %s\n", "gpu",
                                  "name", "total", "weights", "KV", "act+res", "context",
                                  "used", "free", "shares", "fits");
    for (int g = 0; !rc && g < p->gpus.n; g++) {
        const octo_plan_gpu_row *r = &p->rows[g];
        double free_b = (double)r->total - (double)r->used - (double)r->context;
        rc = octo_buf_printf(b, "%-4d %-8s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %6.2f %s\n",
                             g, p->gpus.gpu[g].name, r->total / GIB, r->weights / GIB,
                             r->kv / GIB, (r->workspace + r->reserve) / GIB, r->context / GIB,
                             r->used / GIB, free_b / GIB, r->util_sum,
                             r->fits ? "yes" : "NO");
    }
    if (!rc) rc = octo_buf_puts(b, "(GiB; context: the CUDA context and cuBLAS of the one "
                                   "octo process, outside the shares, an estimate)\n");
    return rc;
}

static octo_err text_problems(const octo_plan *p, octo_buf *b)
{
    octo_err rc = OCTO_OK;
    for (size_t i = 0; !rc && i < p->n; i++) {
        const octo_plan_entry *e = &p->entries[i];
        if (e->size.note[0] && !e->error[0])
            rc = octo_buf_printf(b, "\nnote: %s: %s\n", e->name, e->size.note);
        if (rc || e->fits || e->error[0]) continue;
        const octo_plan_size *z = &e->size;
        int64_t kv = e->shortfall + (int64_t)e->share -
                     (int64_t)(z->weights + z->workspace + z->reserve);
        char what[96];
        if (e->task == OCTO_PLAN_GENERATE)
            snprintf(what, sizeof what, "one %lld-token sequence", (long long)z->max_model_len);
        else
            snprintf(what, sizeof what, "its fixed pool of %lld tokens", (long long)e->kv_tokens);
        rc = octo_buf_printf(b, "\n%s does not fit: %.2f GiB (%lld bytes) short on each of its "
                             "GPUs. Share %.2f GiB (utilisation %.2f); needed: weights %.2f + "
                             "workspace %.2f + reserve %.2f + KV %.2f GiB (%s).\n"
                             "  would fit with: %s\n", e->name, e->shortfall / GIB,
                             (long long)e->shortfall, e->share / GIB, e->util,
                             z->weights / GIB, z->workspace / GIB, z->reserve / GIB, kv / GIB,
                             what, e->advice[0] ? e->advice : "nothing the planner knows");
    }
    for (int g = 0; !rc && g < p->gpus.n; g++) {
        const octo_plan_gpu_row *r = &p->rows[g];
        if (r->fits) continue;
        rc = octo_buf_printf(b, "\nGPU %d is over: shares %.2f (at most 1.00), %.2f GiB used "
                             "+ %.2f GiB context of %.2f GiB\n", g, r->util_sum, r->used / GIB,
                             r->context / GIB, r->total / GIB);
    }
    return rc;
}

char *octo_plan_report_text(const octo_plan *p)
{
    octo_buf b;
    octo_buf_init(&b, REPORT_MAX);
    octo_err rc = text_models(p, &b);
    if (!rc) rc = text_gpus(p, &b);
    if (!rc) rc = text_problems(p, &b);
    if (!rc) rc = octo_buf_printf(&b, "\n%s\n", octo_plan_fits(p) ? "plan: fits"
                                                                   : "plan: does NOT fit");
    if (rc) {
        octo_buf_deinit(&b);
        return NULL;
    }
    return octo_buf_take(&b);
}

/* ==== JSON ==== */

static octo_err json_str(octo_buf *b, const char *key, const char *v)
{
    octo_err rc = octo_buf_printf(b, "\"%s\":", key);
    if (!rc) rc = octo_json_quote(b, v, strlen(v), false);
    if (!rc) rc = octo_buf_puts(b, ",");
    return rc;
}

static octo_err json_entry(const octo_plan_entry *e, octo_buf *b)
{
    const octo_plan_size *s = &e->size;
    octo_err rc = octo_buf_puts(b, "{");
    if (!rc) rc = json_str(b, "name", e->name);
    if (!rc) rc = json_str(b, "path", e->path);
    if (!rc) rc = json_str(b, "task", task_name(e->task));
    if (!rc) rc = octo_buf_puts(b, "\"devices\":[");
    for (int d = 0; !rc && d < e->n_devices; d++)
        rc = octo_buf_printf(b, "%s%d", d ? "," : "", e->devices[d]);
    if (!rc) rc = octo_buf_puts(b, "],");
    if (!rc && e->error[0]) {
        rc = json_str(b, "error", e->error);
        if (!rc) rc = octo_buf_puts(b, "\"fits\":false}");
        return rc;
    }
    if (!rc) rc = json_str(b, "quantization", s->quant);
    if (!rc) rc = json_str(b, "note", s->note);
    if (!rc) rc = json_str(b, "advice", e->advice);
    if (!rc)
        rc = octo_buf_printf(
            b, "\"gpu_memory_utilization\":%.4f,\"tensor_parallel_size\":%lld,"
               "\"expert_parallel_size\":%lld,\"params\":%llu,\"weight_bytes_total\":%llu,"
               "\"weight_bytes_per_gpu\":%llu,\"vision_bytes_per_gpu\":%llu,"
               "\"kv_bytes_per_token_per_gpu\":%llu,\"kv_heads_per_gpu\":%lld,"
               "\"workspace_bytes\":%llu,\"reserve_bytes\":%llu,\"share_bytes\":%llu,"
               "\"kv_budget_bytes\":%lld,\"kv_blocks\":%lld,\"kv_tokens\":%lld,"
               "\"kv_bytes\":%llu,\"max_model_len\":%lld,\"max_num_seqs\":%lld,"
               "\"max_num_batched_tokens\":%lld,\"full_length_sequences\":%.4f,"
               "\"concurrent_sequences\":%lld,\"used_bytes_per_gpu\":%llu,"
               "\"shortfall_bytes\":%lld,\"fits\":%s}",
            e->util, (long long)s->tp, (long long)s->ep, (unsigned long long)s->params,
            (unsigned long long)s->weights_total, (unsigned long long)s->weights,
            (unsigned long long)s->vision, (unsigned long long)s->kv_per_token,
            (long long)s->kv_heads_per_gpu, (unsigned long long)s->workspace,
            (unsigned long long)s->reserve, (unsigned long long)e->share,
            (long long)e->kv_budget, (long long)e->kv_blocks, (long long)e->kv_tokens,
            (unsigned long long)((uint64_t)e->kv_tokens * s->kv_per_token),
            (long long)s->max_model_len, (long long)s->max_num_seqs,
            (long long)s->batch_tokens, e->full_seqs, (long long)e->concurrent,
            (unsigned long long)e->used, (long long)e->shortfall, e->fits ? "true" : "false");
    return rc;
}

char *octo_plan_report_json(const octo_plan *p)
{
    octo_buf b;
    octo_buf_init(&b, REPORT_MAX);
    octo_err rc = octo_buf_puts(&b, "{\"models\":[");
    for (size_t i = 0; !rc && i < p->n; i++) {
        if (i) rc = octo_buf_puts(&b, ",");
        if (!rc) rc = json_entry(&p->entries[i], &b);
    }
    if (!rc) rc = octo_buf_puts(&b, "],\"gpus\":[");
    for (int g = 0; !rc && g < p->gpus.n; g++) {
        const octo_plan_gpu_row *r = &p->rows[g];
        if (g) rc = octo_buf_puts(&b, ",");
        if (!rc) rc = octo_buf_printf(&b, "{\"index\":%d,\"name\":", g);
        if (!rc) rc = octo_json_quote(&b, p->gpus.gpu[g].name, strlen(p->gpus.gpu[g].name),
                                      false);
        if (!rc)
            rc = octo_buf_printf(
                &b, ",\"total_bytes\":%llu,\"weight_bytes\":%llu,\"kv_bytes\":%llu,"
                    "\"workspace_bytes\":%llu,\"reserve_bytes\":%llu,\"context_bytes\":%llu,"
                    "\"used_bytes\":%llu,\"utilization_sum\":%.4f,\"models\":%d,\"fits\":%s}",
                (unsigned long long)r->total, (unsigned long long)r->weights,
                (unsigned long long)r->kv, (unsigned long long)r->workspace,
                (unsigned long long)r->reserve, (unsigned long long)r->context,
                (unsigned long long)r->used, r->util_sum, r->n_models,
                r->fits ? "true" : "false");
    }
    if (!rc) rc = octo_buf_printf(&b, "],\"fits\":%s}\n", octo_plan_fits(p) ? "true" : "false");
    if (rc) {
        octo_buf_deinit(&b);
        return NULL;
    }
    return octo_buf_take(&b);
}
