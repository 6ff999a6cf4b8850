/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool — the batcher of the pooling models (embeddings, reranker scores):
 * one engine thread that takes the prompts of many concurrent requests,
 * packs them into forwards of up to max_batch_tokens tokens (a prompt
 * longer than that is prefilled in chunks over several forwards) and hands
 * each prompt one output row computed at its last token: the final-norm
 * hidden state (an output_hidden engine), or a few chosen logits (e.g. the
 * "no" and "yes" tokens of a reranker).
 *
 * Prompts are independent: nothing is sampled, every sequence is freed as
 * soon as its row is out, and the KV cache only has to hold one forward's
 * worth of tokens. Requests are served FIFO, prompt by prompt, so a large
 * request cannot starve the ones behind it for more than a forward.
 *
 * It deliberately knows no text, no pooling maths (normalisation,
 * Matryoshka truncation, softmax: the caller's) and no transport; it does
 * not share an engine with the generation scheduler.
 */
#include "engine_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define POOL_MAX_SEQS_HIDDEN 256
#define POOL_MAX_SEQS_SELECT 64
#define POOL_MAX_SELECT 16

/* One caller's prompts; lives on the caller's stack until done == n. */
typedef struct pool_job {
    struct pool_job *next;
    const int32_t *const *prompts;
    const int64_t *lens;
    int64_t n, taken, done;
    float *out;             /* [n, out_dim] */
    octo_err rc;
} pool_job;

/* A prompt being computed: its job, its index there and its sequence. */
typedef struct pool_slot {
    pool_job *job;
    int64_t idx;
    octo_engine_seq *seq;
} pool_slot;

struct octo_engine_pool {
    octo_engine *e;
    int64_t budget, max_seqs, max_waiting, out_dim, row_width, max_len;
    int32_t n_select;
    int32_t select[POOL_MAX_SELECT];
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pool_job *head, *tail;  /* jobs with prompts not yet taken */
    int64_t waiting;        /* prompts not yet taken */
    bool closing;
    /* engine thread only */
    pool_slot *slots;
    int64_t n_slots;
    octo_engine_item *items;
    float *rows;            /* [max_seqs, row_width] step output */
    octo_engine_pool_stats stats;
};

/* ==== the engine thread ==== */

/* Takes prompts off the queue while they fit the budget (one always
 * fits an empty batch). Called with the lock held. */
static void admit(octo_engine_pool *p, int64_t *active_tokens)
{
    while (p->head && p->n_slots < p->max_seqs) {
        pool_job *j = p->head;
        int64_t len = j->lens[j->taken];
        if (p->n_slots > 0 && *active_tokens + len > p->budget) break;
        p->slots[p->n_slots++] = (pool_slot){.job = j, .idx = j->taken, .seq = NULL};
        *active_tokens += len;
        p->waiting--;
        if (++j->taken == j->n) {
            p->head = j->next;
            if (!p->head) p->tail = NULL;
        }
    }
}

/* Marks slot i finished with rc (its row is written when rc is OK),
 * frees its sequence and drops it from the slot list. Lock held. */
static void finish_slot(octo_engine_pool *p, int64_t i, octo_err rc)
{
    pool_slot *s = &p->slots[i];
    octo_engine_seq_free(p->e, s->seq);
    if (rc && !s->job->rc) s->job->rc = rc;
    s->job->done++;
    p->slots[i] = p->slots[--p->n_slots];
}

static void copy_row(octo_engine_pool *p, const pool_slot *s, const float *row)
{
    float *dst = s->job->out + s->idx * p->out_dim;
    if (!p->n_select) {
        memcpy(dst, row, (size_t)p->out_dim * sizeof *dst);
        return;
    }
    for (int32_t k = 0; k < p->n_select; k++) dst[k] = row[p->select[k]];
}

/* One forward over the active slots: the earliest ones first, each with
 * as many of its remaining tokens as the budget leaves. */
static octo_err run_step(octo_engine_pool *p, int64_t *n_items, int64_t *n_tokens)
{
    int64_t left = p->budget, n = 0;
    for (int64_t i = 0; i < p->n_slots && left > 0; i++) {
        octo_engine_seq *s = p->slots[i].seq;
        int64_t rem = octo_engine_seq_len(s) - octo_engine_seq_computed(s);
        int64_t take = rem < left ? rem : left;
        p->items[n++] = (octo_engine_item){.seq = s, .n_tokens = take};
        left -= take;
    }
    *n_items = n;
    *n_tokens = p->budget - left;
    return octo_engine_step(p->e, p->items, n, p->rows);
}

static void *pool_main(void *arg)
{
    octo_engine_pool *p = arg;
    int64_t active_tokens = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->closing && !p->head && p->n_slots == 0) pthread_cond_wait(&p->work, &p->mu);
        if (p->closing) break;
        int64_t first_new = p->n_slots;
        admit(p, &active_tokens);
        pthread_mutex_unlock(&p->mu);

        /* sequences for the new slots (engine thread only) */
        octo_err rc = OCTO_OK;
        for (int64_t i = first_new; i < p->n_slots; i++) {
            pool_slot *s = &p->slots[i];
            octo_err r = octo_engine_seq_new(p->e, s->job->prompts[s->idx], s->job->lens[s->idx],
                                             NULL, &s->seq);
            if (r && !rc) rc = r;
        }
        int64_t n_items = 0, n_tokens = 0;
        octo_err step_rc = rc ? rc : run_step(p, &n_items, &n_tokens);
        if (!step_rc) {
            for (int64_t i = 0; i < n_items; i++) {
                if (p->items[i].logits_row < 0) continue;
                copy_row(p, &p->slots[i], p->rows + p->items[i].logits_row * p->row_width);
            }
        }

        pthread_mutex_lock(&p->mu);
        p->stats.tokens_total += n_tokens;
        p->stats.steps_total += n_items > 0;
        if (step_rc) {
            /* a failed forward (or sequence) fails every prompt in flight */
            OCTO_LOG_WARN("pooling forward failed: %s", octo_err_str(step_rc));
            while (p->n_slots) finish_slot(p, p->n_slots - 1, step_rc);
            active_tokens = 0;
        } else {
            /* finished slots, from the end so that indices stay valid */
            for (int64_t i = n_items - 1; i >= 0; i--) {
                if (p->items[i].logits_row < 0) continue;
                active_tokens -= octo_engine_seq_len(p->slots[i].seq);
                p->stats.prompts_total++;
                finish_slot(p, i, OCTO_OK);
            }
        }
        pthread_cond_broadcast(&p->done);
    }
    while (p->n_slots) finish_slot(p, p->n_slots - 1, OCTO_E_CLOSED);
    pthread_cond_broadcast(&p->done);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ==== public ==== */

int64_t octo_engine_pool_kv_blocks(int64_t max_batch_tokens, int64_t max_len, int64_t max_seqs,
                                   int64_t block_size)
{
    int64_t tokens = max_batch_tokens > max_len ? max_batch_tokens : max_len;
    return (tokens + block_size - 1) / block_size + max_seqs + 1;
}

octo_err octo_engine_pool_new(octo_engine *e, const octo_engine_pool_opts *o,
                              octo_engine_pool **out, char *err, size_t err_size)
{
    char dummy_err[8];
    if (!err) {
        err = dummy_err;
        err_size = sizeof dummy_err;
    }
    *out = NULL;
    const octo_model_info *in = octo_engine_model_info(e);
    if (o->n_select < 0 || o->n_select > POOL_MAX_SELECT || (!o->n_select && !e->output_hidden) ||
        (o->n_select && e->output_hidden)) {
        snprintf(err, err_size, "pool: pick hidden states (output_hidden engine) or 1..%d "
                 "logits (logits engine)", POOL_MAX_SELECT);
        return OCTO_E_INVALID;
    }
    for (int32_t k = 0; k < o->n_select; k++) {
        if (o->select[k] < 0 || o->select[k] >= in->vocab_size) {
            snprintf(err, err_size, "pool: token %d is not in the vocabulary", o->select[k]);
            return OCTO_E_INVALID;
        }
    }
    octo_engine_pool *p = octo_calloc(1, sizeof *p);
    if (!p) return OCTO_E_NOMEM;
    p->e = e;
    p->budget = o->max_batch_tokens > 0 && o->max_batch_tokens < e->max_batch_tokens
                    ? o->max_batch_tokens : e->max_batch_tokens;
    p->max_seqs = o->max_seqs > 0 ? o->max_seqs
                                  : (o->n_select ? POOL_MAX_SEQS_SELECT : POOL_MAX_SEQS_HIDDEN);
    p->max_waiting = o->max_waiting > 0 ? o->max_waiting : 65536;
    p->n_select = o->n_select;
    memcpy(p->select, o->select, sizeof p->select);
    p->out_dim = o->n_select ? o->n_select : in->hidden_size;
    p->row_width = o->n_select ? in->vocab_size : in->hidden_size;
    int64_t cache_tokens = octo_engine_kv_blocks_total(e) * octo_engine_block_size(e);
    p->max_len = octo_engine_max_model_len(e);
    if (p->max_len > cache_tokens) p->max_len = cache_tokens;
    p->slots = octo_calloc((size_t)p->max_seqs, sizeof *p->slots);
    p->items = octo_calloc((size_t)p->max_seqs, sizeof *p->items);
    p->rows = octo_malloc((size_t)(p->max_seqs * p->row_width) * sizeof *p->rows);
    if (!p->slots || !p->items || !p->rows) goto nomem;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (pthread_create(&p->thread, NULL, pool_main, p) != 0) {
        snprintf(err, err_size, "pool: cannot start the engine thread");
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->done);
        p->e = NULL;
        octo_engine_pool_free(p);
        return OCTO_E_NOMEM;
    }
    p->started = true;
    *out = p;
    return OCTO_OK;
nomem:
    p->e = NULL; /* stays with the caller */
    octo_engine_pool_free(p);
    return OCTO_E_NOMEM;
}

void octo_engine_pool_free(octo_engine_pool *p)
{
    if (!p) return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->closing = true;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->done);
    }
    octo_engine_free(p->e);
    octo_free(p->slots);
    octo_free(p->items);
    octo_free(p->rows);
    octo_free(p);
}

octo_engine *octo_engine_pool_engine(octo_engine_pool *p)
{
    return p->e;
}

int64_t octo_engine_pool_out_dim(const octo_engine_pool *p)
{
    return p->out_dim;
}

int64_t octo_engine_pool_max_len(const octo_engine_pool *p)
{
    return p->max_len;
}

octo_err octo_engine_pool_run(octo_engine_pool *p, const int32_t *const *prompts,
                              const int64_t *lens, int64_t n, float *out, char *err,
                              size_t err_size)
{
    char dummy_err[8];
    if (!err) {
        err = dummy_err;
        err_size = sizeof dummy_err;
    }
    const octo_model_info *in = octo_engine_model_info(p->e);
    if (n < 1) {
        snprintf(err, err_size, "no prompt");
        return OCTO_E_INVALID;
    }
    for (int64_t i = 0; i < n; i++) {
        if (lens[i] < 1) {
            snprintf(err, err_size, "prompt %lld is empty", (long long)i);
            return OCTO_E_INVALID;
        }
        if (lens[i] > p->max_len) {
            snprintf(err, err_size, "prompt %lld has %lld tokens, more than the %lld allowed",
                     (long long)i, (long long)lens[i], (long long)p->max_len);
            return OCTO_E_TOO_LARGE;
        }
        for (int64_t t = 0; t < lens[i]; t++) {
            if (prompts[i][t] < 0 || prompts[i][t] >= in->vocab_size) {
                snprintf(err, err_size, "prompt %lld: token id %d is out of the vocabulary "
                         "(0..%lld)", (long long)i, prompts[i][t], (long long)in->vocab_size - 1);
                return OCTO_E_INVALID;
            }
        }
    }
    pool_job j = {.prompts = prompts, .lens = lens, .n = n, .out = out};
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        return OCTO_E_CLOSED;
    }
    if (p->waiting + n > p->max_waiting && p->waiting > 0) {
        pthread_mutex_unlock(&p->mu);
        snprintf(err, err_size, "the model is busy: %lld prompts are waiting",
                 (long long)p->waiting);
        return OCTO_E_BUSY;
    }
    if (p->tail) p->tail->next = &j;
    else p->head = &j;
    p->tail = &j;
    p->waiting += n;
    pthread_cond_signal(&p->work);
    while (j.done < j.n) {
        if (p->closing && j.taken < j.n) {
            /* still queued: unlink what was never taken */
            pool_job **pp = &p->head, *prev = NULL;
            while (*pp && *pp != &j) {
                prev = *pp;
                pp = &(*pp)->next;
            }
            if (*pp) {
                *pp = j.next;
                if (p->tail == &j) p->tail = prev;
                p->waiting -= j.n - j.taken;
                j.done += j.n - j.taken;
                j.taken = j.n;
                j.rc = OCTO_E_CLOSED;
                continue;
            }
        }
        pthread_cond_wait(&p->done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    if (j.rc) snprintf(err, err_size, "the forward failed: %s", octo_err_str(j.rc));
    return j.rc;
}

void octo_engine_pool_stats_get(octo_engine_pool *p, octo_engine_pool_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    out->waiting = p->waiting;
    out->running = p->n_slots;
    pthread_mutex_unlock(&p->mu);
}
