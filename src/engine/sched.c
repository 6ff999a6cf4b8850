/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched — the serving scheduler: one engine thread per engine running a
 * step loop in the manner of vLLM's V1 scheduler (continuous batching):
 *   1. reap: cancelled and timed-out requests (waiting or running) free
 *      their sequence and get their final event;
 *   2. schedule: running sequences in admission order get their tokens —
 *      decodes first, then the rest of partially computed prompts — as
 *      far as the token budget (max_num_batched_tokens) goes; when the KV
 *      pool cannot supply a block, the most recently admitted running
 *      sequence is preempted by recomputation (blocks freed, back to the
 *      front of the waiting queue, all its tokens kept); then, unless
 *      something was preempted, waiting requests are admitted FIFO while
 *      max_num_seqs, the budget and the pool allow (prefix-cache hits
 *      first, then a chunk of the prompt);
 *   3. one engine step over all of it;
 *   4. sample every sequence whose logits came out, push one event per
 *      token, finish at a stop token, max_tokens or the context's end.
 * The thread sleeps on a condition variable while nothing is queued.
 *
 * Not a transport and not a tokenizer: requests are token ids in, token
 * events out (api/ turns them into HTTP). One engine per scheduler.
 */
#include "sched_int.h"

#include <stdio.h>
#include <math.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_SEQS 256
#define DEFAULT_MAX_WAITING 1024
#define PROMPT_LP_CHUNK 64  /* prefill chunk of a request with prompt logprobs */
#define PROMPT_LP_ROWS 256  /* logits rows for prompt logprobs in one step */

/* ==== finishing requests ==== */

static void event_of(const octo_sched_req *r, octo_sched_event *ev, int32_t token,
                     octo_finish finish)
{
    memset(ev, 0, sizeof *ev);
    ev->token = token;
    ev->sample.logprob = 0.0f;
    ev->finish = finish;
    ev->prompt_tokens = r->n_prompt;
    ev->cached_tokens = r->cached_tokens;
    ev->completion_tokens = r->n_generated;
    ev->ttft_s = r->ttft >= 0 ? r->ttft : 0.0;
    ev->prompt_index = -1;
}

/* Frees r's sequence and sends its final event; r is gone afterwards
 * (for the engine). It must be in no list. */
static void finish_req(octo_sched *s, octo_sched_req *r, octo_finish why)
{
    octo_sched_event ev;
    event_of(r, &ev, -1, why);
    octo_engine_seq_free(s->e, r->seq);
    r->seq = NULL;
    s->st.requests_finished_total++;
    s->st.finished_by[why]++;
    if (octo_sched_req_push(r, &ev)) OCTO_LOG_ERROR("final event lost"); /* cannot happen */
}

static octo_finish reap_reason(const octo_sched_req *r, double now)
{
    if (atomic_load(&r->cancelled)) return OCTO_FINISH_CANCELLED;
    if (r->deadline > 0 && now >= r->deadline) return OCTO_FINISH_TIMEOUT;
    return OCTO_FINISH_NONE;
}

/* Step 1: cancelled and timed-out requests let go of their blocks. */
static void reap(octo_sched *s)
{
    double now = octo_now();
    for (octo_sched_req *r = s->running.head, *next; r; r = next) {
        next = r->next;
        octo_finish why = reap_reason(r, now);
        if (why == OCTO_FINISH_NONE) continue;
        octo_sched_list_remove(&s->running, r);
        finish_req(s, r, why);
    }
    req_list gone = {0};
    pthread_mutex_lock(&s->mu);
    for (octo_sched_req *r = s->waiting.head, *next; r; r = next) {
        next = r->next;
        if (reap_reason(r, now) == OCTO_FINISH_NONE) continue;
        octo_sched_list_remove(&s->waiting, r);
        octo_sched_list_push_back(&gone, r);
    }
    pthread_mutex_unlock(&s->mu);
    while (gone.head) {
        octo_sched_req *r = gone.head;
        octo_sched_list_remove(&gone, r);
        finish_req(s, r, reap_reason(r, now));
    }
}

/* ==== building a step ==== */

static octo_err items_reserve(octo_sched *s, int64_t n)
{
    if (n <= s->cap_items) return OCTO_OK;
    int64_t cap = s->cap_items ? s->cap_items * 2 : 16;
    if (cap < n) cap = n;
    octo_engine_item *it = octo_realloc(s->items, (size_t)cap * sizeof *it);
    if (!it) return OCTO_E_NOMEM;
    s->items = it;
    octo_sched_req **ir = octo_realloc(s->item_req, (size_t)cap * sizeof *ir);
    if (!ir) return OCTO_E_NOMEM;
    s->item_req = ir;
    s->cap_items = cap;
    return OCTO_OK;
}

/* Room for this step's logits: one row per item, n_tokens rows for an
 * all_logits item. */
static octo_err logits_reserve(octo_sched *s)
{
    int64_t rows = 0;
    for (int64_t i = 0; i < s->n_items; i++) {
        rows += s->items[i].all_logits ? s->items[i].n_tokens : 1;
    }
    if (rows <= s->cap_rows) return OCTO_OK;
    if (rows < 2 * s->cap_rows) rows = 2 * s->cap_rows;
    octo_free(s->logits); /* nothing to keep: no copy */
    s->cap_rows = 0;
    s->logits = octo_malloc((size_t)rows * (size_t)s->vocab * sizeof *s->logits);
    if (!s->logits) return OCTO_E_NOMEM;
    s->cap_rows = rows;
    return OCTO_OK;
}

/* A step whose every sequence can be sampled on the engine's device: the
 * logits stay there and only the chosen ids come back (no vocab-sized
 * copy per row, no host sampler). Also grows the ids buffer. */
static bool step_on_device(octo_sched *s)
{
    for (int64_t i = 0; i < s->n_items; i++) {
        if (s->items[i].all_logits || !octo_engine_device_sampling_ok(s->e, s->items[i].seq))
            return false;
    }
    if (s->n_items > s->cap_ids) {
        int32_t *ids = octo_realloc(s->ids, (size_t)s->n_items * sizeof *ids);
        if (!ids) return false;
        s->ids = ids;
        s->cap_ids = s->n_items;
    }
    return true;
}

/* How many of r's pending tokens run in this step (0: none) and whether
 * they need logits at every position (prompt logprobs still owed). */
static int64_t chunk_of(octo_sched *s, const octo_sched_req *r, int64_t budget, bool *all)
{
    const octo_engine_seq *q = r->seq;
    int64_t n = q->len - q->computed;
    if (n > budget) n = budget;
    *all = r->prompt_lp >= 0 && r->lp_next < r->n_prompt - 1 && q->computed + n > r->lp_next;
    if (*all) {
        int64_t cap = s->lp_rows_left < PROMPT_LP_CHUNK ? s->lp_rows_left : PROMPT_LP_CHUNK;
        if (n > cap) n = cap;
    }
    return n;
}

/* Adds r's next n_tokens to this step (room made by items_reserve). */
static void item_add(octo_sched *s, octo_sched_req *r, int64_t n_tokens, bool all)
{
    OCTO_ASSERT(s->n_items < s->cap_items);
    if (all) s->lp_rows_left -= n_tokens;
    s->items[s->n_items] = (octo_engine_item){.seq = r->seq, .n_tokens = n_tokens,
                                              .all_logits = all};
    s->item_req[s->n_items] = r;
    r->item = s->n_items++;
}

/* Takes r's item out of this step; returns the tokens it had. */
static int64_t item_drop(octo_sched *s, octo_sched_req *r)
{
    int64_t i = r->item, n = s->items[i].n_tokens;
    if (s->items[i].all_logits) s->lp_rows_left += n;
    for (int64_t j = i + 1; j < s->n_items; j++) {
        s->items[j - 1] = s->items[j];
        s->item_req[j - 1] = s->item_req[j];
        s->item_req[j - 1]->item = j - 1;
    }
    s->n_items--;
    r->item = -1;
    return n;
}

/* Preempts the most recently admitted running request by recomputation:
 * blocks freed, tokens kept, back to the front of the waiting queue.
 * Returns it; *budget gets back the tokens it had in this step. */
static octo_sched_req *preempt_last(octo_sched *s, int64_t *budget)
{
    octo_sched_req *v = s->running.tail;
    OCTO_ASSERT(v);
    if (v->item >= 0) *budget += item_drop(s, v);
    octo_sched_list_remove(&s->running, v);
    octo_engine_seq_evict(s->e, v->seq);
    s->st.swapped_or_preempted_total++;
    pthread_mutex_lock(&s->mu);
    octo_sched_list_push_front(&s->waiting, v);
    pthread_mutex_unlock(&s->mu);
    OCTO_LOG_DEBUG("preempted a sequence of %lld tokens",
                   (long long)octo_engine_seq_len(v->seq));
    return v;
}

/* Gives running request r blocks for its next n tokens, preempting
 * others (newest first) while the pool is short. False when r itself was
 * preempted. */
static bool reserve_running(octo_sched *s, octo_sched_req *r, int64_t n, int64_t *budget)
{
    kv_pool *kv = &s->e->kv;
    for (;;) {
        octo_err rc = octo_engine_kv_reserve(kv, r->seq, r->seq->computed + n);
        if (rc == OCTO_OK) return true;
        OCTO_ASSERT(rc == OCTO_E_BUSY || rc == OCTO_E_NOMEM);
        if (preempt_last(s, budget) == r) return false;
    }
}

/* Running requests get their tokens: decodes (one pending token) in the
 * first pass, partially computed prompts in the second. Returns whether
 * anything was preempted. */
static bool schedule_running(octo_sched *s, int64_t *budget)
{
    bool preempted = false;
    if (items_reserve(s, s->running.n)) {
        OCTO_LOG_ERROR("out of memory for the step's items");
        return false;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (octo_sched_req *r = s->running.head; r && *budget > 0; r = r->next) {
            int64_t pending = r->seq->len - r->seq->computed;
            if (r->item >= 0 || (pass == 0) != (pending == 1)) continue;
            bool all;
            int64_t n = chunk_of(s, r, *budget, &all);
            if (n == 0) continue;
            int64_t before = s->running.n;
            bool kept = reserve_running(s, r, n, budget);
            if (s->running.n != before) preempted = true;
            if (!kept) break; /* r was the newest: nothing after it */
            item_add(s, r, n, all);
            *budget -= n;
        }
    }
    return preempted;
}

/* First admission: the engine sequence from the request's prompt. */
static octo_err seq_create(octo_sched *s, octo_sched_req *r)
{
    octo_err rc = octo_engine_seq_new(s->e, r->prompt, r->n_prompt, &r->params, &r->seq);
    if (rc) return rc;
    octo_free(r->prompt);
    r->prompt = NULL;
    return OCTO_OK;
}

/* Waiting requests join FIFO while seats, budget and blocks allow.
 * Requests whose sequence cannot be made are moved to *failed. */
static void admit(octo_sched *s, int64_t *budget, req_list *failed)
{
    kv_pool *kv = &s->e->kv;
    pthread_mutex_lock(&s->mu);
    while (s->waiting.head && s->running.n < s->max_seqs && *budget > 0) {
        octo_sched_req *r = s->waiting.head;
        if (items_reserve(s, s->n_items + 1)) break; /* out of memory: not now */
        if (!r->seq && seq_create(s, r)) {
            octo_sched_list_remove(&s->waiting, r);
            octo_sched_list_push_back(failed, r);
            continue;
        }
        octo_engine_seq *q = r->seq;
        int64_t hit = 0;
        bool lp_owed = r->prompt_lp >= 0 && r->lp_next < r->n_prompt - 1;
        if (s->prefix_caching && q->computed == 0 && !lp_owed) {
            hit = octo_engine_kv_match(kv, q);
        }
        bool all;
        int64_t n = chunk_of(s, r, *budget, &all);
        if (n == 0 || octo_engine_kv_reserve(kv, q, q->computed + n)) {
            octo_engine_seq_evict(s->e, q); /* give back what it took */
            break;
        }
        if (s->prefix_caching) {
            s->st.prefix_queries_tokens += q->len;
            s->st.prefix_hit_tokens += hit;
        }
        if (!r->admitted_once) {
            r->admitted_once = true;
            r->cached_tokens = hit;
            s->st.prompt_tokens_total += r->n_prompt;
        }
        octo_sched_list_remove(&s->waiting, r);
        octo_sched_list_push_back(&s->running, r);
        item_add(s, r, n, all);
        *budget -= n;
    }
    pthread_mutex_unlock(&s->mu);
}

/* ==== after the forward ==== */

static void observe_token(octo_sched *s, octo_sched_req *r, double now)
{
    octo_sched_stats *st = &s->st;
    if (r->ttft < 0) {
        r->ttft = now - r->t_submit;
        octo_sched_observe(st, st->ttft_count, &st->ttft_total, &st->ttft_sum, r->ttft);
    } else {
        octo_sched_observe(st, st->itl_count, &st->itl_total, &st->itl_sum, now - r->t_last);
    }
    r->t_last = now;
    st->generation_tokens_total++;
}

/* Samples running request r's next token from its logits row, sends it,
 * and either appends it or finishes r (out of the running list first:
 * its final event may free it). */
/* r's next token: sampled here from its logits row (row non-NULL), or
 * already sampled on the device (*dev). */
static void emit_token(octo_sched *s, octo_sched_req *r, float *row,
                       const octo_sample_result *dev, double now)
{
    octo_sample_result res;
    if (dev) {
        res = *dev;
    } else if (octo_engine_sample(s->e, r->seq, row, &res)) {
        OCTO_LOG_ERROR("sampling failed (logits not finite or all masked)");
        octo_sched_list_remove(&s->running, r);
        finish_req(s, r, OCTO_FINISH_ERROR);
        return;
    }
    r->n_generated++;
    observe_token(s, r, now);
    octo_finish fin = OCTO_FINISH_NONE;
    if (octo_engine_seq_is_stop(s->e, r->seq, res.token)) fin = OCTO_FINISH_STOP;
    else if (r->n_generated >= r->max_tokens) fin = OCTO_FINISH_LENGTH;
    else if (r->n_prompt + r->n_generated >= s->max_len) fin = OCTO_FINISH_LENGTH;
    else if (octo_engine_seq_append(s->e, r->seq, res.token)) fin = OCTO_FINISH_ERROR;
    octo_sched_event ev;
    event_of(r, &ev, res.token, fin);
    ev.sample = res;
    if (fin != OCTO_FINISH_NONE) {
        octo_sched_list_remove(&s->running, r);
        octo_engine_seq_free(s->e, r->seq);
        r->seq = NULL;
        s->st.requests_finished_total++;
        s->st.finished_by[fin]++;
    }
    if (octo_sched_req_push(r, &ev) && fin == OCTO_FINISH_NONE) {
        /* the consumer's ring could not grow: end the request */
        octo_sched_list_remove(&s->running, r);
        finish_req(s, r, OCTO_FINISH_ERROR);
    }
}

/* Prompt logprobs owed by r from an all_logits chunk of n tokens that
 * started at position `start` (rows from `rows`). False when r had to be
 * ended (its event ring could not grow). */
static bool emit_prompt_logprobs(octo_sched *s, octo_sched_req *r, int64_t start, int64_t n,
                                 const float *rows)
{
    for (int64_t j = 0; j < n; j++) {
        int64_t pos = start + j;
        if (pos < r->lp_next || pos >= r->n_prompt - 1) continue;
        octo_sched_event ev;
        event_of(r, &ev, r->seq->tokens[pos + 1], OCTO_FINISH_NONE);
        ev.prompt_index = pos + 1;
        octo_engine_row_logprobs(rows + j * s->vocab, s->vocab, ev.token, r->prompt_lp,
                                 &ev.sample);
        r->lp_next = pos + 1;
        if (octo_sched_req_push(r, &ev)) {
            octo_sched_list_remove(&s->running, r);
            finish_req(s, r, OCTO_FINISH_ERROR);
            return false;
        }
    }
    return true;
}

/* The outputs of item i of the step just run. */
static void item_outputs(octo_sched *s, int64_t i, double now, bool dev)
{
    octo_sched_req *r = s->item_req[i];
    const octo_engine_item *it = &s->items[i];
    r->item = -1;
    if (it->logits_row < 0) return; /* a prefill chunk short of the prompt's end */
    if (dev) {
        octo_sample_result res = {.token = s->ids[it->logits_row], .logprob = NAN};
        emit_token(s, r, NULL, &res, now);
        return;
    }
    float *rows = s->logits + it->logits_row * s->vocab;
    if (it->all_logits) {
        int64_t start = r->seq->computed - it->n_tokens;
        if (!emit_prompt_logprobs(s, r, start, it->n_tokens, rows)) return;
        if (r->seq->computed < r->seq->len) return; /* more of the prompt to come */
        rows += (it->n_tokens - 1) * s->vocab;
    }
    emit_token(s, r, rows, NULL, now);
}

static void publish(octo_sched *s)
{
    kv_pool *kv = &s->e->kv;
    s->st.running = s->running.n;
    s->st.kv_blocks_total = kv->n_blocks;
    s->st.kv_blocks_used = kv->n_blocks - octo_engine_kv_available(kv);
    pthread_mutex_lock(&s->mu);
    s->st.waiting = s->waiting.n;
    s->pub = s->st;
    pthread_mutex_unlock(&s->mu);
}

/* ==== the step loop ==== */

/* One scheduler iteration; false when it found nothing to run. */
static bool step_once(octo_sched *s)
{
    double t0 = octo_now();
    req_list failed = {0};
    reap(s);
    int64_t budget = s->max_batched;
    s->n_items = 0;
    s->lp_rows_left = PROMPT_LP_ROWS;
    bool preempted = schedule_running(s, &budget);
    if (!preempted) admit(s, &budget, &failed);
    while (failed.head) {
        octo_sched_req *r = failed.head;
        octo_sched_list_remove(&failed, r);
        finish_req(s, r, OCTO_FINISH_ERROR);
    }
    if (s->n_items == 0) return false;
    /* requests just admitted left the waiting count: show them as running
     * now, not only after the step (a long prefill would hide them) */
    publish(s);
    double t1 = octo_now();
    bool dev = step_on_device(s);
    octo_err rc = dev ? OCTO_OK : logits_reserve(s);
    if (rc == OCTO_OK) rc = octo_engine_step(s->e, s->items, s->n_items, dev ? NULL : s->logits);
    if (rc == OCTO_OK && dev) rc = octo_engine_sample_device(s->e, s->items, s->n_items, s->ids);
    s->st.steps_total++;
    if (rc) OCTO_LOG_ERROR("engine step failed: %s", octo_err_str(rc));
    double now = octo_now();
    s->st.schedule_seconds += t1 - t0;
    s->st.forward_seconds += now - t1;
    for (int64_t i = 0; i < s->n_items; i++) {
        if (rc == OCTO_OK) {
            item_outputs(s, i, now, dev);
            continue;
        }
        octo_sched_req *r = s->item_req[i];
        r->item = -1;
        octo_sched_list_remove(&s->running, r);
        finish_req(s, r, OCTO_FINISH_ERROR);
    }
    s->n_items = 0;
    s->st.output_seconds += octo_now() - now;
    return true;
}

static void timed_wait(octo_sched *s, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)(seconds * 1e9);
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&s->mu);
    if (!s->shutdown) pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    pthread_mutex_unlock(&s->mu);
}

static void *engine_thread(void *arg)
{
    octo_sched *s = arg;
    bool idle_ok = true; /* one empty iteration is normal (after a preemption) */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->shutdown && !s->waiting.head && !s->running.head) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        bool stop = s->shutdown;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        bool ran = step_once(s);
        publish(s);
        if (!ran && !idle_ok) {
            /* nothing could run although requests are here: must not spin */
            OCTO_LOG_WARN("no request could be scheduled; waiting");
            timed_wait(s, 0.01);
        }
        idle_ok = ran;
    }
    /* shutting down: every request still here ends CANCELLED */
    while (s->running.head) {
        octo_sched_req *r = s->running.head;
        octo_sched_list_remove(&s->running, r);
        finish_req(s, r, OCTO_FINISH_CANCELLED);
    }
    pthread_mutex_lock(&s->mu);
    req_list left = s->waiting;
    s->waiting = (req_list){0};
    pthread_mutex_unlock(&s->mu);
    while (left.head) {
        octo_sched_req *r = left.head;
        octo_sched_list_remove(&left, r);
        finish_req(s, r, OCTO_FINISH_CANCELLED);
    }
    publish(s);
    return NULL;
}

/* ==== public side ==== */

octo_err octo_sched_new(octo_engine *e, const octo_sched_opts *o, octo_sched **out,
                        char *err, size_t err_size)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        err_size = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    octo_sched_opts def = {0};
    if (!o) o = &def;
    if (o->max_num_seqs < 0 || o->max_num_batched_tokens < 0 || o->max_waiting < 0 ||
        !(o->request_timeout_s >= 0)) {
        snprintf(err, err_size, "scheduler limits must not be negative");
        return OCTO_E_INVALID;
    }
    if (e->output_hidden) {
        snprintf(err, err_size, "the engine returns hidden states (embeddings), not tokens");
        return OCTO_E_INVALID;
    }
    octo_sched *s = octo_calloc(1, sizeof *s);
    if (!s) return OCTO_E_NOMEM;
    s->e = e;
    s->max_seqs = o->max_num_seqs ? o->max_num_seqs : DEFAULT_MAX_SEQS;
    s->max_batched = e->max_batch_tokens;
    if (o->max_num_batched_tokens && o->max_num_batched_tokens < s->max_batched) {
        s->max_batched = o->max_num_batched_tokens;
    }
    /* every running sequence must get its decode token in each step, or
     * the newest could starve behind older ones */
    if (s->max_seqs > s->max_batched) s->max_seqs = s->max_batched;
    s->max_waiting = o->max_waiting ? o->max_waiting : DEFAULT_MAX_WAITING;
    s->timeout_s = o->request_timeout_s;
    s->vocab = octo_engine_model_info(e)->vocab_size;
    /* a lone sequence must always fit in the pool, or it could never run */
    s->max_len = e->max_model_len;
    if (e->kv.n_blocks * e->kv.block_size < s->max_len) {
        s->max_len = e->kv.n_blocks * e->kv.block_size;
    }
    s->prefix_caching = o->prefix_caching;
    octo_err rc = OCTO_E_NOMEM;
    if (s->prefix_caching && octo_engine_kv_prefix_enable(&e->kv)) goto fail;
    if (items_reserve(s, 8)) goto fail;
    s->n_items = 0;
    s->lp_rows_left = 0;
    octo_sched_buckets_init(&s->st);
    s->pub = s->st;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    publish(s);
    if (pthread_create(&s->thread, NULL, engine_thread, s)) {
        snprintf(err, err_size, "cannot start the engine thread");
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        rc = OCTO_E_INTERNAL;
        goto fail;
    }
    *out = s;
    return OCTO_OK;
fail:
    if (rc == OCTO_E_NOMEM && !err[0]) snprintf(err, err_size, "out of memory");
    octo_free(s->items);
    octo_free(s->item_req);
    octo_free(s->logits);
    octo_free(s->ids);
    octo_free(s);
    return rc;
}

void octo_sched_free(octo_sched *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->shutdown = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    octo_engine_free(s->e);
    octo_free(s->items);
    octo_free(s->item_req);
    octo_free(s->logits);
    octo_free(s->ids);
    octo_free(s);
}

octo_engine *octo_sched_engine(octo_sched *s) { return s->e; }
int64_t octo_sched_max_len(const octo_sched *s) { return s->max_len; }

/* Checks a request and copies it into a new octo_sched_req. */
static octo_err req_make(octo_sched *s, const int32_t *prompt, int64_t n_prompt,
                         const octo_sampling_params *p, int64_t max_tokens,
                         int32_t prompt_lp, octo_sched_req **out, char *err, size_t err_size)
{
    if (prompt_lp < -1 || prompt_lp > OCTO_ENGINE_MAX_TOP_LOGPROBS) {
        snprintf(err, err_size, "prompt_logprobs must be in [0, %d]",
                 OCTO_ENGINE_MAX_TOP_LOGPROBS);
        return OCTO_E_INVALID;
    }
    if (!prompt || n_prompt < 1) {
        snprintf(err, err_size, "the prompt is empty");
        return OCTO_E_INVALID;
    }
    if (n_prompt + 1 > s->max_len) {
        snprintf(err, err_size, "This model's maximum context length is %lld tokens. However, "
                 "your prompt has %lld tokens, which leaves no room for a completion token.",
                 (long long)s->max_len, (long long)n_prompt);
        return OCTO_E_TOO_LARGE;
    }
    for (int64_t i = 0; i < n_prompt; i++) {
        if (prompt[i] < 0 || prompt[i] >= s->vocab) {
            snprintf(err, err_size, "prompt token %lld is %ld, outside the vocabulary (%lld)",
                     (long long)i, (long)prompt[i], (long long)s->vocab);
            return OCTO_E_INVALID;
        }
    }
    octo_sampling_params def;
    if (!p) {
        octo_engine_sampling_default(&def);
        p = &def;
    }
    octo_err rc = octo_engine_sampling_check(p, s->vocab, err, err_size);
    if (rc) return rc;
    octo_sched_req *r = octo_sched_req_alloc();
    if (!r) return OCTO_E_NOMEM;
    r->prompt = octo_malloc((size_t)n_prompt * sizeof *prompt);
    if (p->n_logit_bias > 0) r->bias = octo_malloc((size_t)p->n_logit_bias * sizeof *r->bias);
    if (!r->prompt || (p->n_logit_bias > 0 && !r->bias)) {
        r->engine_ref = false; /* never reached the engine */
        octo_sched_req_free(r);
        snprintf(err, err_size, "out of memory");
        return OCTO_E_NOMEM;
    }
    memcpy(r->prompt, prompt, (size_t)n_prompt * sizeof *prompt);
    r->params = *p;
    if (r->bias) memcpy(r->bias, p->logit_bias, (size_t)p->n_logit_bias * sizeof *r->bias);
    r->params.logit_bias = r->bias;
    r->n_prompt = n_prompt;
    r->prompt_lp = prompt_lp;
    r->max_tokens = max_tokens > 0 ? max_tokens : s->max_len - n_prompt;
    r->t_submit = octo_now();
    r->deadline = s->timeout_s > 0 ? r->t_submit + s->timeout_s : 0.0;
    *out = r;
    return OCTO_OK;
}

octo_err octo_sched_submit(octo_sched *s, const int32_t *prompt, int64_t n_prompt,
                           const octo_sampling_params *p, int64_t max_tokens,
                           octo_sched_req **out, char *err, size_t err_size)
{
    return octo_sched_submit_ex(s, prompt, n_prompt, p, max_tokens, -1, out, err, err_size);
}

octo_err octo_sched_submit_ex(octo_sched *s, const int32_t *prompt, int64_t n_prompt,
                              const octo_sampling_params *p, int64_t max_tokens,
                              int32_t prompt_logprobs, octo_sched_req **out, char *err,
                              size_t err_size)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        err_size = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    octo_sched_req *r;
    octo_err rc = req_make(s, prompt, n_prompt, p, max_tokens, prompt_logprobs, &r, err,
                           err_size);
    if (rc) return rc;
    pthread_mutex_lock(&s->mu);
    if (s->shutdown) {
        rc = OCTO_E_CLOSED;
        snprintf(err, err_size, "the model is shutting down");
    } else if (s->waiting.n >= s->max_waiting) {
        rc = OCTO_E_BUSY;
        snprintf(err, err_size, "%lld requests are waiting already", (long long)s->waiting.n);
    } else {
        octo_sched_list_push_back(&s->waiting, r);
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        r->engine_ref = false; /* never reached the engine */
        octo_sched_req_free(r);
        return rc;
    }
    *out = r;
    return OCTO_OK;
}

void octo_sched_stats_get(octo_sched *s, octo_sched_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->pub;
    out->waiting = s->waiting.n;
    pthread_mutex_unlock(&s->mu);
}
