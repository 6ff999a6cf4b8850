/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_plan — `octo plan CONFIG`: reads an octo.yaml (or one config.json,
 * model folder or .gguf with vLLM-style flags), hands its model entries to
 * the planner and prints the report. It computes nothing itself.
 */
#include "cli.h"
#include "cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config.h"
#include "hub/hub.h"
#include "plan/plan.h"

static const char k_help[] =
    "usage: octo plan CONFIG [--gpus auto|SPEC] [--json] [--place] [model flags]\n"
    "\n"
    "Predicts the GPU memory of every model in CONFIG (an octo.yaml, or one model's\n"
    "config.json / folder / .gguf): weights per GPU under tensor and expert parallelism,\n"
    "KV bytes per token, activation workspace and runtime reserve, the KV capacity that\n"
    "gpu_memory_utilization leaves (tokens, full-length sequences), and a per-GPU table.\n"
    "What does not fit gets its exact shortfall and what would make it fit.\n"
    "The derivation: docs/PLAN.md.\n"
    "\n"
    "  --gpus SPEC        the GPUs: auto (nvidia-smi, the default) or COUNTxNAME[-<N>G],\n"
    "                     comma-separated: 8xL20-48G, 4xH100-80G, 2xA100-40G,2xL4\n"
    "  --json             one JSON object (every figure in bytes) instead of tables\n"
    "  --place            propose devices, tensor parallelism and utilisations (the\n"
    "                     config's own devices and shares are set aside)\n"
    "\n"
    "For a single config.json (ignored for an octo.yaml):\n"
    "  --name NAME                       name in the report\n"
    "  --task generate|embed|score       (default generate)\n"
    "  --gpu-memory-utilization F        (default 0.9)\n"
    "  --max-model-len N                 (default the model's, at most 32768)\n"
    "  --tensor-parallel-size N, -tp N   (default 1)\n"
    "  --enable-expert-parallel          spread the experts whole over the GPUs\n"
    "  --max-num-seqs N                  (default 256)\n"
    "  --max-num-batched-tokens N        (default 8192; embed/score 16384)\n"
    "  --quantization Q, -q Q            bf16, f16, awq, gptq, fp8, or a GGUF type (q4_k)\n"
    "  --quantization-group-size N       awq/gptq group (default the checkpoint's, or 128)\n"
    "  --devices LIST                    GPU indices, e.g. 0,1,2,3 (default 0..tp-1)\n"
    "\n"
    "Exit status: 0 the plan fits, 1 it does not (or a model could not be sized),\n"
    "2 bad arguments or configuration.\n";

typedef struct plan_args {
    const char *config, *gpus, *name, *quant;
    bool json, place;
    octo_plan_model single;
} plan_args;

static bool is_yaml(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && !strcasecmp(path + n - 5, ".yaml")) ||
           (n > 4 && !strcasecmp(path + n - 4, ".yml"));
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!s[0] || *end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

static bool parse_devices(const char *s, octo_plan_model *m)
{
    m->n_devices = 0;
    const char *p = s;
    while (*p) {
        char *end = NULL;
        long d = strtol(p, &end, 10);
        if (end == p || d < 0 || d > 255 || m->n_devices >= OCTO_PLAN_MAX_DEVICES) return false;
        m->devices[m->n_devices++] = (int)d;
        if (*end == ',') end++;
        else if (*end) return false;
        p = end;
    }
    return m->n_devices > 0;
}

static int parse_args(int argc, char **argv, plan_args *a)
{
    memset(a, 0, sizeof *a);
    a->gpus = "auto";
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        bool took = true;
        if (!strcmp(f, "--json")) {
            a->json = true;
            took = false;
        } else if (!strcmp(f, "--place")) {
            a->place = true;
            took = false;
        } else if (!strcmp(f, "--enable-expert-parallel")) {
            a->single.expert_parallel = true;
            took = false;
        } else if (f[0] != '-') {
            if (a->config) {
                fprintf(stderr, "octo plan: one CONFIG only ('%s' and '%s')\n", a->config, f);
                return OCTO_EXIT_USAGE;
            }
            a->config = f;
            took = false;
        } else if (!v) {
            fprintf(stderr, "octo plan: %s needs a value\n", f);
            return OCTO_EXIT_USAGE;
        } else if (!strcmp(f, "--gpus")) {
            a->gpus = v;
        } else if (!strcmp(f, "--name")) {
            a->single.name = v;
        } else if (!strcmp(f, "--task")) {
            octo_plan_task *t = &a->single.task;
            if (!strcmp(v, "generate")) *t = OCTO_PLAN_GENERATE;
            else if (!strcmp(v, "embed") || !strcmp(v, "embedding")) *t = OCTO_PLAN_EMBED;
            else if (!strcmp(v, "score") || !strcmp(v, "rerank")) *t = OCTO_PLAN_SCORE;
            else goto bad;
        } else if (!strcmp(f, "--gpu-memory-utilization")) {
            if (!parse_num(v, 0.01, 1.0, &x)) goto bad;
            a->single.gpu_memory_utilization = x;
        } else if (!strcmp(f, "--max-model-len")) {
            if (!parse_num(v, 1, (double)OCTO_LIMIT_PROMPT_TOKENS, &x)) goto bad;
            a->single.max_model_len = (int64_t)x;
        } else if (!strcmp(f, "--tensor-parallel-size") || !strcmp(f, "-tp")) {
            if (!parse_num(v, 1, OCTO_PLAN_MAX_DEVICES, &x)) goto bad;
            a->single.tensor_parallel_size = (int64_t)x;
        } else if (!strcmp(f, "--max-num-seqs")) {
            if (!parse_num(v, 1, 65536, &x)) goto bad;
            a->single.max_num_seqs = (int64_t)x;
        } else if (!strcmp(f, "--max-num-batched-tokens")) {
            if (!parse_num(v, 1, 1 << 24, &x)) goto bad;
            a->single.max_num_batched_tokens = (int64_t)x;
        } else if (!strcmp(f, "--quantization") || !strcmp(f, "-q")) {
            a->single.quantization = v;
        } else if (!strcmp(f, "--quantization-group-size")) {
            if (!parse_num(v, -1, 65536, &x) || (x != -1 && x < 1)) goto bad;
            a->single.group_size = (int64_t)x;
        } else if (!strcmp(f, "--devices")) {
            if (!parse_devices(v, &a->single)) goto bad;
        } else {
            fprintf(stderr, "octo plan: unknown option '%s' (see octo plan --help)\n", f);
            return OCTO_EXIT_USAGE;
        }
        if (took) i++;
        continue;
    bad:
        fprintf(stderr, "octo plan: bad value '%s' for %s\n", v, f);
        return OCTO_EXIT_USAGE;
    }
    if (!a->config) {
        fprintf(stderr, "octo plan: CONFIG missing (an octo.yaml or a config.json)\n");
        return OCTO_EXIT_USAGE;
    }
    return OCTO_EXIT_OK;
}

/* --gpus auto: what nvidia-smi lists (none without a driver). */
static int gpus_auto(octo_plan_gpus *g)
{
    FILE *f = popen("nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits "
                    "2>/dev/null", "r");
    if (!f) return 0;
    char line[256];
    while (g->n < OCTO_PLAN_MAX_GPUS && fgets(line, sizeof line, f)) {
        char *comma = strrchr(line, ',');
        if (!comma) continue;
        *comma = '\0';
        char *name = line;
        if (!strncmp(name, "NVIDIA ", 7)) name += 7;
        name[strcspn(name, " ")] = '\0';
        char *end = NULL;
        unsigned long long mib = strtoull(comma + 1, &end, 10);
        if (end == comma + 1 || !mib) continue;
        octo_plan_gpu *x = &g->gpu[g->n++];
        snprintf(x->name, sizeof x->name, "%.31s", name);
        x->bytes = mib << 20;
    }
    pclose(f);
    return g->n;
}

/* After a failure: an ORG/NAME that is neither local nor in the cache. */
static void hub_hint(const char *path)
{
    char repo[256], rev[128], cache[OCTO_LIMIT_PATH_BYTES];
    if (!path || access(path, F_OK) == 0 || !octo_hub_parse_id(path, repo, sizeof repo, rev,
                                                                sizeof rev))
        return;
    if (octo_hub_cache_dir(cache, sizeof cache)) cache[0] = '\0';
    fprintf(stderr, "octo plan: %s is not in the Hugging Face cache (%s): octo pull %s\n",
            path, cache, path);
}

static octo_plan_task task_of(octo_task t)
{
    return t == OCTO_TASK_EMBED ? OCTO_PLAN_EMBED
           : t == OCTO_TASK_SCORE ? OCTO_PLAN_SCORE
                                  : OCTO_PLAN_GENERATE;
}

/* Adds the generate/embed/score entries of an octo.yaml; the others are
 * listed as not planned. Returns the number of models that failed. */
static int add_yaml(octo_plan *p, const octo_config *cfg, bool quiet)
{
    int failed = 0;
    char err[512];
    char path[OCTO_LIMIT_PATH_BYTES];
    for (size_t i = 0; i < cfg->n_models; i++) {
        const octo_model_config *m = &cfg->models[i];
        if (m->task == OCTO_TASK_TRANSCRIBE || m->task == OCTO_TASK_PARSE) {
            if (!quiet)
                fprintf(stderr, "octo plan: %s (%s) not planned: the planner knows LLM, VLM, "
                        "embedding and reranker layouts only\n", m->name,
                        octo_config_task_name(m->task));
            continue;
        }
        octo_plan_model pm;
        memset(&pm, 0, sizeof pm);
        pm.name = m->name;
        pm.path = m->path;
        if (m->path && octo_hub_resolve(m->path, path, sizeof path)) pm.path = path;
        pm.task = task_of(m->task);
        pm.n_devices = (int)m->n_devices;
        for (size_t d = 0; d < m->n_devices && d < OCTO_PLAN_MAX_DEVICES; d++)
            pm.devices[d] = m->devices[d];
        pm.gpu_memory_utilization = m->gpu_memory_utilization;
        pm.max_model_len = m->max_model_len;
        pm.tensor_parallel_size = m->tensor_parallel_size;
        pm.expert_parallel = m->enable_expert_parallel;
        pm.max_num_seqs = m->max_num_seqs;
        pm.max_num_batched_tokens = m->max_num_batched_tokens;
        pm.quantization = m->quantization;
        pm.group_size = m->quantization_group_size;
        if (octo_plan_add(p, &pm, err, sizeof err)) {
            if (!quiet) fprintf(stderr, "octo plan: %s\n", err);
            if (!quiet) hub_hint(m->path);
            failed++;
        }
    }
    return failed;
}

int octo_cli_plan(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return OCTO_EXIT_OK;
    }
    plan_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    octo_plan_gpus gpus;
    memset(&gpus, 0, sizeof gpus);
    char err[512];
    if (strcmp(a.gpus, "auto") != 0 && octo_plan_gpus_parse(a.gpus, &gpus, err, sizeof err)) {
        fprintf(stderr, "octo plan: %s\n", err);
        return OCTO_EXIT_USAGE;
    }
    bool auto_gpus = !strcmp(a.gpus, "auto");
    if (auto_gpus) gpus_auto(&gpus);

    octo_config cfg;
    octo_config_init(&cfg);
    octo_plan *p = NULL;
    int failed = 0;
    if (is_yaml(a.config)) {
        if (octo_config_load_file(&cfg, a.config, err, sizeof err) ||
            octo_config_validate(&cfg, err, sizeof err)) {
            fprintf(stderr, "octo plan: %s\n", err);
            octo_config_deinit(&cfg);
            return OCTO_EXIT_USAGE;
        }
    }
    bool needs_gpus = a.place;
    for (size_t i = 0; i < cfg.n_models; i++) needs_gpus |= cfg.models[i].n_devices > 0;
    if (!is_yaml(a.config)) needs_gpus = true;
    if (needs_gpus && gpus.n == 0) {
        fprintf(stderr, "octo plan: no GPU found%s: name them, e.g. --gpus 4xL20-48G or "
                "--gpus 1xH100-80G\n", auto_gpus ? " (nvidia-smi)" : "");
        octo_config_deinit(&cfg);
        return OCTO_EXIT_USAGE;
    }
    p = octo_plan_new(&gpus);
    if (!p) {
        octo_config_deinit(&cfg);
        return OCTO_EXIT_FAIL;
    }
    if (is_yaml(a.config)) {
        failed = add_yaml(p, &cfg, a.json);
    } else {
        octo_plan_model m = a.single;
        char path[OCTO_LIMIT_PATH_BYTES];
        char repo[256], rev[128];
        if (!m.name && access(a.config, F_OK) != 0 &&
            octo_hub_parse_id(a.config, repo, sizeof repo, rev, sizeof rev)) {
            m.name = a.config; /* ORG/NAME */
        } else if (!m.name) { /* the file or folder name */
            const char *slash = strrchr(a.config, '/');
            m.name = slash && slash[1] ? slash + 1 : a.config;
        }
        m.path = octo_hub_resolve(a.config, path, sizeof path) ? path : a.config;
        int64_t tp = m.tensor_parallel_size > 0 ? m.tensor_parallel_size : 1;
        if (m.n_devices == 0 && !a.place) {
            m.n_devices = (int)tp;
            for (int d = 0; d < m.n_devices && d < OCTO_PLAN_MAX_DEVICES; d++) m.devices[d] = d;
        }
        if (octo_plan_add(p, &m, err, sizeof err)) {
            if (!a.json) fprintf(stderr, "octo plan: %s\n", err);
            if (!a.json) hub_hint(a.config);
            failed++;
        }
    }
    if (a.place && octo_plan_place(p, err, sizeof err)) {
        fprintf(stderr, "octo plan: --place: %s\n", err);
        failed++;
    }
    octo_plan_evaluate(p);
    char *report = a.json ? octo_plan_report_json(p) : octo_plan_report_text(p);
    if (report) fputs(report, stdout);
    octo_free(report);
    rc = !report || failed || !octo_plan_fits(p) ? OCTO_EXIT_FAIL : OCTO_EXIT_OK;
    octo_plan_free(p);
    octo_config_deinit(&cfg);
    return rc;
}
