/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_runtime — model instances on the tiny fixtures: a generate model
 * (served: a scheduler; engine_only: a bare engine that generates), an
 * embed model (the pooled vector of the transformers oracle, Matryoshka
 * dims), a score model (the official prompt's ids and score of the
 * oracle, truncation cutting only the pair); the chat template discovery
 * order (override, tokenizer_config.json, chat_template.jinja, none) in a
 * temporary folder; that each side file is opened once per load, counted
 * by the kernel (inotify IN_OPEN on a temporary copy of the checkpoint);
 * and the load errors.
 */
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "octo_test.h"
#include "runtime/runtime.h"

#define TOL 2e-4 /* the CPU engine against transformers' f32 (tests/api: CPU_TOL) */

static const char *src_root(void)
{
    const char *s = getenv("OCTO_SRC");
    return s ? s : "..";
}

static void fixture(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/tests/fixtures/%s", src_root(), name);
}

static json_t *ref_of(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/ref.json", src_root(), name);
    json_t *r = json_load_file(path, 0, NULL);
    CHECK(r != NULL);
    return r;
}

static octo_model_config model_entry(const char *path, octo_task task)
{
    octo_model_config m;
    memset(&m, 0, sizeof m);
    m.name = (char *)"m";
    m.path = (char *)path;
    m.task = task;
    return m;
}

/* ==== a temporary copy of a checkpoint ==== */

static int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static int copy_file(const char *from, const char *to)
{
    char *data = NULL;
    size_t len = 0;
    if (octo_file_read(from, (size_t)1 << 30, &data, &len)) return -1;
    int rc = write_file(to, data, len);
    octo_free(data);
    return rc;
}

static const char *const k_side_files[] = {
    "config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
    "chat_template.jinja", "config_sentence_transformers.json",
};
#define N_SIDE (sizeof k_side_files / sizeof k_side_files[0])

/* Copies the JSON and template files of fixture `name` into a new
 * temporary folder (out) and links the weights. */
static int temp_copy(const char *name, char *out, size_t n)
{
    char from[1200], to[1200], fix[700];
    snprintf(out, n, "/tmp/octo-test-runtime-XXXXXX");
    if (!mkdtemp(out)) return -1;
    fixture(fix, sizeof fix, name);
    for (size_t i = 0; i < N_SIDE; i++) {
        snprintf(from, sizeof from, "%s/%s", fix, k_side_files[i]);
        snprintf(to, sizeof to, "%s/%s", out, k_side_files[i]);
        if (access(from, R_OK) == 0 && copy_file(from, to)) return -1;
    }
    snprintf(from, sizeof from, "%s/model.safetensors", fix);
    snprintf(to, sizeof to, "%s/model.safetensors", out);
    char abs[PATH_MAX];
    return realpath(from, abs) ? symlink(abs, to) : -1;
}

static void temp_remove(const char *dir)
{
    char p[1200];
    for (size_t i = 0; i < N_SIDE; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, k_side_files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/override.jinja", dir);
    unlink(p);
    rmdir(dir);
}

/* Opens of each side file in `dir` while loading entry m (inotify). */
static octo_runtime_model *load_counting(const octo_model_config *m, const char *dir,
                                         const octo_runtime_opts *o, int *opens)
{
    memset(opens, 0, N_SIDE * sizeof *opens);
    int fd = inotify_init1(IN_NONBLOCK);
    CHECK(fd >= 0);
    CHECK(inotify_add_watch(fd, dir, IN_OPEN) >= 0);
    octo_runtime_model *rm = NULL;
    char err[512] = "";
    octo_err rc = octo_runtime_model_new(m, o, &rm, err, sizeof err);
    if (rc) fprintf(stderr, "load %s: %s\n", m->path, err);
    CHECK_EQ_INT(rc, OCTO_OK);
    char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + got;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            for (size_t i = 0; ev->len && i < N_SIDE; i++)
                if (!strcmp(ev->name, k_side_files[i])) opens[i]++;
            p += sizeof *ev + ev->len;
        }
    }
    close(fd);
    return rm;
}

static int opens_of(const int *opens, const char *file)
{
    for (size_t i = 0; i < N_SIDE; i++)
        if (!strcmp(k_side_files[i], file)) return opens[i];
    return -1;
}

/* ==== generate ==== */

static bool count_token(void *ud, const octo_sample_result *r)
{
    (void)r;
    ++*(int *)ud;
    return true;
}

static void test_generate_model(void)
{
    char dir[256];
    CHECK(temp_copy("qwen3-chat", dir, sizeof dir) == 0);
    octo_model_config m = model_entry(dir, OCTO_TASK_GENERATE);
    m.max_model_len = 1024; /* checked against the model's positions without a re-read */
    int opens[N_SIDE];
    octo_runtime_model *rm = load_counting(&m, dir, NULL, opens);
    /* each side file once: before the runtime layer, serving this entry
     * read config.json and generation_config.json twice (api and engine) */
    CHECK_EQ_INT(opens_of(opens, "config.json"), 1);
    CHECK_EQ_INT(opens_of(opens, "tokenizer.json"), 1);
    CHECK_EQ_INT(opens_of(opens, "tokenizer_config.json"), 1);
    CHECK_EQ_INT(opens_of(opens, "generation_config.json"), 1);
    CHECK_EQ_INT(opens_of(opens, "chat_template.jinja"), 1);
    if (rm) {
        CHECK(octo_runtime_model_sched(rm) != NULL);
        CHECK(octo_runtime_model_pool(rm) == NULL);
        CHECK(octo_runtime_model_engine(rm) != NULL);
        CHECK(octo_runtime_model_template(rm) != NULL);
        CHECK(octo_runtime_model_jsonc_vocab(rm) != NULL);
        CHECK_EQ_INT(octo_runtime_model_device(rm), -1);
        CHECK_EQ_INT(octo_runtime_model_task(rm), OCTO_TASK_GENERATE);
        CHECK_EQ_INT(octo_runtime_model_max_len(rm), 1024);
        const int64_t *eos = NULL;
        CHECK_EQ_INT(octo_engine_eos_ids(octo_runtime_model_engine(rm), &eos), 1);
        CHECK_EQ_INT(eos[0], 566);
        CHECK_EQ_INT(octo_runtime_model_gen_config(rm)->n_eos, 1);
        CHECK(strcmp(octo_runtime_model_backend(rm)->name, "cpu") == 0);
    }
    octo_runtime_model_free(rm);
    temp_remove(dir);

    /* engine_only (octo run): the caller steps the engine itself; the
     * context defaults to the fixture's positions */
    char path[1024];
    fixture(path, sizeof path, "qwen3-chat");
    m = model_entry(path, OCTO_TASK_GENERATE);
    octo_runtime_opts o = {.n_threads = 2, .engine_only = true};
    CHECK_EQ_INT(octo_runtime_model_new(&m, &o, &rm, NULL, 0), OCTO_OK);
    if (!rm) return;
    CHECK(octo_runtime_model_sched(rm) == NULL);
    CHECK(octo_runtime_model_jsonc_vocab(rm) == NULL);
    CHECK_EQ_INT(octo_runtime_model_max_len(rm), 2048);
    octo_engine *e = octo_runtime_model_engine(rm);
    CHECK_EQ_INT(octo_engine_max_model_len(e), 2048);
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_EQ_INT(octo_text_tokenizer_encode(octo_runtime_model_tokenizer(rm), "Hello", 5, false,
                                            &ids, &n, NULL), OCTO_OK);
    octo_sampling_params sp;
    octo_engine_sampling_default(&sp);
    sp.temperature = 0;
    sp.ignore_eos = true;
    int got = 0;
    int64_t n_out = 0;
    CHECK_EQ_INT(octo_engine_generate(e, ids, (int64_t)n, &sp, 4, count_token, &got, &n_out),
                 OCTO_OK);
    CHECK_EQ_INT(n_out, 4);
    CHECK_EQ_INT(got, 4);
    octo_free(ids);
    octo_runtime_model_free(rm);
}

/* ==== embed ==== */

static void check_vector(float *row, int64_t dims, const json_t *want)
{
    float ref[64];
    CHECK_EQ_INT(json_array_size(want), dims);
    for (int64_t i = 0; i < dims && i < 64; i++)
        ref[i] = (float)json_real_value(json_array_get(want, (size_t)i));
    octo_runtime_embed_normalize(row, dims);
    CHECK(octo_test_max_diff(row, ref, dims) < TOL);
}

static void test_embed_model(void)
{
    char dir[256];
    CHECK(temp_copy("qwen3-embed", dir, sizeof dir) == 0);
    octo_model_config m = model_entry(dir, OCTO_TASK_EMBED);
    int opens[N_SIDE];
    octo_runtime_model *rm = load_counting(&m, dir, NULL, opens);
    CHECK_EQ_INT(opens_of(opens, "config.json"), 1);
    CHECK_EQ_INT(opens_of(opens, "tokenizer.json"), 1);
    CHECK_EQ_INT(opens_of(opens, "config_sentence_transformers.json"), 1);
    CHECK_EQ_INT(opens_of(opens, "tokenizer_config.json"), 0); /* a generate model's */
    CHECK_EQ_INT(opens_of(opens, "generation_config.json"), 0);
    json_t *ref = ref_of("qwen3-embed");
    if (!rm || !ref) goto done;
    octo_engine_pool *pool = octo_runtime_model_pool(rm);
    CHECK(pool != NULL);
    CHECK(octo_runtime_model_sched(rm) == NULL);
    CHECK(octo_runtime_model_template(rm) == NULL);
    CHECK_EQ_INT(octo_runtime_model_batch_tokens(rm), 2048);
    CHECK_EQ_INT(octo_runtime_model_batch_seqs(rm), 256);
    const json_t *c = json_array_get(json_object_get(ref, "cases"), 0);
    const char *text = json_string_value(json_object_get(c, "text"));
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_EQ_INT(octo_runtime_embed_tokens(rm, NULL, NULL, text, strlen(text), true, &ids, &n,
                                           NULL), OCTO_OK);
    const json_t *want_ids = json_object_get(c, "ids");
    CHECK_EQ_INT(n, json_array_size(want_ids));
    for (size_t i = 0; i < n && i < json_array_size(want_ids); i++)
        CHECK_EQ_INT(ids[i], json_integer_value(json_array_get(want_ids, i)));
    int64_t hidden = octo_runtime_model_info(rm)->hidden_size, len = (int64_t)n;
    float *out = calloc(2 * (size_t)hidden, sizeof *out);
    const int32_t *prompts[2] = {ids, ids};
    int64_t lens[2] = {len, len};
    CHECK_EQ_INT(octo_engine_pool_run(pool, prompts, lens, 2, out, NULL, 0), OCTO_OK);
    check_vector(out, hidden, json_object_get(c, "embedding"));
    check_vector(out + hidden, 8, json_object_get(json_object_get(c, "dimensions"), "8"));
    free(out);
    octo_free(ids);
    /* the instruction format and truncation */
    CHECK_EQ_INT(octo_runtime_embed_tokens(rm, "find", NULL, "x", 1, false, &ids, &n, NULL),
                 OCTO_OK);
    int32_t *ids2 = NULL;
    size_t n2 = 0;
    CHECK_EQ_INT(octo_runtime_embed_tokens(rm, NULL, "Instruct: find\nQuery:", "x", 1, false,
                                           &ids2, &n2, NULL), OCTO_OK);
    CHECK_EQ_INT(n, n2);
    CHECK(n == n2 && memcmp(ids, ids2, n * sizeof *ids) == 0);
    int32_t last = ids[n - 1];
    CHECK_EQ_INT(octo_runtime_truncate(ids, (int64_t)n, 1), 1);
    CHECK_EQ_INT(ids[0], last);
    CHECK_EQ_INT(octo_runtime_truncate(ids2, (int64_t)n2, 0), (int64_t)n2);
    octo_free(ids);
    octo_free(ids2);
done:
    json_decref(ref);
    octo_runtime_model_free(rm);
    temp_remove(dir);
}

/* ==== score ==== */

static void test_score_model(void)
{
    char path[1024];
    fixture(path, sizeof path, "qwen3-rerank");
    octo_model_config m = model_entry(path, OCTO_TASK_SCORE);
    octo_runtime_model *rm = NULL;
    char err[512] = "";
    CHECK_EQ_INT(octo_runtime_model_new(&m, NULL, &rm, err, sizeof err), OCTO_OK);
    json_t *ref = ref_of("qwen3-rerank");
    if (!rm || !ref) goto done;
    CHECK_EQ_INT(octo_runtime_model_batch_seqs(rm), 64); /* capped on the CPU */
    const json_t *c = json_array_get(json_object_get(ref, "cases"), 0);
    const char *q = json_string_value(json_object_get(c, "query"));
    const char *d = json_string_value(json_object_get(c, "document"));
    int32_t *ids = NULL, *cut = NULL;
    int64_t n = 0, n_cut = 0;
    CHECK_EQ_INT(octo_runtime_score_tokens(rm, NULL, q, strlen(q), d, strlen(d), 0, &ids, &n),
                 OCTO_OK);
    const json_t *want = json_object_get(c, "ids");
    CHECK_EQ_INT(n, json_array_size(want));
    for (int64_t i = 0; i < n && i < (int64_t)json_array_size(want); i++)
        CHECK_EQ_INT(ids[i], json_integer_value(json_array_get(want, (size_t)i)));
    float no_yes[2];
    const int32_t *prompts[1] = {ids};
    CHECK_EQ_INT(octo_engine_pool_run(octo_runtime_model_pool(rm), prompts, &n, 1, no_yes, NULL,
                                      0), OCTO_OK);
    double s = octo_runtime_score_relevance(no_yes);
    CHECK(fabs(s - json_real_value(json_object_get(c, "score"))) < 1e-3);
    /* truncation cuts the pair, never the suffix (the answer turn) */
    CHECK_EQ_INT(octo_runtime_score_tokens(rm, NULL, q, strlen(q), d, strlen(d), n - 5, &cut,
                                           &n_cut), OCTO_OK);
    CHECK_EQ_INT(n_cut, n - 5);
    if (n_cut == n - 5) CHECK(memcmp(cut + n_cut - 10, ids + n - 10, 10 * sizeof *ids) == 0);
    octo_free(ids);
    octo_free(cut);
done:
    json_decref(ref);
    octo_runtime_model_free(rm);
}

/* ==== chat template discovery ==== */

/* Loads dir's model, renders one user message "x" with its template, and
 * checks the origin and the output's first byte (NUL: no template). */
static void check_template(const octo_model_config *m, const char *origin_suffix, char first)
{
    octo_runtime_model *rm = NULL;
    char err[512] = "";
    octo_runtime_opts o = {.n_threads = 1, .engine_only = true};
    CHECK_EQ_INT(octo_runtime_model_new(m, &o, &rm, err, sizeof err), OCTO_OK);
    if (!rm) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const char *origin = octo_runtime_model_template_origin(rm);
    const octo_text_template *tpl = octo_runtime_model_template(rm);
    if (!origin_suffix) {
        CHECK(origin == NULL && tpl == NULL);
    } else {
        size_t lo = origin ? strlen(origin) : 0, ls = strlen(origin_suffix);
        CHECK(origin && lo >= ls && strcmp(origin + lo - ls, origin_suffix) == 0);
        json_t *req = json_pack("{s:[{s:s, s:s}]}", "messages", "role", "user", "content", "x");
        octo_buf out;
        octo_buf_init(&out, 1 << 20);
        CHECK_EQ_INT(octo_text_chat_format(tpl, req, octo_runtime_model_chat_opts(rm), &out, err,
                                           sizeof err), OCTO_OK);
        CHECK(out.len > 0 && out.data[0] == first);
        octo_buf_deinit(&out);
        json_decref(req);
    }
    octo_runtime_model_free(rm);
}

static void test_template_discovery(void)
{
    char dir[256], p[600];
    CHECK(temp_copy("qwen3-chat", dir, sizeof dir) == 0);
    octo_model_config m = model_entry(dir, OCTO_TASK_GENERATE);
    /* 3: chat_template.jinja beside tokenizer_config.json (the fixture's) */
    check_template(&m, "/chat_template.jinja", '<');
    /* 2: tokenizer_config.json's chat_template comes before the file */
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    const char cfg[] = "{\"eos_token\": \"<|im_end|>\", \"chat_template\": "
                       "\"C{{ messages[0]['content'] }}\"}";
    CHECK(write_file(p, cfg, sizeof cfg - 1) == 0);
    check_template(&m, "tokenizer_config.json", 'C');
    /* 1: the entry's chat_template (--chat-template) comes first */
    snprintf(p, sizeof p, "%s/override.jinja", dir);
    const char ovr[] = "O{{ messages[0]['content'] }}";
    CHECK(write_file(p, ovr, sizeof ovr - 1) == 0);
    m.chat_template = p;
    check_template(&m, "/override.jinja", 'O');
    /* none at all: a completions-only model */
    m.chat_template = NULL;
    char q[600];
    snprintf(q, sizeof q, "%s/tokenizer_config.json", dir);
    unlink(q);
    snprintf(q, sizeof q, "%s/chat_template.jinja", dir);
    unlink(q);
    check_template(&m, NULL, 0);
    temp_remove(dir);
}

/* ==== errors and arithmetic ==== */

static void test_errors(void)
{
    char path[1024], err[512];
    fixture(path, sizeof path, "qwen3-embed");
    octo_model_config m = model_entry(path, OCTO_TASK_EMBED);
    octo_runtime_model *rm = NULL;
    m.max_model_len = 4096; /* past the fixture's 128 positions, refused as vLLM does */
    CHECK_EQ_INT(octo_runtime_model_new(&m, NULL, &rm, err, sizeof err), OCTO_E_INVALID);
    CHECK(strstr(err, "max_position_embeddings 128") != NULL);
    CHECK(rm == NULL);
    m.max_model_len = 0;
    m.task = OCTO_TASK_TRANSCRIBE;
    CHECK_EQ_INT(octo_runtime_model_new(&m, NULL, &rm, err, sizeof err), OCTO_E_UNSUPPORTED);
    m.task = OCTO_TASK_GENERATE;
    m.path = (char *)"/nonexistent/model";
    CHECK_EQ_INT(octo_runtime_model_new(&m, NULL, &rm, err, sizeof err), OCTO_E_NOT_FOUND);
    CHECK(strstr(err, "model path '/nonexistent/model' does not exist") != NULL);
    /* a score model needs the embedding-free yes/no head: an embed model's
     * prompt helper refuses a generate model */
    fixture(path, sizeof path, "qwen3-chat");
    m.path = path;
    octo_runtime_opts o = {.engine_only = true, .n_threads = 1};
    CHECK_EQ_INT(octo_runtime_model_new(&m, &o, &rm, err, sizeof err), OCTO_OK);
    int32_t *ids = NULL;
    int64_t n = 0;
    if (rm)
        CHECK_EQ_INT(octo_runtime_score_tokens(rm, NULL, "q", 1, "d", 1, 0, &ids, &n),
                     OCTO_E_INVALID);
    octo_runtime_model_free(rm);
    rm = NULL;
#ifndef OCTO_HAVE_CUDA
    m.devices[0] = 0;
    m.n_devices = 1;
    CHECK_EQ_INT(octo_runtime_model_new(&m, &o, &rm, err, sizeof err), OCTO_E_UNSUPPORTED);
    CHECK(strstr(err, "without CUDA") != NULL);
#endif
    octo_runtime_model_free(NULL);
}

static void test_arithmetic(void)
{
    float v[3] = {3, 4, 12};
    octo_runtime_embed_normalize(v, 2); /* Matryoshka: the first two dims */
    CHECK(fabs(v[0] - 0.6) < 1e-7 && fabs(v[1] - 0.8) < 1e-7 && v[2] == 12);
    float z[2] = {0, 0};
    octo_runtime_embed_normalize(z, 2);
    CHECK(z[0] == 0 && z[1] == 0);
    float eq[2] = {1.5f, 1.5f}, yes[2] = {0, 20};
    CHECK(fabs(octo_runtime_score_relevance(eq) - 0.5) < 1e-12);
    CHECK(octo_runtime_score_relevance(yes) > 0.999999);
    int32_t ids[5] = {1, 2, 3, 4, 5};
    CHECK_EQ_INT(octo_runtime_truncate(ids, 5, 2), 2);
    CHECK(ids[0] == 4 && ids[1] == 5);
    CHECK_EQ_INT(octo_runtime_truncate(ids, 2, 9), 2);
}

TEST_MAIN(TEST(test_generate_model), TEST(test_embed_model), TEST(test_score_model),
          TEST(test_template_discovery), TEST(test_errors), TEST(test_arithmetic))
