/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_run — `octo run`: one chat turn with a model in the terminal. The
 * prompt goes through the model's chat template (unless --raw), the reply
 * streams to stdout as it is generated, and a tokens/s line ends on stderr.
 */
#include "cli.h"
#include "cli_int.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "engine/engine.h"
#include "hub/hub.h"
#include "runtime/runtime.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

static const char k_run_help[] =
    "usage: octo run --model DIR [options] \"prompt\"\n"
    "\n"
    "Generates a reply to one prompt with the model in DIR (config.json,\n"
    "model.safetensors, tokenizer.json, tokenizer_config.json) on the CPU and\n"
    "prints it as it comes, then a tokens/s line on stderr.\n"
    "\n"
    "  --model DIR            model folder (or positional before the prompt)\n"
    "  --load-format F        auto | dummy (random weights from config.json)\n"
    "  --tokenizer DIR        folder of tokenizer.json / tokenizer_config.json\n"
    "                         (default: the model's folder)\n"
    "  --max-tokens N         tokens to generate at most (default 256)\n"
    "  --temperature T        0 = greedy (default 0.7)\n"
    "  --top-p P, --top-k K   sampling filters\n"
    "  --seed S               reproducible sampling\n"
    "  --system TEXT          a system message\n"
    "  --no-think             chat_template_kwargs enable_thinking=false\n"
    "  --raw                  the prompt is used as is, without the template\n"
    "  --threads N            CPU threads (default: all)\n";

typedef struct run_ctx {
    octo_text_detok *detok;
    octo_buf out;
    const octo_engine *e;
    int64_t n;
    double t_first;
} run_ctx;

static bool on_token(void *ud, const octo_sample_result *r)
{
    run_ctx *c = ud;
    if (c->n++ == 0) c->t_first = octo_now();
    octo_buf_clear(&c->out);
    if (octo_text_detok_push(c->detok, r->token, &c->out) == OCTO_OK && c->out.len) {
        fwrite(c->out.data, 1, c->out.len, stdout);
        fflush(stdout);
    }
    return true;
}

static bool flag(const char *a, const char *name, int *i, int argc, char **argv,
                 const char **val)
{
    if (strcmp(a, name) != 0) return false;
    if (*i + 1 >= argc) {
        *val = NULL;
        return true;
    }
    *val = argv[++*i];
    return true;
}

int octo_cli_run(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv)) {
        fputs(k_run_help, stdout);
        return OCTO_EXIT_OK;
    }
    const char *model = NULL, *prompt = NULL, *system = NULL, *v = NULL, *tokdir = NULL;
    bool dummy = false, raw = false, think = true;
    long max_tokens = 256, threads = 0, seed = -1, top_k = 0;
    double temperature = 0.7, top_p = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool bad = false;
        if (flag(a, "--model", &i, argc, argv, &v)) { model = v; bad = !v; }
        else if (flag(a, "--load-format", &i, argc, argv, &v)) {
            bad = !v || (strcmp(v, "dummy") && strcmp(v, "auto"));
            dummy = v && strcmp(v, "dummy") == 0;
        } else if (flag(a, "--max-tokens", &i, argc, argv, &v))
            bad = !v || octo_parse_long(v, 1, 1 << 24, &max_tokens);
        else if (flag(a, "--threads", &i, argc, argv, &v))
            bad = !v || octo_parse_long(v, 1, 1024, &threads);
        else if (flag(a, "--seed", &i, argc, argv, &v))
            bad = !v || octo_parse_long(v, 0, LONG_MAX, &seed);
        else if (flag(a, "--top-k", &i, argc, argv, &v))
            bad = !v || octo_parse_long(v, 0, 1 << 24, &top_k);
        else if (flag(a, "--temperature", &i, argc, argv, &v))
            bad = !v || octo_parse_double(v, 0, 100, &temperature);
        else if (flag(a, "--top-p", &i, argc, argv, &v))
            bad = !v || octo_parse_double(v, 1e-9, 1, &top_p);
        else if (flag(a, "--system", &i, argc, argv, &v)) { system = v; bad = !v; }
        else if (flag(a, "--tokenizer", &i, argc, argv, &v)) { tokdir = v; bad = !v; }
        else if (strcmp(a, "--raw") == 0) raw = true;
        else if (strcmp(a, "--no-think") == 0) think = false;
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "octo run: unknown option '%s'\n", a);
            return OCTO_EXIT_USAGE;
        } else if (!model && i + 1 < argc) model = a;
        else if (!prompt) prompt = a;
        else {
            fprintf(stderr, "octo run: unexpected argument '%s'\n", a);
            return OCTO_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "octo run: bad or missing value for %s\n", a);
            return OCTO_EXIT_USAGE;
        }
    }
    if (!model || !prompt) {
        fprintf(stderr, "octo run: need --model DIR and a prompt (see --help)\n");
        return OCTO_EXIT_USAGE;
    }
    char snap[OCTO_LIMIT_PATH_BYTES]; /* ORG/NAME: the snapshot in the hub cache */
    if (octo_hub_resolve(model, snap, sizeof snap)) model = snap;
    return octo_cli_run_model(model, tokdir, dummy, prompt, system, raw, think, max_tokens, threads,
                              seed, temperature, top_p, top_k);
}

/* The model entry `octo run` stands for: one generate model on the CPU. */
static void run_config(octo_model_config *m, const char *model, bool dummy)
{
    memset(m, 0, sizeof *m);
    m->name = (char *)model;
    m->path = (char *)model;
    m->task = OCTO_TASK_GENERATE;
    m->load_format = dummy ? OCTO_LOAD_DUMMY : OCTO_LOAD_AUTO;
}

/* The prompt: the user's text as is (raw), else through the chat template. */
static octo_err run_prompt(const octo_runtime_model *rm, const char *prompt, const char *system,
                           bool raw, bool think, octo_buf *text, char *err, size_t n)
{
    if (raw) return octo_buf_puts(text, prompt);
    const octo_text_template *tpl = octo_runtime_model_template(rm);
    if (!tpl) {
        snprintf(err, n, "no chat template (tokenizer_config.json or chat_template.jinja) "
                 "in the tokenizer's folder (try --raw)");
        return OCTO_E_NOT_FOUND;
    }
    json_t *req = json_pack("{s:[], s:{s:b}, s:b}", "messages", "chat_template_kwargs",
                            "enable_thinking", think, "add_generation_prompt", 1);
    if (!req) return OCTO_E_NOMEM;
    json_t *msgs = json_object_get(req, "messages");
    if (system) json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system",
                                                      "content", system));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", prompt));
    octo_err rc = octo_text_chat_format(tpl, req, octo_runtime_model_chat_opts(rm), text, err, n);
    json_decref(req);
    return rc;
}

int octo_cli_run_model(const char *model, const char *tokdir, bool dummy, const char *prompt,
                       const char *system, bool raw, bool think, long max_tokens,
                       long threads, long seed,
                       double temperature, double top_p, long top_k)
{
    int code = OCTO_EXIT_FAIL;
    char err[1024] = "";
    octo_runtime_model *rm = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    run_ctx c = {0};
    octo_buf text;
    octo_buf_init(&text, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    octo_buf_init(&c.out, 1 << 20);

    octo_model_config mc;
    run_config(&mc, model, dummy);
    octo_runtime_opts ro = {.n_threads = (int)threads, .tokenizer_dir = tokdir,
                            .engine_only = true};
    double t0 = octo_now();
    if (octo_runtime_model_new(&mc, &ro, &rm, err, sizeof err)) goto fail;
    double t_load = octo_now() - t0;
    if (run_prompt(rm, prompt, system, raw, think, &text, err, sizeof err)) goto fail;
    size_t bad = 0;
    if (octo_text_tokenizer_encode(octo_runtime_model_tokenizer(rm), text.data, text.len, raw,
                                   &ids, &n_ids, &bad)) {
        snprintf(err, sizeof err, "the prompt is not valid UTF-8 (byte %zu)", bad);
        goto fail;
    }
    octo_engine *e = octo_runtime_model_engine(rm);
    octo_sampling_params sp;
    octo_engine_sampling_default(&sp);
    sp.temperature = (float)temperature;
    sp.top_p = (float)top_p;
    sp.top_k = (int32_t)top_k;
    if (seed >= 0) {
        sp.has_seed = true;
        sp.seed = (uint64_t)seed;
    }
    c.detok = octo_text_detok_new(octo_runtime_model_tokenizer(rm), true);
    c.e = e;
    if (!c.detok) goto fail;
    double t1 = octo_now();
    int64_t n_out = 0;
    octo_err rc = octo_engine_generate(e, ids, (int64_t)n_ids, &sp, max_tokens, on_token, &c,
                                       &n_out);
    if (rc) {
        snprintf(err, sizeof err, "generation failed: %s", octo_err_str(rc));
        goto fail;
    }
    octo_buf_clear(&c.out);
    if (octo_text_detok_flush(c.detok, &c.out) == OCTO_OK) fwrite(c.out.data, 1, c.out.len, stdout);
    double t2 = octo_now();
    double prefill = c.n ? c.t_first - t1 : t2 - t1;
    double decode = t2 - (c.n ? c.t_first : t1);
    fprintf(stderr, "\n-- load %.2fs; prompt %zu tokens in %.2fs (%.1f tok/s); %lld tokens "
            "in %.2fs (%.1f tok/s)\n", t_load, n_ids, prefill, n_ids / (prefill > 0 ? prefill : 1),
            (long long)n_out, decode, n_out > 1 ? (n_out - 1) / decode : 0.0);
    code = OCTO_EXIT_OK;
fail:
    if (code != OCTO_EXIT_OK) fprintf(stderr, "octo run: %s\n", err[0] ? err : "failed");
    octo_text_detok_free(c.detok);
    octo_buf_deinit(&c.out);
    octo_buf_deinit(&text);
    octo_free(ids);
    octo_runtime_model_free(rm);
    return code;
}
