/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_search — retrieval over one dataset, Dify's retrieval_model:
 *
 *   semantic_search   exact cosine of the query vector with every segment
 *                     vector (one BLAS sgemv over the dataset's cache);
 *   full_text_search  FTS5 BM25 over octo's tokens, normalised by the
 *                     query's best match (the top hit scores 1);
 *   keyword_search    share of the query's keywords a segment carries;
 *   hybrid_search     both candidate lists, fused by weights
 *                     (vector_weight * cosine + keyword_weight * BM25 share,
 *                     0.7 / 0.3 by default) or by reciprocal-rank fusion
 *                     (reranking_mode "reciprocal_rank_fusion", k = 60);
 *   reranking         any method's candidates re-scored by the reranker.
 *
 * score_threshold is applied to the final score (after rerank or fusion),
 * then exactly top_k records are kept (fewer only when fewer pass).
 * Metadata filters and the document state (completed, enabled) are SQL
 * conditions on the candidate set, so they never shrink top_k.
 */
#include "rag_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<cblas.h>)
#include <cblas.h>
#define HAVE_BLAS 1
#else
#define HAVE_BLAS 0
#endif

#define RRF_K 60.0
#define CANDIDATES 100 /* per method before fusion or rerank */

typedef enum method { M_SEMANTIC, M_FULLTEXT, M_KEYWORD, M_HYBRID } method;

typedef struct query {
    method m;
    long top_k;
    bool threshold_on, rerank, rrf;
    double threshold, wv, wk;
    const json_t *filters; /* metadata_filtering_conditions or NULL */
} query;

typedef struct cand {
    int64_t rid;            /* a segment, or -rowid of a child chunk */
    int64_t parent;         /* the segment it belongs to (itself for a segment) */
    double sem, ft, score;
    int sem_rank, ft_rank;
} cand;

/* ==== parameters ==== */

static const char *const k_str_ops[] = {"contains", "not contains", "start with", "end with",
                                        "is", "is not", "empty", "not empty", NULL};
static const char *const k_num_ops[] = {"=", "≠", ">", "<", "≥", "≤", "empty", "not empty",
                                        NULL};
static const char *const k_time_ops[] = {"before", "after", "empty", "not empty", NULL};

static bool in_list(const char *s, const char *const *l)
{
    for (size_t i = 0; l[i]; i++)
        if (!strcmp(s, l[i])) return true;
    return false;
}

static bool check_filters(const json_t *f, octo_rag_status *st)
{
    if (!json_is_object(f))
        return rag_fail(st, 400, "invalid_param", "metadata_filtering_conditions must be an "
                        "object {logical_operator, conditions}"), false;
    const json_t *lo = json_object_get(f, "logical_operator");
    if (lo && !json_is_null(lo) && (!json_is_string(lo) ||
        (strcmp(json_string_value(lo), "and") && strcmp(json_string_value(lo), "or"))))
        return rag_fail(st, 400, "invalid_param", "logical_operator must be 'and' or 'or'"),
               false;
    const json_t *cs = json_object_get(f, "conditions");
    if (!json_is_array(cs))
        return rag_fail(st, 400, "invalid_param", "metadata_filtering_conditions.conditions "
                        "must be a list"), false;
    size_t i;
    const json_t *c;
    json_array_foreach(cs, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *op = json_string_value(json_object_get(c, "comparison_operator"));
        if (!name || !op || (!in_list(op, k_str_ops) && !in_list(op, k_num_ops) &&
                             !in_list(op, k_time_ops)))
            return rag_fail(st, 400, "invalid_param", "conditions[%zu]: name and a "
                            "comparison_operator of Dify's (contains, not contains, start "
                            "with, end with, is, is not, empty, not empty, =, ≠, >, <, ≥, ≤, "
                            "before, after) are required", i), false;
        const json_t *v = json_object_get(c, "value");
        bool unary = !strcmp(op, "empty") || !strcmp(op, "not empty");
        if (!unary && !json_is_string(v) && !json_is_number(v))
            return rag_fail(st, 400, "invalid_param", "conditions[%zu].value must be a string "
                            "or a number for '%s'", i, op), false;
    }
    return true;
}

static bool read_query(const octo_rag *r, const json_t *rm, bool has_vectors, query *q,
                       octo_rag_status *st)
{
    *q = (query){.m = has_vectors ? M_SEMANTIC : M_KEYWORD, .top_k = 4, .wv = 0.7, .wk = 0.3};
    if (!rm || json_is_null(rm)) return true;
    if (!json_is_object(rm))
        return rag_fail(st, 400, "invalid_param", "retrieval_model must be an object"), false;
    const json_t *v = json_object_get(rm, "search_method");
    if (v && !json_is_null(v)) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (!strcmp(s, "semantic_search")) q->m = M_SEMANTIC;
        else if (!strcmp(s, "full_text_search")) q->m = M_FULLTEXT;
        else if (!strcmp(s, "keyword_search")) q->m = M_KEYWORD;
        else if (!strcmp(s, "hybrid_search")) q->m = M_HYBRID;
        else return rag_fail(st, 400, "invalid_param", "search_method must be "
                             "'semantic_search', 'full_text_search', 'hybrid_search' or "
                             "'keyword_search'"), false;
    }
    v = json_object_get(rm, "top_k");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > RAG_MAX_TOP_K)
            return rag_fail(st, 400, "invalid_param", "top_k must be an integer in 1..%d",
                            RAG_MAX_TOP_K), false;
        q->top_k = (long)json_integer_value(v);
    }
    v = json_object_get(rm, "score_threshold_enabled");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return rag_fail(st, 400, "invalid_param", "score_threshold_enabled must be a boolean"),
               false;
    q->threshold_on = json_is_true(v);
    v = json_object_get(rm, "score_threshold");
    if (q->threshold_on) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
            return rag_fail(st, 400, "invalid_param", "score_threshold must be a number in "
                            "0..1 when score_threshold_enabled is true"), false;
        q->threshold = json_number_value(v);
    }
    v = json_object_get(rm, "reranking_enable");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return rag_fail(st, 400, "invalid_param", "reranking_enable must be a boolean"), false;
    const json_t *mode = json_object_get(rm, "reranking_mode");
    const char *ms = json_is_string(mode) ? json_string_value(mode) : NULL;
    if (mode && !json_is_null(mode) &&
        (!ms || (strcmp(ms, "reranking_model") && strcmp(ms, "weighted_score") &&
                 strcmp(ms, "reciprocal_rank_fusion"))))
        return rag_fail(st, 400, "invalid_param", "reranking_mode must be 'reranking_model', "
                        "'weighted_score' or 'reciprocal_rank_fusion'"), false;
    q->rerank = json_is_true(v) && (!ms || !strcmp(ms, "reranking_model"));
    q->rrf = ms && !strcmp(ms, "reciprocal_rank_fusion");
    if (q->rerank) {
        const json_t *mm = json_object_get(rm, "reranking_model");
        const char *name = json_string_value(json_object_get(mm, "reranking_model_name"));
        if (!r->m.rerank)
            return rag_fail(st, 400, "invalid_param", "reranking is enabled but no reranker "
                            "is configured (knowledge.rerank_model)"), false;
        if (name && *name && r->m.rerank_name && strcmp(name, r->m.rerank_name))
            return rag_fail(st, 400, "invalid_param", "reranking_model_name must be the "
                            "configured reranker '%s'", r->m.rerank_name), false;
    }
    const json_t *w = json_object_get(rm, "weights");
    if (w && !json_is_null(w)) {
        const json_t *vw = json_object_get(json_object_get(w, "vector_setting"), "vector_weight");
        const json_t *kw = json_object_get(json_object_get(w, "keyword_setting"),
                                           "keyword_weight");
        if (!json_is_number(vw) || !json_is_number(kw) || json_number_value(vw) < 0 ||
            json_number_value(kw) < 0 || json_number_value(vw) > 1 || json_number_value(kw) > 1)
            return rag_fail(st, 400, "invalid_param", "weights needs vector_setting."
                            "vector_weight and keyword_setting.keyword_weight in 0..1"), false;
        q->wv = json_number_value(vw);
        q->wk = json_number_value(kw);
    }
    v = json_object_get(rm, "metadata_filtering_conditions");
    if (v && !json_is_null(v)) {
        if (!check_filters(v, st)) return false;
        q->filters = v;
    }
    if (!has_vectors && (q->m == M_SEMANTIC || q->m == M_HYBRID))
        return rag_fail(st, 400, "invalid_param", "semantic and hybrid search need a "
                        "'high_quality' dataset with an embedding model; this one has none "
                        "(use full_text_search or keyword_search)"), false;
    return true;
}

bool rag_retrieval_check(const octo_rag *r, const json_t *rm, octo_rag_status *st)
{
    query q;
    return read_query(r, rm, true, &q, st);
}

/* ==== the candidate filter: state and metadata, in SQL ==== */

/* Appends the metadata condition of one filter to b, binding nothing:
 * values go to binds[] in order. */
static octo_err cond_sql(const json_t *c, octo_buf *b, const json_t **binds, size_t *nb)
{
    const char *op = json_string_value(json_object_get(c, "comparison_operator"));
    const json_t *v = json_object_get(c, "value");
    const char *pre = "EXISTS (SELECT 1 FROM document_metadata m JOIN metadata_fields f ON "
                      "f.id = m.field_id WHERE m.document_id = d.id AND f.name = ? AND ";
    binds[(*nb)++] = json_object_get(c, "name");
    if (!strcmp(op, "empty") || !strcmp(op, "not empty")) {
        (*nb)--;
        octo_err rc = octo_buf_printf(b, "%s EXISTS (SELECT 1 FROM document_metadata m JOIN "
                                      "metadata_fields f ON f.id = m.field_id WHERE "
                                      "m.document_id = d.id AND f.name = ? AND m.value <> '')",
                                      !strcmp(op, "empty") ? "NOT" : "");
        binds[(*nb)++] = json_object_get(c, "name");
        return rc;
    }
    static const struct {
        const char *op, *sql;
    } k_ops[] = {
        {"contains", "instr(m.value, ?) > 0"}, {"not contains", "instr(m.value, ?) = 0"},
        {"start with", "substr(m.value, 1, length(?1x)) = ?1x"},
        {"end with", "substr(m.value, -length(?1x)) = ?1x"},
        {"is", "m.value = ?"}, {"is not", "m.value <> ?"},
        {"=", "CAST(m.value AS REAL) = CAST(? AS REAL)"},
        {"≠", "CAST(m.value AS REAL) <> CAST(? AS REAL)"},
        {">", "CAST(m.value AS REAL) > CAST(? AS REAL)"},
        {"<", "CAST(m.value AS REAL) < CAST(? AS REAL)"},
        {"≥", "CAST(m.value AS REAL) >= CAST(? AS REAL)"},
        {"≤", "CAST(m.value AS REAL) <= CAST(? AS REAL)"},
        {"before", "CAST(m.value AS REAL) < CAST(? AS REAL)"},
        {"after", "CAST(m.value AS REAL) > CAST(? AS REAL)"},
    };
    for (size_t i = 0; i < sizeof k_ops / sizeof k_ops[0]; i++) {
        if (strcmp(op, k_ops[i].op)) continue;
        octo_err rc = octo_buf_puts(b, pre);
        if (rc) return rc;
        if (strstr(k_ops[i].sql, "?1x")) { /* the value appears twice */
            const char *sql = k_ops[i].sql;
            for (const char *p = sql; *p && !rc; p++) {
                if (p[0] == '?' && p[1] == '1' && p[2] == 'x') {
                    rc = octo_buf_puts(b, "?");
                    binds[(*nb)++] = v;
                    p += 2;
                } else {
                    rc = octo_buf_append(b, p, 1);
                }
            }
        } else {
            rc = octo_buf_puts(b, k_ops[i].sql);
            binds[(*nb)++] = v;
        }
        return rc ? rc : octo_buf_puts(b, ")");
    }
    return OCTO_E_INVALID;
}

#define MAX_BINDS 256

typedef struct filter {
    octo_buf sql;           /* conditions on s (segments) and d (documents) */
    octo_buf dsql;          /* the same on d alone (the vector cache holds the segment state) */
    const json_t *binds[MAX_BINDS];
    size_t nb;
} filter;

static octo_err filter_meta(const query *q, filter *f, octo_buf *b);

static octo_err filter_build(const query *q, filter *f)
{
    octo_buf_init(&f->sql, 1u << 20);
    octo_buf_init(&f->dsql, 1u << 20);
    f->nb = 0;
    octo_err rc = octo_buf_puts(&f->sql, "s.status = 'completed' AND s.enabled = 1 AND ");
    octo_buf meta;
    octo_buf_init(&meta, 1u << 20);
    if (!rc) rc = octo_buf_puts(&meta, "d.indexing_status = 'completed' AND d.enabled = 1");
    if (!rc) rc = filter_meta(q, f, &meta);
    if (!rc) rc = octo_buf_append(&f->sql, meta.data, meta.len);
    if (!rc) rc = octo_buf_append(&f->dsql, meta.data, meta.len);
    octo_buf_deinit(&meta);
    return rc;
}

/* The metadata conditions of q appended to b (binds into f). */
static octo_err filter_meta(const query *q, filter *f, octo_buf *b)
{
    octo_err rc = OCTO_OK;
    if (!q->filters) return rc;
    const json_t *cs = json_object_get(q->filters, "conditions");
    const char *lo = json_string_value(json_object_get(q->filters, "logical_operator"));
    bool any = lo && !strcmp(lo, "or");
    if (json_array_size(cs) == 0) return OCTO_OK;
    if (json_array_size(cs) * 2 > MAX_BINDS - 8) return OCTO_E_TOO_LARGE;
    rc = octo_buf_puts(b, " AND (");
    size_t i;
    const json_t *c;
    json_array_foreach(cs, i, c) {
        if (!rc && i) rc = octo_buf_puts(b, any ? " OR " : " AND ");
        if (!rc) rc = cond_sql(c, b, f->binds, &f->nb);
    }
    return rc ? rc : octo_buf_puts(b, ")");
}

static void bind_json(sqlite3_stmt *s, int i, const json_t *v)
{
    if (json_is_string(v)) rag_bind_text(s, i, json_string_value(v));
    else if (json_is_integer(v)) sqlite3_bind_int64(s, i, json_integer_value(v));
    else if (json_is_real(v)) sqlite3_bind_double(s, i, json_real_value(v));
    else sqlite3_bind_null(s, i);
}

static void filter_bind(sqlite3_stmt *s, int first, const filter *f)
{
    for (size_t i = 0; i < f->nb; i++) bind_json(s, first + (int)i, f->binds[i]);
}

/* Which of the cache's documents pass the filter: ok[v->n_docs] (locked). */
static octo_err allowed_docs(octo_rag *r, const char *dataset, const filter *f,
                             const rag_vecs *v, bool **out)
{
    octo_buf sql;
    octo_buf_init(&sql, 1u << 20);
    octo_err rc = octo_buf_printf(&sql, "SELECT d.id FROM documents d WHERE d.dataset_id = ? "
                                  "AND %s", f->dsql.data);
    sqlite3_stmt *s = rc ? NULL : rag_prep(r, sql.data);
    octo_buf_deinit(&sql);
    *out = octo_calloc(v->n_docs ? v->n_docs : 1, sizeof **out);
    if (!s || !*out) {
        sqlite3_finalize(s);
        return rc ? rc : s ? OCTO_E_NOMEM : OCTO_E_IO;
    }
    rag_bind_text(s, 1, dataset);
    filter_bind(s, 2, f);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *id = rag_col_text(s, 0);
        for (size_t i = 0; i < v->n_docs; i++)
            if (!strcmp(v->docs[i], id)) (*out)[i] = true;
    }
    sqlite3_finalize(s);
    return OCTO_OK;
}

static bool rid_in(const int64_t *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo] == x;
}

static int by_rid(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ==== candidate lists ==== */

typedef struct cands {
    cand *v;
    size_t n, cap;
} cands;

static cand *cands_find(cands *c, int64_t rid)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].rid == rid) return &c->v[i];
    return NULL;
}

static cand *cands_get(cands *c, int64_t rid)
{
    cand *x = cands_find(c, rid);
    if (x) return x;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        cand *nv = octo_realloc(c->v, cap * sizeof *nv);
        if (!nv) return NULL;
        c->v = nv;
        c->cap = cap;
    }
    c->v[c->n] = (cand){.rid = rid};
    return &c->v[c->n++];
}

typedef struct scored {
    float s;
    size_t i;
} scored;

static int by_s(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/* A bounded min-heap of the best scores seen. */
static void heap_push(scored *h, size_t *n, size_t cap, scored x)
{
    if (*n == cap) {
        if (x.s <= h[0].s) return;
        h[0] = x; /* replace the worst and sift down */
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, m = i;
            if (l < *n && h[l].s < h[m].s) m = l;
            if (l + 1 < *n && h[l + 1].s < h[m].s) m = l + 1;
            if (m == i) return;
            scored t = h[i];
            h[i] = h[m];
            h[m] = t;
            i = m;
        }
    }
    size_t i = (*n)++;
    h[i] = x;
    while (i > 0 && h[(i - 1) / 2].s > h[i].s) {
        scored t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Semantic: cosine of every vector (one sgemv), the best `want` of the
 * documents that pass the filter; candidates already found by full text
 * get their cosine too (hybrid). */
static octo_err semantic(octo_rag *r, const char *dataset, const float *qv, const filter *f,
                         size_t want, cands *c)
{
    rag_vecs *v = rag_vecs_get(r, dataset);
    if (!v || v->n == 0) return OCTO_OK;
    size_t n = v->n, dim = (size_t)r->m.embed_dim, m = 0;
    bool *ok = NULL;
    octo_err rc = allowed_docs(r, dataset, f, v, &ok);
    float *sc = rc ? NULL : octo_malloc(n * sizeof *sc);
    scored *heap = rc ? NULL : octo_malloc((want ? want : 1) * sizeof *heap);
    int64_t *need = rc ? NULL : octo_malloc((c->n ? c->n : 1) * sizeof *need);
    if (!rc && (!sc || !heap || !need)) rc = OCTO_E_NOMEM;
    if (rc) goto out;
#if HAVE_BLAS
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)dim, 1.0f, v->v, (int)dim, qv, 1,
                0.0f, sc, 1);
#else
    for (size_t i = 0; i < n; i++) {
        float acc = 0;
        for (size_t k = 0; k < dim; k++) acc += v->v[i * dim + k] * qv[k];
        sc[i] = acc;
    }
#endif
    size_t n_need = 0;
    for (size_t i = 0; i < c->n; i++) need[n_need++] = c->v[i].rid;
    qsort(need, n_need, sizeof *need, by_rid);
    for (size_t i = 0; i < n; i++) {
        if (!ok[v->doc[i]]) continue;
        heap_push(heap, &m, want, (scored){sc[i], i});
        if (n_need && rid_in(need, n_need, v->rid[i])) {
            cand *x = cands_find(c, v->rid[i]);
            if (x) x->sem = sc[i];
        }
    }
    qsort(heap, m, sizeof *heap, by_s);
    for (size_t i = 0; i < m && !rc; i++) {
        cand *x = cands_get(c, v->rid[heap[i].i]);
        if (!x) rc = OCTO_E_NOMEM;
        else {
            x->sem = heap[i].s;
            x->sem_rank = (int)i + 1;
        }
    }
out:
    octo_free(ok);
    octo_free(sc);
    octo_free(heap);
    octo_free(need);
    return rc;
}

static octo_err fulltext(octo_rag *r, const char *dataset, const char *q, const filter *f,
                         size_t want, cands *c)
{
    octo_buf m, sql;
    octo_buf_init(&m, RAG_MAX_QUERY_BYTES * 8);
    octo_buf_init(&sql, 1u << 20);
    octo_err rc = rag_fts_query(q, strlen(q), &m);
    if (rc || m.len == 0) goto out;
    /* a negative rowid is a child chunk: its parent carries the state */
    rc = octo_buf_printf(&sql, "SELECT segments_fts.rowid, -bm25(segments_fts) AS b FROM "
                         "segments_fts LEFT JOIN child_chunks c ON segments_fts.rowid < 0 AND "
                         "c.rid = -segments_fts.rowid JOIN segments s ON s.rid = "
                         "segments_fts.rowid OR s.id = c.segment_id JOIN documents d ON d.id = "
                         "s.document_id WHERE segments_fts MATCH ? AND s.dataset_id = ? AND %s "
                         "ORDER BY b DESC LIMIT %zu", f->sql.data, want);
    if (rc) goto out;
    sqlite3_stmt *s = rag_prep(r, sql.data);
    if (!s) {
        rc = OCTO_E_IO;
        goto out;
    }
    rag_bind_text(s, 1, m.data);
    rag_bind_text(s, 2, dataset);
    filter_bind(s, 3, f);
    double top = 0;
    int rank = 0;
    while (sqlite3_step(s) == SQLITE_ROW && !rc) {
        double b = sqlite3_column_double(s, 1);
        if (rank == 0) top = b > 0 ? b : 1;
        cand *x = cands_get(c, sqlite3_column_int64(s, 0));
        if (!x) rc = OCTO_E_NOMEM;
        else {
            x->ft = b > 0 ? b / top : 0;
            x->ft_rank = ++rank;
        }
    }
    sqlite3_finalize(s);
out:
    octo_buf_deinit(&sql);
    octo_buf_deinit(&m);
    return rc;
}

static octo_err keyword(octo_rag *r, const char *dataset, const char *q, const filter *f,
                        size_t want, cands *c)
{
    json_t *kw = rag_keywords(q, strlen(q), 32);
    size_t nk = json_array_size(kw);
    octo_buf sql;
    octo_buf_init(&sql, 1u << 20);
    octo_err rc = OCTO_OK;
    if (nk == 0) goto out;
    rc = octo_buf_puts(&sql, "SELECT k.segment_rid, count(DISTINCT k.keyword) AS n FROM "
                       "keywords k JOIN segments s ON s.rid = k.segment_rid JOIN documents d "
                       "ON d.id = s.document_id WHERE k.dataset_id = ? AND k.keyword IN (");
    for (size_t i = 0; i < nk && !rc; i++) rc = octo_buf_puts(&sql, i ? ", ?" : "?");
    if (!rc) rc = octo_buf_printf(&sql, ") AND %s GROUP BY k.segment_rid ORDER BY n DESC, "
                                  "k.segment_rid LIMIT %zu", f->sql.data, want);
    if (rc) goto out;
    sqlite3_stmt *s = rag_prep(r, sql.data);
    if (!s) {
        rc = OCTO_E_IO;
        goto out;
    }
    rag_bind_text(s, 1, dataset);
    for (size_t i = 0; i < nk; i++) bind_json(s, 2 + (int)i, json_array_get(kw, i));
    filter_bind(s, 2 + (int)nk, f);
    while (sqlite3_step(s) == SQLITE_ROW && !rc) {
        cand *x = cands_get(c, sqlite3_column_int64(s, 0));
        if (!x) rc = OCTO_E_NOMEM;
        else x->ft = (double)sqlite3_column_int64(s, 1) / (double)nk;
    }
    sqlite3_finalize(s);
out:
    octo_buf_deinit(&sql);
    json_decref(kw);
    return rc;
}

static int by_score(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->rid < y->rid ? -1 : (x->rid > y->rid);
}

/* ==== records ==== */

static json_t *child_json(octo_rag *r, const cand *c)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT id, content, position FROM child_chunks WHERE "
                                  "rid = ?");
    json_t *j = NULL;
    if (!s) return NULL;
    sqlite3_bind_int64(s, 1, -c->rid);
    if (sqlite3_step(s) == SQLITE_ROW)
        j = json_pack("{s:s, s:s, s:I, s:f}", "id", rag_col_text(s, 0), "content",
                      rag_col_text(s, 1), "position", (json_int_t)sqlite3_column_int64(s, 2),
                      "score", c->score);
    sqlite3_finalize(s);
    return j;
}

/* The record of c's segment (scored by c); a child chunk starts its list. */
static json_t *record(octo_rag *r, const cand *c)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT " RAG_SEG_COLS ", d.id, d.data_source_type, d.name "
                                  "FROM segments s JOIN documents d ON d.id = s.document_id "
                                  "WHERE s.rid = ?");
    json_t *j = NULL;
    if (!s) return NULL;
    sqlite3_bind_int64(s, 1, c->parent);
    if (sqlite3_step(s) == SQLITE_ROW) {
        json_t *seg = rag_segment_json(s);
        json_object_set_new(seg, "document",
                            json_pack("{s:s, s:s, s:s, s:n, s:o}", "id", rag_col_text(s, 14),
                                      "data_source_type", rag_col_text(s, 15), "name",
                                      rag_col_text(s, 16), "doc_type", "doc_metadata",
                                      rag_doc_metadata(r, rag_col_text(s, 14))));
        j = json_pack("{s:o, s:f, s:n, s:[], s:n}", "segment", seg, "score", c->score,
                      "tsne_position", "files", "summary");
        json_t *ch = c->rid < 0 ? child_json(r, c) : NULL;
        json_object_set_new(j, "child_chunks", ch ? json_pack("[o]", ch) : json_array());
    }
    sqlite3_finalize(s);
    return j;
}

/* The segment of every candidate (locked). */
static void find_parents(octo_rag *r, cands *c)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT s.rid FROM child_chunks c JOIN segments s ON s.id = "
                                  "c.segment_id WHERE c.rid = ?");
    for (size_t i = 0; i < c->n; i++) {
        cand *x = &c->v[i];
        x->parent = x->rid;
        if (x->rid > 0 || !s) continue;
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, -x->rid);
        x->parent = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    }
    sqlite3_finalize(s);
}

/* Reranks the candidates (unlocked: the model call may be slow). */
static octo_err rerank(octo_rag *r, const char *query_text, cands *c, char *err, size_t n_err)
{
    if (c->n == 0) return OCTO_OK;
    char **docs = octo_calloc(c->n, sizeof *docs);
    double *sc = octo_calloc(c->n, sizeof *sc);
    octo_err rc = docs && sc ? OCTO_OK : OCTO_E_NOMEM;
    rag_lock(r);
    sqlite3_stmt *s = rc ? NULL : rag_prep(r, "SELECT content FROM segments WHERE rid = ?1 "
                                              "UNION ALL SELECT content FROM child_chunks "
                                              "WHERE rid = -?1");
    for (size_t i = 0; s && i < c->n && !rc; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, c->v[i].rid);
        docs[i] = octo_strdup(sqlite3_step(s) == SQLITE_ROW ? rag_col_text(s, 0) : "");
        if (!docs[i]) rc = OCTO_E_NOMEM;
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (!rc) rc = r->m.rerank(r->m.ctx, query_text, (const char *const *)docs, c->n, sc, err,
                              n_err);
    for (size_t i = 0; !rc && i < c->n; i++) c->v[i].score = sc[i];
    for (size_t i = 0; docs && i < c->n; i++) octo_free(docs[i]);
    octo_free(docs);
    octo_free(sc);
    return rc;
}

json_t *octo_rag_retrieve(octo_rag *r, const char *owner, const char *dataset,
                          const json_t *body, octo_rag_status *st)
{
    const json_t *jq = json_object_get(body, "query");
    if (!json_is_string(jq) || json_string_length(jq) == 0)
        return rag_fail(st, 400, "invalid_param", "query is required (a non-empty string)");
    if (json_string_length(jq) > RAG_MAX_QUERY_BYTES)
        return rag_fail(st, 400, "invalid_param", "query is longer than %d bytes",
                        RAG_MAX_QUERY_BYTES);
    const char *qt = json_string_value(jq);
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "SELECT indexing_technique, retrieval_model FROM datasets "
                                  "WHERE id = ? AND owner = ?");
    bool found = false, hq = false;
    json_t *def = NULL;
    if (s) {
        rag_bind_text(s, 1, dataset);
        rag_bind_text(s, 2, owner);
        if (sqlite3_step(s) == SQLITE_ROW) {
            found = true;
            hq = !strcmp(rag_col_text(s, 0), "high_quality");
            def = rag_col_json(s, 1);
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (!found) {
        json_decref(def);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    const json_t *rm = json_object_get(body, "retrieval_model");
    query q;
    bool ok = read_query(r, rm && !json_is_null(rm) ? rm : json_is_object(def) ? def : NULL,
                         hq && r->m.embed, &q, st);
    json_t *out = NULL;
    if (!ok) {
        json_decref(def);
        return NULL;
    }
    float *qv = NULL;
    char err[300] = "";
    octo_err rc = OCTO_OK;
    if (q.m == M_SEMANTIC || q.m == M_HYBRID) {
        qv = octo_malloc((size_t)r->m.embed_dim * sizeof *qv);
        size_t ql = strlen(qt);
        rc = qv ? r->m.embed(r->m.ctx, &qt, &ql, 1, true, qv, err, sizeof err) : OCTO_E_NOMEM;
        if (rc) {
            octo_free(qv);
            json_decref(def);
            return rag_fail(st, 500, "internal_error", "query embedding failed: %s",
                            err[0] ? err : octo_err_str(rc));
        }
    }
    filter f;
    cands c = {0};
    size_t want = q.rerank || q.m == M_HYBRID ? CANDIDATES
                  : (size_t)(q.top_k > CANDIDATES ? q.top_k : CANDIDATES);
    rc = filter_build(&q, &f);
    rag_lock(r);
    if (!rc && (q.m == M_FULLTEXT || q.m == M_HYBRID)) rc = fulltext(r, dataset, qt, &f, want, &c);
    if (!rc && q.m == M_KEYWORD) rc = keyword(r, dataset, qt, &f, want, &c);
    if (!rc && qv) rc = semantic(r, dataset, qv, &f, want, &c);
    rag_unlock(r);
    for (size_t i = 0; i < c.n; i++) {
        cand *x = &c.v[i];
        if (q.m == M_SEMANTIC) x->score = x->sem;
        else if (q.m == M_FULLTEXT || q.m == M_KEYWORD) x->score = x->ft;
        else if (q.rrf)
            x->score = (x->sem_rank ? 1.0 / (RRF_K + x->sem_rank) : 0) +
                       (x->ft_rank ? 1.0 / (RRF_K + x->ft_rank) : 0);
        else x->score = q.wv * fmax(x->sem, 0) + q.wk * x->ft;
    }
    if (!rc && q.rerank) rc = rerank(r, qt, &c, err, sizeof err);
    if (rc) {
        rag_fail(st, 500, "internal_error", "retrieval failed: %s",
                 err[0] ? err : octo_err_str(rc));
        goto done;
    }
    if (c.n) qsort(c.v, c.n, sizeof *c.v, by_score);
    /* one record per segment, scored by its best unit; a parent lists its
     * matching child chunks, best first */
    json_t *recs = json_array();
    int64_t *owner_rid = octo_calloc(c.n ? c.n : 1, sizeof *owner_rid);
    rag_lock(r);
    find_parents(r, &c);
    for (size_t i = 0; owner_rid && i < c.n; i++) {
        const cand *x = &c.v[i];
        if (q.threshold_on && x->score < q.threshold) break;
        if (!x->parent) continue; /* deleted meanwhile */
        size_t k = 0, nr = json_array_size(recs);
        while (k < nr && owner_rid[k] != x->parent) k++;
        if (k < nr) {
            json_t *ch = json_object_get(json_array_get(recs, k), "child_chunks");
            json_t *cj = x->rid < 0 && json_array_size(ch) ? child_json(r, x) : NULL;
            if (cj) json_array_append_new(ch, cj);
            continue;
        }
        if ((long)nr >= q.top_k) continue;
        json_t *rec = record(r, x);
        if (!rec) continue;
        owner_rid[nr] = x->parent;
        json_array_append_new(recs, rec);
    }
    rag_unlock(r);
    octo_free(owner_rid);
    out = json_pack("{s:{s:s}, s:o}", "query", "content", qt, "records", recs);
    rag_ok(st);
done:
    octo_buf_deinit(&f.sql);
    octo_buf_deinit(&f.dsql);
    octo_free(c.v);
    octo_free(qv);
    json_decref(def);
    return out;
}
