/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched_req — a request's side of the scheduler: the event stream from
 * the engine thread to one consumer (a growable ring under a mutex and a
 * condition variable, so the engine never blocks on a slow reader), the
 * two-party lifetime (the request is freed when both the consumer and the
 * engine have let go), cancellation, the latency histograms and the
 * intrusive request lists.
 *
 * Not the step loop (sched.c) and not a transport: what a consumer does
 * with the events (SSE, JSON) is the api module's business.
 */
#include "sched_int.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#define RING_START 16

/* ==== lifetime ==== */

octo_sched_req *octo_sched_req_alloc(void)
{
    octo_sched_req *r = octo_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->ev = octo_calloc(RING_START, sizeof *r->ev);
    if (!r->ev) {
        octo_free(r);
        return NULL;
    }
    r->ev_cap = RING_START;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&r->cancelled, false);
    r->consumer_ref = r->engine_ref = true;
    r->item = -1;
    r->ttft = -1.0;
    return r;
}

static void req_destroy(octo_sched_req *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    octo_free(r->ev);
    octo_free(r->prompt);
    octo_free(r->bias);
    octo_free(r);
}

void octo_sched_req_cancel(octo_sched_req *r)
{
    if (r) atomic_store(&r->cancelled, true);
}

void octo_sched_req_free(octo_sched_req *r)
{
    if (!r) return;
    atomic_store(&r->cancelled, true);
    pthread_mutex_lock(&r->mu);
    r->consumer_ref = false;
    bool last = !r->engine_ref;
    pthread_mutex_unlock(&r->mu);
    if (last) req_destroy(r);
}

/* ==== the event ring ==== */

static octo_err ring_grow(octo_sched_req *r)
{
    int64_t cap = r->ev_cap * 2;
    octo_sched_event *ev = octo_malloc((size_t)cap * sizeof *ev);
    if (!ev) return OCTO_E_NOMEM;
    for (int64_t i = 0; i < r->ev_len; i++) ev[i] = r->ev[(r->ev_head + i) % r->ev_cap];
    octo_free(r->ev);
    r->ev = ev;
    r->ev_cap = cap;
    r->ev_head = 0;
    return OCTO_OK;
}

octo_err octo_sched_req_push(octo_sched_req *r, const octo_sched_event *ev)
{
    bool final = ev->finish != OCTO_FINISH_NONE;
    octo_err rc = OCTO_OK;
    pthread_mutex_lock(&r->mu);
    OCTO_ASSERT(r->engine_ref && !r->final_pushed);
    if (r->ev_len == r->ev_cap) rc = ring_grow(r);
    if (rc == OCTO_OK) {
        r->ev[(r->ev_head + r->ev_len) % r->ev_cap] = *ev;
        r->ev_len++;
    } else if (final) {
        /* out of memory: the final event takes the newest slot */
        r->ev[(r->ev_head + r->ev_len - 1) % r->ev_cap] = *ev;
        rc = OCTO_OK;
    }
    bool last = false;
    if (final) {
        r->final_pushed = true;
        r->engine_ref = false;
        last = !r->consumer_ref;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (last) req_destroy(r);
    return rc;
}

static void deadline_of(struct timespec *ts, double timeout_s)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    double whole = floor(timeout_s);
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((timeout_s - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

octo_err octo_sched_req_next(octo_sched_req *r, double timeout_s, octo_sched_event *ev)
{
    struct timespec until;
    if (timeout_s >= 0) deadline_of(&until, timeout_s);
    octo_err rc = OCTO_OK;
    pthread_mutex_lock(&r->mu);
    while (r->ev_len == 0 && !r->final_pushed) {
        if (timeout_s < 0) {
            pthread_cond_wait(&r->cv, &r->mu);
        } else if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) {
            if (r->ev_len == 0 && !r->final_pushed) rc = OCTO_E_TIMEOUT;
            break;
        }
    }
    if (rc == OCTO_OK) {
        if (r->ev_len == 0) {
            rc = OCTO_E_CLOSED;
        } else {
            *ev = r->ev[r->ev_head];
            r->ev_head = (r->ev_head + 1) % r->ev_cap;
            r->ev_len--;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ==== latency histograms ==== */

static const double BUCKETS[OCTO_SCHED_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08,
    0.1,   0.25,   0.5,   1.0,  2.5,  5.0,  10.0, 30.0,
};

void octo_sched_buckets_init(octo_sched_stats *st)
{
    st->n_buckets = OCTO_SCHED_BUCKETS;
    memcpy(st->bucket_le, BUCKETS, sizeof BUCKETS);
}

void octo_sched_observe(const octo_sched_stats *st, int64_t *count, int64_t *total,
                        double *sum, double v)
{
    for (int i = 0; i < st->n_buckets; i++) {
        if (v <= st->bucket_le[i]) count[i]++;
    }
    (*total)++;
    *sum += v;
}

/* ==== intrusive lists ==== */

void octo_sched_list_push_back(req_list *l, octo_sched_req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail) l->tail->next = r;
    else l->head = r;
    l->tail = r;
    l->n++;
}

void octo_sched_list_push_front(req_list *l, octo_sched_req *r)
{
    r->prev = NULL;
    r->next = l->head;
    if (l->head) l->head->prev = r;
    else l->tail = r;
    l->head = r;
    l->n++;
}

void octo_sched_list_remove(req_list *l, octo_sched_req *r)
{
    if (r->prev) r->prev->next = r->next;
    else l->head = r->next;
    if (r->next) r->next->prev = r->prev;
    else l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

const char *octo_finish_name(octo_finish f)
{
    switch (f) {
    case OCTO_FINISH_STOP: return "stop";
    case OCTO_FINISH_LENGTH: return "length";
    case OCTO_FINISH_CANCELLED: return "cancelled";
    case OCTO_FINISH_TIMEOUT: return "timeout";
    case OCTO_FINISH_ERROR: return "error";
    case OCTO_FINISH_NONE: break;
    }
    return "";
}
