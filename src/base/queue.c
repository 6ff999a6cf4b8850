/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue — a bounded FIFO of pointers guarded by a mutex and a condition
 * variable; the hand-off between HTTP workers and engine threads. Not
 * lock-free and not a priority queue.
 */
#include "base.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

struct octo_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void **items;
    size_t cap, head, len;
    bool closed;
};

octo_queue *octo_queue_new(size_t capacity)
{
    if (!capacity) return NULL;
    octo_queue *q = octo_calloc(1, sizeof *q);
    if (!q) return NULL;
    q->items = octo_calloc(capacity, sizeof *q->items);
    if (!q->items) {
        octo_free(q);
        return NULL;
    }
    q->cap = capacity;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

void octo_queue_free(octo_queue *q)
{
    if (!q) return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    octo_free(q->items);
    octo_free(q);
}

octo_err octo_queue_push(octo_queue *q, void *item)
{
    octo_err rc = OCTO_OK;
    pthread_mutex_lock(&q->mu);
    if (q->closed) rc = OCTO_E_CLOSED;
    else if (q->len == q->cap) rc = OCTO_E_BUSY;
    else {
        q->items[(q->head + q->len) % q->cap] = item;
        q->len++;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

octo_err octo_queue_pop(octo_queue *q, double timeout_s, void **item)
{
    struct timespec deadline;
    if (timeout_s >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        double whole = floor(timeout_s);
        deadline.tv_sec += (time_t)whole;
        deadline.tv_nsec += (long)((timeout_s - whole) * 1e9);
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    octo_err rc = OCTO_OK;
    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed) {
        int r = timeout_s >= 0 ? pthread_cond_timedwait(&q->cv, &q->mu, &deadline)
                               : pthread_cond_wait(&q->cv, &q->mu);
        if (r == ETIMEDOUT && q->len == 0) {
            rc = OCTO_E_TIMEOUT;
            goto out;
        }
    }
    if (q->len == 0) {
        rc = OCTO_E_CLOSED;
        goto out;
    }
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void octo_queue_close(octo_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t octo_queue_len(octo_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}
