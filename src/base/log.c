/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log — levelled log lines on stderr: time, level, function and the request
 * id of the calling thread. Not a structured-logging framework.
 */
#include "base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int g_level = OCTO_LOG_LEVEL_INFO;
static _Thread_local char t_request_id[64];
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;

void octo_log_set_level(octo_log_level lvl) { atomic_store(&g_level, (int)lvl); }
octo_log_level octo_log_get_level(void) { return (octo_log_level)atomic_load(&g_level); }

octo_err octo_log_level_parse(const char *s, octo_log_level *lvl)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, names[i]) == 0) {
            *lvl = (octo_log_level)i;
            return OCTO_OK;
        }
    }
    return OCTO_E_INVALID;
}

void octo_log_set_request_id(const char *id)
{
    if (!id) {
        t_request_id[0] = '\0';
        return;
    }
    octo_strlcpy(t_request_id, id, sizeof t_request_id);
}

void octo_log_write(octo_log_level lvl, const char *func, const char *fmt, ...)
{
    static const char *tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if ((int)lvl < atomic_load(&g_level) || lvl >= OCTO_LOG_LEVEL_OFF) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    pthread_mutex_lock(&g_log_mu);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s%s%s: %s\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
            tm.tm_sec, ts.tv_nsec / 1000000, tags[lvl], func,
            t_request_id[0] ? " " : "", t_request_id, msg);
    pthread_mutex_unlock(&g_log_mu);
}
