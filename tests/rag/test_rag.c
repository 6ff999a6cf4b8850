/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rag — the knowledge layer without HTTP: index tokens (CJK unigrams
 * and bigrams, NFKC), Dify's cleaning rules, the splitter's bounds and
 * overlap, the CSV / HTML extractors, and the store end to end with a
 * hashing embedding model (open, migrate, ingest, retrieve, reopen).
 * Expected values are written by hand from the rules, not taken from the
 * code's output.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "octo_test.h"
#include "rag/rag_int.h"

static char *tokens_of(const char *s)
{
    octo_buf b;
    octo_buf_init(&b, 1 << 20);
    CHECK(rag_tokens(s, strlen(s), &b) == OCTO_OK);
    return b.data ? octo_buf_take(&b) : octo_strdup("");
}

static void test_tokens(void)
{
    char *t = tokens_of("Hello, World! 北京大学 x2");
    CHECK_EQ_STR(t, "hello world 北 京 北京 大 京大 学 大学 x2");
    octo_free(t);
    /* full-width letters and Kangxi radicals fold to the usual characters */
    t = tokens_of("ＡＢＣ ⽅程");
    CHECK_EQ_STR(t, "abc 方 程 方程");
    octo_free(t);
    t = tokens_of("Café déjà-vu");
    CHECK_EQ_STR(t, "café déjà vu");
    octo_free(t);
    octo_buf q;
    octo_buf_init(&q, 4096);
    CHECK(rag_fts_query("Paris 首都", strlen("Paris 首都"), &q) == OCTO_OK);
    CHECK_EQ_STR(q.data, "\"paris\" OR \"首\" OR \"都\" OR \"首都\"");
    octo_buf_deinit(&q);
}

static void test_keywords(void)
{
    const char *s = "the river flow and the river basin; river flow data";
    json_t *k = rag_keywords(s, strlen(s), 3);
    CHECK_EQ_INT(json_array_size(k), 3);
    CHECK_EQ_STR(json_string_value(json_array_get(k, 0)), "river"); /* 3 times */
    CHECK_EQ_STR(json_string_value(json_array_get(k, 1)), "flow");  /* twice */
    CHECK_EQ_STR(json_string_value(json_array_get(k, 2)), "basin"); /* first of the rest */
    json_decref(k);
}

static char *clean(const char *s, bool spaces, bool urls)
{
    rag_rules r = {.remove_extra_spaces = spaces, .remove_urls_emails = urls};
    size_t n = 0;
    char *c = rag_clean(s, strlen(s), &r, &n);
    CHECK(c && strlen(c) == n);
    return c;
}

static void test_clean(void)
{
    char *c = clean("a  b\n\n\n\nc\t\td\u3000\u3000e", true, false);
    CHECK_EQ_STR(c, "a b\n\nc d e");
    octo_free(c);
    c = clean("mail foo.bar+x@example.com, see https://x.org/a?b=1 now.", true, true);
    CHECK_EQ_STR(c, "mail , see now.");
    octo_free(c);
    c = clean("keep a@b and x  y", false, true); /* no TLD: not an address */
    CHECK_EQ_STR(c, "keep a@b and x  y");
    octo_free(c);
    c = clean("<|im_start|>\x01z\x7f", false, false);
    CHECK_EQ_STR(c, "<im_start>z");
    octo_free(c);
}

static void test_rules(void)
{
    rag_rules r;
    octo_rag_status st;
    CHECK(rag_rules_read(NULL, &r, &st));
    CHECK_EQ_INT(r.max_tokens, 500);
    CHECK_EQ_INT(r.overlap, 50);
    CHECK_EQ_STR(r.separator, "\n");
    json_t *pr = json_loads("{\"mode\":\"custom\",\"rules\":{\"pre_processing_rules\":[{\"id\":"
                            "\"remove_urls_emails\",\"enabled\":true}],\"segmentation\":{"
                            "\"separator\":\"\\\\n\\\\n\",\"max_tokens\":80,"
                            "\"chunk_overlap\":8}}}", 0, NULL);
    CHECK(rag_rules_read(pr, &r, &st));
    CHECK_EQ_STR(r.separator, "\n\n");
    CHECK_EQ_INT(r.max_tokens, 80);
    CHECK(r.remove_urls_emails && !r.remove_extra_spaces);
    json_decref(pr);
    static const char *const bad[] = {
        "{\"mode\":\"custom\",\"rules\":{\"segmentation\":{\"max_tokens\":49}}}",
        "{\"mode\":\"custom\",\"rules\":{\"segmentation\":{\"max_tokens\":4001}}}",
        "{\"mode\":\"custom\",\"rules\":{\"segmentation\":{\"max_tokens\":100,"
        "\"chunk_overlap\":100}}}",
        "{\"mode\":\"hierarchical\",\"rules\":{}}",
        "{\"mode\":\"fancy\"}",
        "{\"mode\":\"custom\",\"rules\":{\"pre_processing_rules\":[{\"id\":\"nope\","
        "\"enabled\":true}],\"segmentation\":{\"max_tokens\":100}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pr = json_loads(bad[i], 0, NULL);
        CHECK(pr != NULL);
        CHECK(!rag_rules_read(pr, &r, &st));
        CHECK_EQ_INT(st.http, 400);
        CHECK_EQ_STR(st.code, "invalid_param");
        json_decref(pr);
    }
}

static void test_split(void)
{
    octo_buf t;
    octo_buf_init(&t, 1 << 20);
    for (int i = 0; i < 40; i++)
        CHECK(octo_buf_printf(&t, "Sentence number %02d is here.\n", i) == OCTO_OK);
    rag_rules r = {.separator = "\n", .max_tokens = 50, .overlap = 10};
    rag_chunks c;
    CHECK(rag_split(NULL, t.data, t.len, &r, &c) == OCTO_OK);
    CHECK(c.n > 5);
    int next = 0; /* every sentence appears, in order; chunks overlap */
    for (size_t i = 0; i < c.n; i++) {
        CHECK(rag_count_tokens(NULL, c.text[i], strlen(c.text[i])) <= 50);
        int first = -1, last = -1;
        for (int k = 0; k < 40; k++) {
            char s[40];
            snprintf(s, sizeof s, "Sentence number %02d", k);
            if (strstr(c.text[i], s)) {
                if (first < 0) first = k;
                last = k;
            }
        }
        CHECK(first >= 0);
        if (i > 0) CHECK(first < next); /* overlap: starts before the previous end */
        CHECK(first <= next);
        next = last + 1;
    }
    CHECK_EQ_INT(next, 40);
    rag_chunks_free(&c);
    /* a piece longer than max_tokens is split finer (here: at spaces) */
    octo_buf_clear(&t);
    for (int i = 0; i < 300; i++) CHECK(octo_buf_puts(&t, "word ") == OCTO_OK);
    r.overlap = 0;
    CHECK(rag_split(NULL, t.data, t.len, &r, &c) == OCTO_OK);
    size_t words = 0;
    for (size_t i = 0; i < c.n; i++) {
        CHECK(rag_count_tokens(NULL, c.text[i], strlen(c.text[i])) <= 50);
        for (const char *p = c.text[i]; (p = strstr(p, "word")); p += 4) words++;
    }
    CHECK_EQ_INT(words, 300);
    rag_chunks_free(&c);
    octo_buf_deinit(&t);
}

static char *extract(const char *name, const char *data, octo_err want, char *err, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    err[0] = '\0';
    octo_err rc = rag_extract(name, data, strlen(data), &text, &len, err, n);
    CHECK_EQ_INT(rc, want);
    return text;
}

static void test_extract(void)
{
    char err[256];
    char *t = extract("a.csv", "name,age\n\"Smith, J\",42\n\"say \"\"hi\"\"\",7\n", OCTO_OK, err,
                      sizeof err);
    CHECK_EQ_STR(t, "name: Smith, J;age: 42\nname: say \"hi\";age: 7\n");
    octo_free(t);
    t = extract("a.csv", "a,b\n1,2,3\n", OCTO_E_PARSE, err, sizeof err);
    CHECK_EQ_STR(err, "CSV line 2: 3 fields, the header has 2");
    t = extract("a.csv", "a,b\n\"1,2\n", OCTO_E_PARSE, err, sizeof err);
    CHECK_EQ_STR(err, "CSV line 2: a quoted field is not closed");
    t = extract("x.html", "<html><head><style>p{}</style></head><body><p>Fish &amp; chips"
                "</p><script>bad()</script><!-- no -->&#20013;&#x6587;</body></html>", OCTO_OK,
                err, sizeof err);
    CHECK(t && strstr(t, "Fish & chips"));
    CHECK(t && strstr(t, "中文"));
    CHECK(t && !strstr(t, "bad()") && !strstr(t, "p{}") && !strstr(t, "no"));
    octo_free(t);
    t = extract("x.docx", "PK", OCTO_E_UNSUPPORTED, err, sizeof err);
    CHECK(strstr(err, "'.docx' are not supported") != NULL);
    t = extract("x.txt", "\xff\xfe bad", OCTO_E_PARSE, err, sizeof err);
    CHECK_EQ_STR(err, "the file is not valid UTF-8 text (byte 0)");
    CHECK(!rag_extract_supported("a.xlsx") && rag_extract_supported("A.PDF"));
}

/* ==== the store, with a hashing embedding model ==== */

#define DIM 32

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* A bag of lower-cased ASCII words hashed into DIM buckets, normalised:
 * texts sharing words have a positive cosine. */
static void hash_vec(const char *s, size_t n, float *v)
{
    memset(v, 0, DIM * sizeof *v);
    size_t i = 0;
    while (i < n) {
        while (i < n && !((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z')) i++;
        size_t a = i;
        char w[64];
        size_t k = 0;
        while (i < n && ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z')) {
            if (k < sizeof w) w[k++] = (char)(s[i] | 32);
            i++;
        }
        if (i > a) v[fnv(w, k) % DIM] += 1.0f;
    }
    double ss = 0;
    for (int d = 0; d < DIM; d++) ss += (double)v[d] * v[d];
    for (int d = 0; d < DIM && ss > 0; d++) v[d] = (float)(v[d] / sqrt(ss));
}

static int n_embed_calls;

static octo_err fake_embed(void *ctx, const char *const *texts, const size_t *lens, size_t n,
                           bool is_query, float *out, char *err, size_t err_size)
{
    (void)ctx;
    (void)is_query;
    (void)err;
    (void)err_size;
    n_embed_calls++;
    for (size_t i = 0; i < n; i++) hash_vec(texts[i], lens[i], out + i * DIM);
    return OCTO_OK;
}

static void rmtree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    CHECK(j != NULL);
    return j;
}

static void test_store(void)
{
    char dir[] = "/tmp/octo-rag-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    octo_rag_models m = {.embed_name = "hash", .embed_dim = DIM, .embed = fake_embed};
    octo_rag_opts o = {.dir = dir, .models = &m, .embed_batch = 2};
    octo_rag *r = NULL;
    char err[256];
    CHECK(octo_rag_open(&o, &r, err, sizeof err) == OCTO_OK);
    octo_rag_status st;
    json_t *b = parse("{\"name\": \"kb\", \"indexing_technique\": \"high_quality\"}");
    json_t *ds = octo_rag_dataset_create(r, "owner1", b, &st);
    CHECK(ds != NULL);
    CHECK(octo_rag_dataset_create(r, "owner1", b, &st) == NULL);
    CHECK_EQ_INT(st.http, 409);
    CHECK_EQ_STR(st.code, "dataset_name_duplicate");
    json_t *other = octo_rag_dataset_create(r, "owner2", b, &st); /* own namespace */
    CHECK(other != NULL);
    json_decref(b);
    const char *id = json_string_value(json_object_get(ds, "id"));
    /* three lines of 40+ estimated tokens: no two fit in one 50-token segment */
    b = parse("{\"name\": \"t.txt\", \"text\": \"Rivers flow to the sea.                   "
              "                                                                            "
              "                          \\nMountains are high and cold.                   "
              "                                                                            "
              "                     \\nThe desert is dry and hot.                          "
              "                                                                            "
              "                   \", \"process_rule\": {\"mode\": "
              "\"custom\", \"rules\": {\"segmentation\": {\"separator\": \"\\\\n\", "
              "\"max_tokens\": 50}}}}");
    json_t *doc = octo_rag_document_create_text(r, "owner1", id, b, &st);
    CHECK(doc != NULL);
    char doc_id[40];
    octo_strlcpy(doc_id, json_string_value(json_object_get(json_object_get(doc, "document"),
                                                           "id")), sizeof doc_id);
    CHECK(octo_rag_document_create_text(r, "owner2", id, b, &st) == NULL);
    CHECK_EQ_INT(st.http, 404);
    json_decref(b);
    octo_rag_drain(r);
    const char *batch = json_string_value(json_object_get(doc, "batch"));
    json_t *is = octo_rag_indexing_status(r, "owner1", id, batch, &st);
    json_t *e = json_array_get(json_object_get(is, "data"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(e, "indexing_status")), "completed");
    CHECK_EQ_INT(json_integer_value(json_object_get(e, "total_segments")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(e, "completed_segments")), 3);
    CHECK_EQ_INT(n_embed_calls, 2); /* 3 segments in batches of 2 */
    json_decref(is);
    /* semantic: the desert line shares "desert", "dry" with the query */
    b = parse("{\"query\": \"dry desert\", \"retrieval_model\": {\"search_method\": "
              "\"semantic_search\", \"top_k\": 1}}");
    json_t *res = octo_rag_retrieve(r, "owner1", id, b, &st);
    json_t *rec = json_array_get(json_object_get(res, "records"), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(res, "records")), 1);
    const char *content = json_string_value(json_object_get(json_object_get(rec, "segment"),
                                                            "content"));
    CHECK_EQ_STR(content, "The desert is dry and hot.");
    float qv[DIM], dv[DIM];
    hash_vec("dry desert", 10, qv);
    hash_vec(content, strlen(content), dv);
    double cos = 0;
    for (int d = 0; d < DIM; d++) cos += (double)qv[d] * dv[d];
    CHECK(fabs(json_real_value(json_object_get(rec, "score")) - cos) < 1e-5);
    json_decref(res);
    json_decref(b);
    /* full text finds the mountain line; other owners see nothing */
    b = parse("{\"query\": \"cold mountains\", \"retrieval_model\": {\"search_method\": "
              "\"full_text_search\", \"top_k\": 3}}");
    res = octo_rag_retrieve(r, "owner1", id, b, &st);
    rec = json_array_get(json_object_get(res, "records"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(rec, "segment"), "content")),
                 "Mountains are high and cold.");
    CHECK_EQ_INT(json_array_size(json_object_get(res, "records")), 1);
    json_decref(res);
    CHECK(octo_rag_retrieve(r, "owner2", id, b, &st) == NULL);
    CHECK_EQ_INT(st.http, 404);
    json_decref(b);
    json_decref(doc);
    json_decref(ds);
    json_decref(other);
    octo_rag_free(r);

    /* reopening keeps everything, and sweeps what a kill can leave in kb-files: a
     * temporary file, a file whose document row never committed */
    char orphan[300], tmp[300], kept[300];
    snprintf(orphan, sizeof orphan, "%s/kb-files/00000000-dead-4bee-8000-000000000000.pdf", dir);
    snprintf(tmp, sizeof tmp, "%s/kb-files/.x.pdf.tmp", dir);
    FILE *f1 = fopen(orphan, "w"), *f2 = fopen(tmp, "w");
    CHECK(f1 && f2);
    if (f1) fclose(f1);
    if (f2) fclose(f2);
    r = NULL;
    CHECK(octo_rag_open(&o, &r, err, sizeof err) == OCTO_OK);
    json_t *list = octo_rag_dataset_list(r, "owner1", 1, 20, NULL, &st);
    CHECK_EQ_INT(json_integer_value(json_object_get(list, "total")), 1);
    json_decref(list);
    CHECK(access(orphan, F_OK) != 0 && access(tmp, F_OK) != 0);
    snprintf(kept, sizeof kept, "%s/kb-files/%s.txt", dir, doc_id);
    CHECK(access(kept, F_OK) == 0);
    octo_rag_free(r);
    char path[300];
    snprintf(path, sizeof path, "%s/kb.sqlite3", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    r = NULL;
    CHECK(octo_rag_open(&o, &r, err, sizeof err) == OCTO_E_PARSE);
    CHECK(strstr(err, "schema version 99") != NULL);
    CHECK(r == NULL);
    rmtree(dir);
}

int main(void)
{
    test_tokens();
    test_keywords();
    test_clean();
    test_rules();
    test_split();
    test_extract();
    test_store();
    printf("%d checks, %d failed\n", octo_test_checks, octo_test_failures);
    return octo_test_failures != 0;
}
