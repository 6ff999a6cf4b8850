/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched_int — the scheduler's private structures, shared by the step loop
 * (sched.c) and the request streams (sched_req.c). No other module
 * includes this.
 *
 * Locks: each request has a mutex guarding its event queue and its two
 * references (consumer, engine); the scheduler has one guarding the
 * waiting queue, the published statistics and the shutdown flag. The
 * engine thread never takes a request's lock while it holds the
 * scheduler's, and the consumer side never takes the scheduler's lock
 * while it holds a request's, so the two never nest.
 */
#ifndef OCTO_SCHED_INT_H
#define OCTO_SCHED_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine_int.h"

struct octo_sched_req {
    /* ---- shared with the consumer, under mu ---- */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    octo_sched_event *ev;        /* ring of events not yet taken */
    int64_t ev_head, ev_len, ev_cap;
    bool final_pushed;           /* the last event is in the ring (or was taken) */
    bool consumer_ref, engine_ref;
    atomic_bool cancelled;       /* set by the consumer, read by the engine */

    /* ---- engine side (the submitting thread fills them before queueing) ---- */
    octo_sched_req *prev, *next; /* in the waiting queue or the running list */
    int32_t *prompt;             /* freed once the sequence exists */
    int64_t n_prompt, max_tokens;
    octo_sampling_params params; /* logit_bias points into bias */
    octo_logit_bias *bias;
    octo_engine_seq *seq;        /* created at first admission */
    double t_submit, t_last, deadline; /* deadline 0: none */
    double ttft;                 /* -1 until the first token */
    int64_t n_generated, cached_tokens;
    int64_t item;                /* index in this step's items, -1 when none */
    int32_t prompt_lp;           /* prompt logprobs asked: -1 none, else top k */
    int64_t lp_next;             /* next position whose row gives a prompt logprob */
    bool admitted_once;
};

typedef struct req_list {
    octo_sched_req *head, *tail;
    int64_t n;
} req_list;

struct octo_sched {
    octo_engine *e;
    int64_t max_seqs, max_batched, max_waiting, max_len, vocab;
    bool prefix_caching;
    double timeout_s;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* ---- under mu ---- */
    bool shutdown;
    req_list waiting;            /* FIFO; preempted requests go to its front */
    octo_sched_stats pub;        /* published after each step */

    /* ---- engine thread only ---- */
    req_list running;            /* admission order, oldest first */
    octo_sched_stats st;         /* counters being updated */
    octo_engine_item *items;
    octo_sched_req **item_req;
    int64_t n_items, cap_items;
    int64_t lp_rows_left;        /* this step's rows for prompt logprobs still free */
    float *logits;               /* [cap_rows, vocab] */
    int64_t cap_rows;
    int32_t *ids;                /* [cap_ids]: tokens sampled on the device */
    int64_t cap_ids;
};

/* sched_req.c */
/* A new request with both references held; NULL when out of memory. */
octo_sched_req *octo_sched_req_alloc(void);
/* Appends an event and wakes the consumer; a final event (finish != NONE)
 * also drops the engine's reference, after which the engine must not
 * touch r. OCTO_E_NOMEM when the ring cannot grow (a final event always
 * goes through: it replaces the newest queued event if it must). */
octo_err octo_sched_req_push(octo_sched_req *r, const octo_sched_event *ev) OCTO_WUR;
/* Histogram buckets (shared by TTFT and inter-token latency). */
void octo_sched_buckets_init(octo_sched_stats *st);
void octo_sched_observe(const octo_sched_stats *st, int64_t *count, int64_t *total,
                        double *sum, double v);

void octo_sched_list_push_back(req_list *l, octo_sched_req *r);
void octo_sched_list_push_front(req_list *l, octo_sched_req *r);
void octo_sched_list_remove(req_list *l, octo_sched_req *r);

#endif /* OCTO_SCHED_INT_H */
