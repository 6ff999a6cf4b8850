/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_rag_bench — retrieval latency of the knowledge store at scale:
 * N segments with DIM-dimensional unit vectors (seeded random) in one
 * dataset, then Q semantic queries through octo_rag_retrieve (top_k 10),
 * each checked against a brute-force top 10 computed here. Prints one JSON
 * line: the insert time, the first query (which loads the vectors), p50
 * and p99 of the rest, and recall@10 against the brute force.
 *
 * usage: tool_rag_bench N DIM Q DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rag/rag_int.h"

static size_t g_dim;
static uint64_t g_seed = 88172645463325252ull;

static uint64_t xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void rand_unit(uint64_t *s, float *v, size_t dim)
{
    double ss = 0;
    for (size_t i = 0; i < dim; i++) {
        v[i] = (float)((double)(xs(s) >> 11) / 9007199254740992.0 - 0.5);
        ss += (double)v[i] * v[i];
    }
    for (size_t i = 0; i < dim; i++) v[i] = (float)(v[i] / sqrt(ss));
}

/* Queries: "q<seed>" gives the vector of that seed. */
static octo_err fake_embed(void *ctx, const char *const *texts, const size_t *lens, size_t n,
                           bool is_query, float *out, char *err, size_t err_size)
{
    (void)ctx;
    (void)lens;
    (void)is_query;
    (void)err;
    (void)err_size;
    for (size_t i = 0; i < n; i++) {
        uint64_t s = strtoull(texts[i] + 1, NULL, 10) * 2654435761ull + 1;
        rand_unit(&s, out + i * g_dim, g_dim);
    }
    return OCTO_OK;
}

static int by_f(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: tool_rag_bench N DIM Q DIR\n");
        return 2;
    }
    size_t n = strtoul(argv[1], NULL, 10), q = strtoul(argv[3], NULL, 10);
    g_dim = strtoul(argv[2], NULL, 10);
    octo_rag_models m = {.embed_name = "bench", .embed_dim = (int64_t)g_dim,
                         .embed = fake_embed};
    octo_rag_opts o = {.dir = argv[4], .models = &m};
    octo_rag *r = NULL;
    char err[256];
    if (octo_rag_open(&o, &r, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    octo_rag_status st;
    json_t *b = json_pack("{s:s, s:s}", "name", "bench", "indexing_technique", "high_quality");
    json_t *ds = octo_rag_dataset_create(r, "bench", b, &st);
    json_decref(b);
    const char *dsid = json_string_value(json_object_get(ds, "id"));
    b = json_pack("{s:s, s:s}", "name", "seed.txt", "text", "q0");
    json_t *doc = octo_rag_document_create_text(r, "bench", dsid, b, &st);
    json_decref(b);
    octo_rag_drain(r);
    const char *docid = json_string_value(json_object_get(json_object_get(doc, "document"),
                                                          "id"));
    float *all = malloc(n * g_dim * sizeof *all);
    if (!all) return 1;
    double t0 = octo_now();
    rag_exec(r, "BEGIN");
    sqlite3_stmt *s = rag_prep(r, "INSERT INTO segments(id, dataset_id, document_id, position, "
                                  "content, status, created_at, embedding) VALUES (?, ?, ?, ?, "
                                  "?, 'completed', 0, ?)");
    for (size_t i = 0; i < n; i++) {
        char id[40], content[32];
        snprintf(id, sizeof id, "bench-%zu", i);
        snprintf(content, sizeof content, "segment %zu", i);
        uint64_t seed = g_seed + i * 7919;
        rand_unit(&seed, all + i * g_dim, g_dim);
        sqlite3_reset(s);
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, dsid);
        rag_bind_text(s, 3, docid);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)i + 2);
        rag_bind_text(s, 5, content);
        sqlite3_bind_blob(s, 6, all + i * g_dim, (int)(g_dim * sizeof(float)), SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) {
            fprintf(stderr, "insert: %s\n", sqlite3_errmsg(r->db));
            return 1;
        }
    }
    sqlite3_finalize(s);
    rag_exec(r, "COMMIT");
    double t_insert = octo_now() - t0;
    double *lat = calloc(q + 1, sizeof *lat);
    size_t hits = 0, total = 0;
    float *qv = malloc(g_dim * sizeof *qv);
    for (size_t k = 0; k <= q; k++) {
        char qt[32];
        snprintf(qt, sizeof qt, "q%zu", k + 1);
        b = json_pack("{s:s, s:{s:s, s:i}}", "query", qt, "retrieval_model", "search_method",
                      "semantic_search", "top_k", 10);
        double t1 = octo_now();
        json_t *res = octo_rag_retrieve(r, "bench", dsid, b, &st);
        lat[k] = octo_now() - t1;
        json_decref(b);
        if (!res) {
            fprintf(stderr, "retrieve: %s\n", st.message);
            return 1;
        }
        /* brute force top 10 of the generated vectors */
        uint64_t sd = strtoull(qt + 1, NULL, 10) * 2654435761ull + 1;
        rand_unit(&sd, qv, g_dim);
        size_t best[10];
        double bs[10];
        for (int j = 0; j < 10; j++) bs[j] = -2, best[j] = 0;
        for (size_t i = 0; i < n; i++) {
            double d = 0;
            for (size_t c = 0; c < g_dim; c++) d += (double)all[i * g_dim + c] * qv[c];
            if (d <= bs[9]) continue;
            int j = 9;
            while (j > 0 && bs[j - 1] < d) {
                bs[j] = bs[j - 1];
                best[j] = best[j - 1];
                j--;
            }
            bs[j] = d;
            best[j] = i;
        }
        json_t *recs = json_object_get(res, "records");
        for (int j = 0; j < 10; j++) {
            char want[40];
            snprintf(want, sizeof want, "bench-%zu", best[j]);
            for (size_t x = 0; x < json_array_size(recs); x++) {
                const char *id = json_string_value(json_object_get(
                    json_object_get(json_array_get(recs, x), "segment"), "id"));
                if (id && !strcmp(id, want)) {
                    hits++;
                    break;
                }
            }
            total++;
        }
        json_decref(res);
    }
    double first = lat[0];
    qsort(lat + 1, q, sizeof *lat, by_f);
    printf("{\"segments\": %zu, \"dim\": %zu, \"queries\": %zu, \"insert_s\": %.2f, "
           "\"first_query_ms\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, "
           "\"recall_at_10_vs_brute_force\": %.4f}\n", n, g_dim, q, t_insert, first * 1e3,
           lat[1 + q / 2] * 1e3, lat[1 + (size_t)((double)(q - 1) * 0.99)] * 1e3,
           (double)hits / (double)total);
    json_decref(doc);
    json_decref(ds);
    free(all);
    free(lat);
    free(qv);
    octo_rag_free(r);
    return 0;
}
