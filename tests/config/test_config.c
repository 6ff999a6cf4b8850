/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config — octo.yaml loading, vLLM flags and validation. Expected
 * values and messages (file:line: key.path: ...) are written out by hand
 * from the inputs, including the line numbers; every case also checks
 * that the counting allocator is back where it started (no leak on any
 * error path), and an allocation-failure sweep covers the NOMEM paths.
 */
#include "config/config.h"
#include "octo_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[1024];

/* Loads yaml into a fresh config and validates it. */
static octo_err load(octo_config *cfg, const char *yaml)
{
    octo_config_init(cfg);
    octo_err rc = octo_config_load_string(cfg, yaml, strlen(yaml), "octo.yaml", err,
                                          sizeof err);
    if (rc == OCTO_OK) rc = octo_config_validate(cfg, err, sizeof err);
    return rc;
}

/* yaml must fail with rc and exactly the message msg, leaking nothing. */
static void bad(const char *yaml, octo_err rc, const char *msg)
{
    size_t live = octo_alloc_live_bytes();
    octo_config cfg;
    octo_err got = load(&cfg, yaml);
    CHECK_EQ_INT(got, rc);
    CHECK_EQ_STR(err, msg);
    octo_config_deinit(&cfg);
    CHECK_EQ_INT(octo_alloc_live_bytes(), live);
}

static octo_err args(octo_config *cfg, const char *const *argv)
{
    int argc = 0;
    while (argv[argc]) argc++;
    octo_config_init(cfg);
    octo_err rc = octo_config_apply_args(cfg, argc, (char **)argv, err, sizeof err);
    if (rc == OCTO_OK) rc = octo_config_validate(cfg, err, sizeof err);
    return rc;
}

static void bad_args(const char *const *argv, octo_err rc, const char *msg)
{
    size_t live = octo_alloc_live_bytes();
    octo_config cfg;
    CHECK_EQ_INT(args(&cfg, argv), rc);
    CHECK_EQ_STR(err, msg);
    octo_config_deinit(&cfg);
    CHECK_EQ_INT(octo_alloc_live_bytes(), live);
}

static char *src_path(const char *rel, char *buf, size_t n)
{
    const char *src = getenv("OCTO_SRC");
    snprintf(buf, n, "%s/%s", src ? src : ".", rel);
    return buf;
}

/* ==== defaults and valid files ==== */

static void test_defaults(void)
{
    octo_config cfg;
    CHECK_EQ_INT(load(&cfg, ""), OCTO_OK);
    CHECK_EQ_STR(cfg.server.host, "127.0.0.1");
    CHECK_EQ_INT(cfg.server.port, 8000);
    CHECK_EQ_INT(cfg.server.n_api_keys, 0);
    CHECK_EQ_INT(cfg.server.max_body_bytes, OCTO_LIMIT_HTTP_BODY_BYTES);
    CHECK_EQ_INT(cfg.server.max_header_bytes, OCTO_LIMIT_HTTP_HEADER_BYTES);
    CHECK_EQ_INT(cfg.server.max_connections, OCTO_LIMIT_HTTP_CONNECTIONS);
    CHECK_EQ_INT(cfg.server.request_timeout_s, OCTO_LIMIT_HTTP_TIMEOUT_S);
    CHECK_EQ_INT(cfg.server.shutdown_grace_s, 30);
    CHECK_EQ_STR(cfg.server.storage_path, "./octo-data");
    CHECK_EQ_STR(cfg.server.log_level, "info");
    CHECK(cfg.server.access_log);
    CHECK_EQ_INT(cfg.n_models, 0);
    CHECK_EQ_STR(cfg.source, "octo.yaml");
    octo_config_deinit(&cfg);
    /* comments only, an explicit null document, empty sections */
    const char *empties[] = {"# nothing\n", "~\n", "---\n...\n", "server:\nmodels:\n",
                             "server: {}\nmodels: []\n"};
    for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
        CHECK_EQ_INT(load(&cfg, empties[i]), OCTO_OK);
        CHECK_EQ_INT(cfg.n_models, 0);
        CHECK_EQ_INT(cfg.server.port, 8000);
        octo_config_deinit(&cfg);
    }
    octo_model_config m;
    octo_config_model_init(&m);
    CHECK_EQ_INT(m.task, OCTO_TASK_GENERATE);
    CHECK(m.gpu_memory_utilization == 0.9);
    CHECK_EQ_INT(m.tensor_parallel_size, 1);
    CHECK_EQ_INT(m.max_num_seqs, 256);
    CHECK_EQ_INT(m.max_model_len, 0);
    CHECK_EQ_STR(m.dtype, "auto");
    CHECK(m.quantization == NULL && m.name == NULL && m.tool_call_parser == NULL);
    CHECK_EQ_INT(m.load_format, OCTO_LOAD_AUTO);
    CHECK_EQ_STR(octo_config_task_name(OCTO_TASK_SCORE), "score");
    CHECK_EQ_STR(octo_config_task_name(OCTO_TASK_TRANSCRIBE), "transcribe");
    octo_config_deinit(NULL);
}

static void test_full_file(void)
{
    const char *yaml =
        "server:\n"                                   /* 1 */
        "  host: 0.0.0.0\n"
        "  port: 9000\n"
        "  api_key: sk-one\n"
        "  limits:\n"                                 /* 5 */
        "    max_body_bytes: 1048576\n"
        "    max_header_bytes: 8192\n"
        "    max_connections: 16\n"
        "    request_timeout_s: 5\n"
        "    shutdown_grace_s: 0\n"                   /* 10 */
        "  storage_path: /tmp/x\n"
        "  log_level: warning\n"
        "  access_log: no\n"
        "models:\n"
        "  - name: a\n"                               /* 15 */
        "    model: /m/a\n"
        "    aliases: [a2, a3]\n"
        "    task: reranker\n"
        "    devices: 2-3\n"
        "    tensor_parallel_size: 2\n"               /* 20 */
        "    gpu_memory_utilization: 0.5\n"
        "    max_model_len: 32k\n"
        "    max_num_seqs: 8\n"
        "    max_num_batched_tokens: 4K\n"
        "    dtype: half\n"                           /* 25 */
        "    quantization: ~\n"
        "    load_format: dummy\n"
        "    seed: 7\n"
        "    chat_template: \"/t/x.jinja\"\n"
        "  - {name: b, path: 'hub/id', task: transcription, port: \"9001\"}\n"; /* 30 */
    octo_config cfg;
    CHECK_EQ_INT(load(&cfg, yaml), OCTO_OK);
    CHECK_EQ_STR(err, "");
    const octo_server_config *s = &cfg.server;
    CHECK_EQ_STR(s->host, "0.0.0.0");
    CHECK_EQ_INT(s->port, 9000);
    CHECK_EQ_INT(s->n_api_keys, 1);
    CHECK_EQ_STR(s->api_keys[0], "sk-one");
    CHECK_EQ_INT(s->max_body_bytes, 1048576);
    CHECK_EQ_INT(s->max_header_bytes, 8192);
    CHECK_EQ_INT(s->max_connections, 16);
    CHECK_EQ_INT(s->request_timeout_s, 5);
    CHECK_EQ_INT(s->shutdown_grace_s, 0);
    CHECK_EQ_STR(s->storage_path, "/tmp/x");
    CHECK_EQ_STR(s->log_level, "warn");
    CHECK(!s->access_log);
    CHECK_EQ_INT(cfg.n_models, 2);
    const octo_model_config *a = &cfg.models[0], *b = &cfg.models[1];
    CHECK_EQ_STR(a->name, "a");
    CHECK_EQ_STR(a->path, "/m/a");
    CHECK_EQ_INT(a->n_aliases, 2);
    CHECK_EQ_STR(a->aliases[1], "a3");
    CHECK_EQ_INT(a->task, OCTO_TASK_SCORE);
    CHECK_EQ_INT(a->n_devices, 2);
    CHECK_EQ_INT(a->devices[0], 2);
    CHECK_EQ_INT(a->devices[1], 3);
    CHECK(a->gpu_memory_utilization == 0.5);
    CHECK_EQ_INT(a->max_model_len, 32000);
    CHECK_EQ_INT(a->max_num_seqs, 8);
    CHECK_EQ_INT(a->max_num_batched_tokens, 4096);
    CHECK_EQ_STR(a->dtype, "float16");
    CHECK(a->quantization == NULL);
    CHECK_EQ_INT(a->load_format, OCTO_LOAD_DUMMY);
    CHECK_EQ_INT(a->seed, 7);
    CHECK_EQ_STR(a->chat_template, "/t/x.jinja");
    CHECK_EQ_INT(a->line, 15);
    CHECK_EQ_STR(b->name, "b");
    CHECK_EQ_STR(b->path, "hub/id");
    CHECK_EQ_INT(b->task, OCTO_TASK_TRANSCRIBE);
    CHECK_EQ_INT(b->port, 9001);
    CHECK_EQ_INT(b->line, 30);
    CHECK(octo_config_model_find(&cfg, "a3") == a);
    CHECK(octo_config_model_find(&cfg, "b") == b);
    CHECK(octo_config_model_find(&cfg, "c") == NULL);
    CHECK(octo_config_model_find(&cfg, NULL) == NULL);
    octo_config_deinit(&cfg);
}

static void test_task_aliases(void)
{
    const char *in[] = {"generate", "embed", "embedding", "score", "rerank", "reranker",
                        "transcribe", "transcription", "parse"};
    const octo_task want[] = {OCTO_TASK_GENERATE, OCTO_TASK_EMBED, OCTO_TASK_EMBED,
                              OCTO_TASK_SCORE, OCTO_TASK_SCORE, OCTO_TASK_SCORE,
                              OCTO_TASK_TRANSCRIBE, OCTO_TASK_TRANSCRIBE, OCTO_TASK_PARSE};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "models:\n- name: m\n  path: p\n  task: %s\n", in[i]);
        octo_config cfg;
        CHECK_EQ_INT(load(&cfg, yaml), OCTO_OK);
        CHECK_EQ_INT(cfg.models[0].task, want[i]);
        octo_config_deinit(&cfg);
    }
}

static void test_example_files(void)
{
    char path[4096];
    octo_config cfg;
    size_t live = octo_alloc_live_bytes();
    octo_config_init(&cfg);
    src_path("examples/reference-8xL20.yaml", path, sizeof path);
    CHECK_EQ_INT(octo_config_load_file(&cfg, path, err, sizeof err), OCTO_OK);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_INT(octo_config_validate(&cfg, err, sizeof err), OCTO_OK);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_INT(cfg.n_models, 6);
    const char *names[] = {"LLM", "VLM", "EMBEDDING", "RERANKER", "ASR", "MINERU"};
    const long ports[] = {10000, 10001, 10004, 10005, 0, 10018};
    const octo_task tasks[] = {OCTO_TASK_GENERATE, OCTO_TASK_GENERATE, OCTO_TASK_EMBED,
                               OCTO_TASK_SCORE, OCTO_TASK_TRANSCRIBE, OCTO_TASK_PARSE};
    for (size_t i = 0; i < 6 && i < cfg.n_models; i++) {
        CHECK_EQ_STR(cfg.models[i].name, names[i]);
        CHECK_EQ_INT(cfg.models[i].port, ports[i]);
        CHECK_EQ_INT(cfg.models[i].task, tasks[i]);
    }
    const octo_model_config *llm = octo_config_model_find(&cfg, "LLM");
    const octo_model_config *vlm = octo_config_model_find(&cfg, "VLM");
    CHECK(llm && vlm);
    if (llm && vlm) {
        CHECK_EQ_INT(llm->tensor_parallel_size, 4);
        CHECK_EQ_INT(llm->n_devices, 4);
        CHECK(llm->gpu_memory_utilization == 0.75);
        CHECK_EQ_INT(llm->max_model_len, 65536);
        CHECK_EQ_STR(llm->tool_call_parser, "hermes");
        CHECK_EQ_STR(llm->quantization, "awq");
        CHECK(llm->enable_auto_tool_choice && llm->trust_remote_code);
        CHECK_EQ_INT(llm->line, 33);
        CHECK(vlm->enable_expert_parallel);
        CHECK_EQ_INT(vlm->devices[0], 4);
        CHECK_EQ_INT(vlm->max_model_len, 42000);
        CHECK_EQ_STR(vlm->reasoning_parser, "glm45");
        CHECK(vlm->gpu_memory_utilization == 0.45);
    }
    CHECK(octo_config_model_find(&cfg, "paraformer") == &cfg.models[4]);
    CHECK_EQ_STR(cfg.server.host, "0.0.0.0");
    CHECK_EQ_INT(cfg.server.max_body_bytes, 268435456);
    octo_config_deinit(&cfg);

    octo_config_init(&cfg);
    src_path("octo.yaml", path, sizeof path);
    CHECK_EQ_INT(octo_config_load_file(&cfg, path, err, sizeof err), OCTO_OK);
    CHECK_EQ_INT(octo_config_validate(&cfg, err, sizeof err), OCTO_OK);
    CHECK_EQ_STR(cfg.server.host, "127.0.0.1");
    CHECK_EQ_INT(cfg.server.port, 8000);
    CHECK_EQ_STR(cfg.server.storage_path, "./octo-data");
    CHECK_EQ_INT(cfg.n_models, 3); /* the demo models */
    const char *demos[] = {"demo-chat", "demo-embed", "demo-rerank"};
    const octo_task demo_tasks[] = {OCTO_TASK_GENERATE, OCTO_TASK_EMBED, OCTO_TASK_SCORE};
    for (size_t i = 0; i < 3 && i < cfg.n_models; i++) {
        CHECK_EQ_STR(cfg.models[i].name, demos[i]);
        CHECK_EQ_INT(cfg.models[i].task, demo_tasks[i]);
        CHECK(cfg.models[i].demo && cfg.models[i].note);
    }
    CHECK_EQ_STR(cfg.source, path);
    octo_config_deinit(&cfg);
    CHECK_EQ_INT(octo_alloc_live_bytes(), live);
}

/* ==== invalid files: exact messages ==== */

static void test_bad_values(void)
{
    bad("models:\n"
        "  - name: a\n"
        "    path: p\n"
        "  - name: b\n"
        "    path: q\n"
        "    port: abc\n",
        OCTO_E_INVALID, "octo.yaml:6: models[1].port: expected an integer in 1..65535, "
                        "got 'abc'");
    bad("server:\n  port: 70000\n", OCTO_E_INVALID,
        "octo.yaml:2: server.port: expected an integer in 0..65535, got '70000'");
    bad("server:\n  port: 80.5\n", OCTO_E_INVALID,
        "octo.yaml:2: server.port: expected an integer in 0..65535, got '80.5'");
    bad("server:\n  port:\n", OCTO_E_INVALID,
        "octo.yaml:2: server.port: expected an integer in 0..65535, got nothing");
    bad("server:\n  limits:\n    max_connections: 0\n", OCTO_E_INVALID,
        "octo.yaml:3: server.limits.max_connections: expected an integer in 1..1000000, "
        "got '0'");
    bad("models:\n- name: a\n  path: p\n  gpu_memory_utilization: 1.5\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].gpu_memory_utilization: expected a fraction in (0, 1], "
        "got '1.5'");
    bad("models:\n- name: a\n  path: p\n  gpu_memory_utilization: 0\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].gpu_memory_utilization: expected a fraction in (0, 1], "
        "got '0'");
    bad("models:\n- name: a\n  path: p\n  task: chat\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].task: expected one of generate, embed, score, transcribe, "
        "parse, got 'chat'");
    bad("models:\n- name: a\n  path: p\n  tool_call_parser: mistral\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].tool_call_parser: expected one of hermes, glm45, "
        "got 'mistral'");
    bad("models:\n- name: a\n  path: p\n  reasoning_parser: granite\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].reasoning_parser: expected one of qwen3, glm45, "
        "deepseek_r1, got 'granite'");
    bad("models:\n- name: a\n  path: p\n  dtype: int8\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].dtype: expected one of auto, bfloat16, float16, float32, "
        "got 'int8'");
    bad("models:\n- name: a\n  path: p\n  quantization: bnb\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].quantization: expected one of awq, gptq, fp8, got 'bnb'");
    bad("models:\n- name: a\n  path: p\n  load_format: pt\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].load_format: expected one of auto, dummy, got 'pt'");
    bad("models:\n- name: a\n  path: p\n  trust_remote_code: maybe\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].trust_remote_code: expected true or false, got 'maybe'");
    bad("models:\n- name: a\n  path: p\n  tensor_parallel_size: 0\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].tensor_parallel_size: expected an integer in 1..16, got '0'");
    bad("models:\n- name: a\n  path: p\n  max_model_len: 2M\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].max_model_len: expected a token count in 0..1048576 "
        "(like 8192, 64k or 64K), got '2M'");
    bad("models:\n- name: a\n  path: p\n  devices: [0, x]\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].devices[1]: expected GPU ordinals in 0..255 (like 0,1 or "
        "4-7; at most 16), got 'x'");
    bad("models:\n- name: a\n  path: p\n  devices: [0, 0]\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].devices[1]: device 0 is listed twice");
    bad("models:\n- name: a\n  path: p\n  devices: {a: 1}\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].devices: expected a list of GPU ordinals, got a mapping");
    bad("models:\n- name: ''\n  path: p\n", OCTO_E_INVALID,
        "octo.yaml:2: models[0].name: must not be empty");
    bad("models:\n- name: \"a\\tb\"\n  path: p\n", OCTO_E_INVALID,
        "octo.yaml:2: models[0].name: contains a control character");
    bad("models:\n- name: \"a\\0b\"\n  path: p\n", OCTO_E_PARSE,
        "octo.yaml:2: a value contains a NUL character");
    bad("models:\n- name: [x]\n  path: p\n", OCTO_E_INVALID,
        "octo.yaml:2: models[0].name: expected a non-empty string of at most 255 bytes, "
        "got a list");
    bad("server:\n  api_keys: [a, [b]]\n", OCTO_E_INVALID,
        "octo.yaml:2: server.api_keys[1]: expected a non-empty string of at most 1023 "
        "bytes, got a list");
    bad("server:\n  log_level: loud\n", OCTO_E_INVALID,
        "octo.yaml:2: server.log_level: expected one of debug, info, warn, error, off, "
        "got 'loud'");
    char longname[400];
    memset(longname, 'x', 300);
    longname[300] = '\0';
    char yaml[600];
    snprintf(yaml, sizeof yaml, "models:\n- name: %s\n  path: p\n", longname);
    bad(yaml, OCTO_E_INVALID, "octo.yaml:2: models[0].name: is 300 bytes long, at most 255 "
                              "allowed");
}

static void test_bad_structure(void)
{
    bad("server:\n  host: x\n  prot: 80\n", OCTO_E_INVALID,
        "octo.yaml:3: server: unknown key 'prot' (did you mean 'port'?)");
    bad("server:\n  limit:\n    max_connections: 3\n", OCTO_E_INVALID,
        "octo.yaml:2: server: unknown key 'limit' (did you mean 'limits'?)");
    bad("server:\n  zzzzzzzz: 1\n", OCTO_E_INVALID, "octo.yaml:2: server: unknown key "
                                                   "'zzzzzzzz'");
    bad("serve:\n  port: 1\n", OCTO_E_INVALID,
        "octo.yaml:1: unknown top-level key 'serve' (expected server or models)");
    bad("models:\n- name: a\n  path: p\n  max_model_length: 5\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0]: unknown key 'max_model_length' (did you mean "
        "'max_model_len'?)");
    bad("server:\n  port: 1\n  host: a\n  port: 2\n", OCTO_E_INVALID,
        "octo.yaml:4: server: duplicated key 'port' (first at line 2)");
    bad("server:\n  api_key: a\n  api_keys: [b]\n", OCTO_E_INVALID,
        "octo.yaml:3: server: 'api_keys' and 'api_key' (line 2) set the same thing; "
        "keep one");
    bad("server:\n  storage_path: a\n  storage:\n    path: b\n", OCTO_E_INVALID,
        "octo.yaml:3: server: 'storage' and 'storage_path' (line 2) set the same thing; "
        "keep one");
    bad("models: []\nserver: {}\nmodels: []\n", OCTO_E_INVALID,
        "octo.yaml:3: duplicated key 'models' (first at line 1)");
    bad("- a\n- b\n", OCTO_E_INVALID,
        "octo.yaml:1: expected a mapping with server: and models: at the top, got a list");
    bad("just text\n", OCTO_E_INVALID,
        "octo.yaml:1: expected a mapping with server: and models: at the top, got 'just "
        "text'");
    bad("server:\n  - host: a\n", OCTO_E_INVALID,
        "octo.yaml:2: server: expected a mapping of settings, got a list");
    bad("server:\n  limits: 5\n", OCTO_E_INVALID,
        "octo.yaml:2: server.limits: expected a mapping of settings, got '5'");
    bad("models:\n  name: a\n  path: p\n", OCTO_E_INVALID,
        "octo.yaml:2: models: expected a list of models ('- name: ...'), got a mapping");
    bad("models:\n  - a\n", OCTO_E_INVALID,
        "octo.yaml:2: models[0]: expected a mapping with name: and path:, got 'a'");
    bad("models:\n  - name: a\n\n  - path: p\n", OCTO_E_INVALID,
        "octo.yaml:2: models[0]: missing key 'path' (or 'base_url')");
    bad("models:\n  - name: a\n    path: p\n  - path: p\n", OCTO_E_INVALID,
        "octo.yaml:4: models[1]: missing key 'name'");
    bad("server:\n  [a]: 1\n", OCTO_E_INVALID,
        "octo.yaml:2: server: keys must be plain names, got a list");
}

static void test_bad_yaml(void)
{
    bad("server:\n  port: 1\n host: x\n", OCTO_E_PARSE,
        "octo.yaml:3:2: YAML syntax error: did not find expected key while parsing a "
        "block mapping at line 1");
    bad("server: [1, 2\n", OCTO_E_PARSE,
        "octo.yaml:2:1: YAML syntax error: did not find expected ',' or ']' while parsing "
        "a flow sequence at line 1");
    bad("a: 'x\n", OCTO_E_PARSE,
        "octo.yaml:2:1: YAML syntax error: found unexpected end of stream while scanning "
        "a quoted scalar at line 1");
    bad("server: &s\n  port: 1\nmodels: *s\n", OCTO_E_PARSE,
        "octo.yaml:3: YAML aliases (*s) are not supported; write the value out");
    bad("server:\n  port: 1\n---\nserver: {}\n", OCTO_E_PARSE,
        "octo.yaml:3: a second YAML document ('---'); octo.yaml holds one");
    bad("server:\n  host: \"\xff\"\n", OCTO_E_PARSE,
        "octo.yaml:2: YAML: invalid leading UTF-8 octet (byte 17)");
    /* an anchor alone is harmless */
    octo_config cfg;
    CHECK_EQ_INT(load(&cfg, "server: &s\n  port: 81\n"), OCTO_OK);
    CHECK_EQ_INT(cfg.server.port, 81);
    octo_config_deinit(&cfg);
    /* nesting bound */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = '\0';
    char yaml[256];
    snprintf(yaml, sizeof yaml, "server:\n  x: %s]\n", deep);
    bad(yaml, OCTO_E_PARSE, "octo.yaml:2: nested more than 32 levels deep");
}

static void test_limits(void)
{
    /* 65 models: the 65th is refused with its line */
    octo_buf b;
    octo_buf_init(&b, 1 << 20);
    CHECK_EQ_INT(octo_buf_puts(&b, "models:\n"), OCTO_OK);
    for (int i = 0; i < 65; i++)
        CHECK_EQ_INT(octo_buf_printf(&b, "- {name: m%d, path: p}\n", i), OCTO_OK);
    bad(b.data, OCTO_E_TOO_LARGE, "octo.yaml:66: models[64]: more than 64 models");
    octo_buf_deinit(&b);

    /* a string over OCTO_LIMIT_CONFIG_BYTES is refused before parsing */
    size_t n = OCTO_LIMIT_CONFIG_BYTES + 1;
    char *big = malloc(n + 1);
    memset(big, '#', n);
    big[n] = '\0';
    octo_config cfg;
    octo_config_init(&cfg);
    CHECK_EQ_INT(octo_config_load_string(&cfg, big, n, "big.yaml", err, sizeof err),
                 OCTO_E_TOO_LARGE);
    CHECK_EQ_STR(err, "big.yaml: 4194305 bytes, more than the limit of 4194304 bytes");
    octo_config_deinit(&cfg);

    /* the same as a file */
    char path[] = "/tmp/octo_test_config_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, big, n) == (ssize_t)n);
    close(fd);
    octo_config_init(&cfg);
    CHECK_EQ_INT(octo_config_load_file(&cfg, path, err, sizeof err), OCTO_E_TOO_LARGE);
    char want[256];
    snprintf(want, sizeof want, "%s: larger than the limit of 4194304 bytes", path);
    CHECK_EQ_STR(err, want);
    octo_config_deinit(&cfg);
    unlink(path);
    free(big);

    octo_config_init(&cfg);
    CHECK_EQ_INT(octo_config_load_file(&cfg, "/nonexistent/octo.yaml", err, sizeof err),
                 OCTO_E_IO);
    CHECK_EQ_STR(err, "/nonexistent/octo.yaml: no such file");
    CHECK_EQ_INT(octo_config_load_file(&cfg, "/tmp", err, sizeof err), OCTO_E_IO);
    CHECK_EQ_STR(err, "/tmp: cannot read (not a regular file, or no access)");
    octo_config_deinit(&cfg);

    /* 9 aliases (at most 8), 17 devices (at most 16) */
    bad("models:\n- name: a\n  path: p\n  aliases: [b, c, d, e, f, g, h, i, j]\n",
        OCTO_E_INVALID, "octo.yaml:4: models[0].aliases[8]: more than 8 entries");
    bad("models:\n- name: a\n  path: p\n  devices: 0-16\n", OCTO_E_INVALID,
        "octo.yaml:4: models[0].devices: more than 16 devices");
}

/* ==== validation ==== */

static void test_validate(void)
{
    bad("models:\n- {name: a, path: p}\n- {name: a, path: q}\n", OCTO_E_INVALID,
        "octo.yaml:3: models[1].name: 'a' is already served by models[0]");
    bad("models:\n- {name: a, path: p, aliases: [x]}\n- {name: b, path: q, aliases: [x]}\n",
        OCTO_E_INVALID, "octo.yaml:3: models[1].aliases: 'x' is already served by models[0]");
    bad("models:\n- {name: a, path: p, aliases: [a]}\n", OCTO_E_INVALID,
        "octo.yaml:2: models[0].aliases: 'a' is already the name");
    bad("models:\n- {name: a, path: p, aliases: [x, x]}\n", OCTO_E_INVALID,
        "octo.yaml:2: models[0].aliases: 'x' is listed twice");
    bad("models:\n- {name: a, path: p, port: 10}\n- {name: b, path: q, port: 10}\n",
        OCTO_E_INVALID, "octo.yaml:3: models[1].port: 10 is already used by models[0]");
    bad("server: {port: 10}\nmodels:\n- {name: a, path: p, port: 10}\n", OCTO_E_INVALID,
        "octo.yaml:3: models[0].port: 10 is also the server's port");
    bad("models:\n- {name: a, path: p, task: embed, tool_call_parser: hermes}\n",
        OCTO_E_INVALID,
        "octo.yaml:2: models[0].tool_call_parser: only applies to task generate, not embed");
    bad("models:\n- {name: a, path: p, task: score, reasoning_parser: qwen3}\n",
        OCTO_E_INVALID,
        "octo.yaml:2: models[0].reasoning_parser: only applies to task generate, not score");
    bad("models:\n- {name: a, path: p, enable_auto_tool_choice: true}\n", OCTO_E_INVALID,
        "octo.yaml:2: models[0].enable_auto_tool_choice: needs tool_call_parser (hermes or "
        "glm45)");
    bad("models:\n- {name: a, path: p, devices: [0, 1], tensor_parallel_size: 4}\n",
        OCTO_E_INVALID, "octo.yaml:2: models[0].devices: 2 device(s) given for "
                        "tensor_parallel_size 4 (they must match)");
    bad("models:\n- {name: a, path: p, max_num_seqs: 64, max_num_batched_tokens: 32}\n",
        OCTO_E_INVALID,
        "octo.yaml:2: models[0].max_num_batched_tokens: 32 is smaller than max_num_seqs 64");
    bad("models:\n"
        "- {name: a, path: p, devices: [3], gpu_memory_utilization: 0.6}\n"
        "- {name: b, path: q, devices: [2], gpu_memory_utilization: 0.6}\n"
        "- {name: c, path: r, devices: [3], gpu_memory_utilization: 0.5}\n",
        OCTO_E_INVALID, "octo.yaml:4: models[2].gpu_memory_utilization: the models on GPU 3 "
                        "now ask for 1.10 of its memory (more than 1)");
}

/* ==== vLLM flags ==== */

static void test_args_reference(void)
{
    const char *llm[] = {"serve", "/models/Qwen3-235B-A22B-AWQ", "--served-model-name",
                         "LLM", "--host", "0.0.0.0", "--port", "10000",
                         "--tensor-parallel-size", "4", "--gpu-memory-utilization", "0.75",
                         "--max-model-len", "65536", "--enable-auto-tool-choice",
                         "--tool-call-parser", "hermes", "--api-key", "sk-xxx",
                         "--trust-remote-code", NULL};
    octo_config cfg;
    size_t live = octo_alloc_live_bytes();
    CHECK_EQ_INT(args(&cfg, llm), OCTO_OK);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_INT(cfg.n_models, 1);
    const octo_model_config *m = &cfg.models[0];
    CHECK_EQ_STR(m->name, "LLM");
    CHECK_EQ_STR(m->path, "/models/Qwen3-235B-A22B-AWQ");
    CHECK_EQ_INT(m->task, OCTO_TASK_GENERATE);
    CHECK_EQ_INT(m->tensor_parallel_size, 4);
    CHECK(m->gpu_memory_utilization == 0.75);
    CHECK_EQ_INT(m->max_model_len, 65536);
    CHECK(m->enable_auto_tool_choice && m->trust_remote_code);
    CHECK_EQ_STR(m->tool_call_parser, "hermes");
    CHECK_EQ_INT(m->line, 0);
    CHECK_EQ_STR(cfg.server.host, "0.0.0.0");
    CHECK_EQ_INT(cfg.server.port, 10000);
    CHECK_EQ_INT(cfg.server.n_api_keys, 1);
    CHECK_EQ_STR(cfg.server.api_keys[0], "sk-xxx");
    octo_config_deinit(&cfg);

    const char *vlm[] = {"serve", "/models/GLM-4.5V-AWQ", "--served-model-name=VLM",
                         "--tensor-parallel-size=4", "--enable-expert-parallel",
                         "--reasoning-parser", "glm45", "--tool-call-parser=glm45",
                         "--enable-auto-tool-choice", "--max-model-len", "42000",
                         "--gpu-memory-utilization=0.45", "--port", "10001", NULL};
    CHECK_EQ_INT(args(&cfg, vlm), OCTO_OK);
    CHECK_EQ_STR(err, "");
    CHECK(cfg.models[0].enable_expert_parallel);
    CHECK_EQ_STR(cfg.models[0].reasoning_parser, "glm45");
    CHECK_EQ_STR(cfg.models[0].tool_call_parser, "glm45");
    CHECK_EQ_STR(cfg.models[0].name, "VLM");
    octo_config_deinit(&cfg);

    const char *emb[] = {"serve", "/models/Qwen3-Embedding-4B", "--task", "embed",
                         "--served-model-name", "EMBEDDING", "--max-model-len", "8192",
                         "--gpu-memory-utilization", "0.08", "--port", "10004", NULL};
    CHECK_EQ_INT(args(&cfg, emb), OCTO_OK);
    CHECK_EQ_INT(cfg.models[0].task, OCTO_TASK_EMBED);
    CHECK_EQ_STR(cfg.models[0].name, "EMBEDDING");
    octo_config_deinit(&cfg);

    const char *rr[] = {"serve", "--model", "/models/Qwen3-Reranker-4B", "--task", "score",
                        "--served-model-name", "RERANKER", "rerank", "--port", "10005", NULL};
    CHECK_EQ_INT(args(&cfg, rr), OCTO_OK);
    CHECK_EQ_INT(cfg.models[0].task, OCTO_TASK_SCORE);
    CHECK_EQ_STR(cfg.models[0].name, "RERANKER");
    CHECK_EQ_INT(cfg.models[0].n_aliases, 1);
    CHECK_EQ_STR(cfg.models[0].aliases[0], "rerank");
    CHECK_EQ_STR(cfg.models[0].path, "/models/Qwen3-Reranker-4B");
    octo_config_deinit(&cfg);
    CHECK_EQ_INT(octo_alloc_live_bytes(), live);
}

static void test_args_misc(void)
{
    octo_config cfg;
    /* the served name defaults to the model path, as in vLLM; flags may come
     * before MODEL; the rest of the flags, short forms and underscores */
    const char *a[] = {"serve", "--dtype", "bfloat16", "-tp", "2", "Qwen/Qwen3-0.6B",
                       "--max_num_seqs", "16", "--max-num-batched-tokens", "8k", "--seed",
                       "3", "--load-format", "dummy", "--chat-template", "/t.jinja",
                       "-q", "fp8", "--devices", "0,1", "--log-level", "debug",
                       "--no-trust-remote-code", "--enforce-eager", "--api-key", "k1",
                       "--api-key=k2", NULL};
    CHECK_EQ_INT(args(&cfg, a), OCTO_OK);
    CHECK_EQ_STR(err, "");
    const octo_model_config *m = &cfg.models[0];
    CHECK_EQ_STR(m->name, "Qwen/Qwen3-0.6B");
    CHECK_EQ_STR(m->dtype, "bfloat16");
    CHECK_EQ_INT(m->tensor_parallel_size, 2);
    CHECK_EQ_INT(m->max_num_seqs, 16);
    CHECK_EQ_INT(m->max_num_batched_tokens, 8000);
    CHECK_EQ_INT(m->seed, 3);
    CHECK_EQ_INT(m->load_format, OCTO_LOAD_DUMMY);
    CHECK_EQ_STR(m->chat_template, "/t.jinja");
    CHECK_EQ_STR(m->quantization, "fp8");
    CHECK_EQ_INT(m->n_devices, 2);
    CHECK_EQ_INT(m->devices[1], 1);
    CHECK(!m->trust_remote_code);
    CHECK_EQ_STR(cfg.server.log_level, "debug");
    CHECK_EQ_INT(cfg.server.n_api_keys, 2);
    CHECK_EQ_STR(cfg.server.api_keys[1], "k2");
    octo_config_deinit(&cfg);

    /* server-only flags need no model */
    const char *s[] = {"serve", "--host", "::", "--port=0", NULL};
    CHECK_EQ_INT(args(&cfg, s), OCTO_OK);
    CHECK_EQ_INT(cfg.n_models, 0);
    CHECK_EQ_STR(cfg.server.host, "::");
    CHECK_EQ_INT(cfg.server.port, 0);
    octo_config_deinit(&cfg);
}

static void test_args_config(void)
{
    char path[4096];
    octo_config cfg;
    size_t live = octo_alloc_live_bytes();
    src_path("octo.yaml", path, sizeof path);
    /* --config is loaded first wherever it stands; flags then override */
    const char *a[] = {"serve", "--port", "9100", "--config", path, NULL};
    CHECK_EQ_INT(args(&cfg, a), OCTO_OK);
    CHECK_EQ_INT(cfg.server.port, 9100);
    CHECK_EQ_STR(cfg.server.storage_path, "./octo-data");
    octo_config_deinit(&cfg);

    /* a config with several models: model flags need a MODEL */
    src_path("examples/reference-8xL20.yaml", path, sizeof path);
    const char *b[] = {"serve", "--config", path, "--max-model-len", "100", NULL};
    bad_args(b, OCTO_E_INVALID,
             "--max-model-len: no model to apply it to (give MODEL or --model, or a "
             "--config with exactly one model; the config has 6)");
    /* a MODEL is added to the configured ones, and validated with them */
    const char *c[] = {"serve", "--config", path, "/m/x", "--served-model-name", "LLM",
                       NULL};
    bad_args(c, OCTO_E_INVALID, "models[6].name: 'LLM' is already served by models[0]");
    const char *d[] = {"serve", "--config", path, "/m/x", "--served-model-name", "X",
                       "--port", "10000", NULL};
    char want[4200];
    snprintf(want, sizeof want, "%s:33: models[0].port: 10000 is also the server's port",
             path);
    bad_args(d, OCTO_E_INVALID, want);
    const char *e[] = {"serve", "--config", "/nonexistent.yaml", NULL};
    bad_args(e, OCTO_E_IO, "/nonexistent.yaml: no such file");

    /* exactly one configured model: model flags apply to it */
    char tmp[] = "/tmp/octo_test_one_XXXXXX";
    int fd = mkstemp(tmp);
    const char *one = "models:\n  - {name: one, path: /m/one}\n";
    CHECK(write(fd, one, strlen(one)) == (ssize_t)strlen(one));
    close(fd);
    const char *f[] = {"serve", "--config", tmp, "--max-model-len=1K", "--served-model-name",
                       "uno", NULL};
    CHECK_EQ_INT(args(&cfg, f), OCTO_OK);
    CHECK_EQ_INT(cfg.models[0].max_model_len, 1024);
    CHECK_EQ_STR(cfg.models[0].name, "uno");
    octo_config_deinit(&cfg);
    unlink(tmp);
    CHECK_EQ_INT(octo_alloc_live_bytes(), live);
}

static void test_args_bad(void)
{
    const char *a[] = {"serve", "m", "--tensor-paralel-size", "4", NULL};
    bad_args(a, OCTO_E_INVALID, "unknown flag '--tensor-paralel-size' (see `octo serve "
                                "--help`)");
    const char *b[] = {"serve", "m", "--port", "abc", NULL};
    bad_args(b, OCTO_E_INVALID, "--port: expected an integer in 0..65535, got 'abc'");
    const char *c[] = {"serve", "m", "--port", NULL};
    bad_args(c, OCTO_E_INVALID, "--port: missing value");
    const char *d[] = {"serve", "m", "--host", "--port", "1", NULL};
    bad_args(d, OCTO_E_INVALID, "--host: missing value");
    const char *e[] = {"serve", "m", "n", NULL};
    bad_args(e, OCTO_E_INVALID, "unexpected argument 'n': the model was already given as "
                                "'m' (serve one model from the command line, more from "
                                "--config)");
    const char *f[] = {"serve", "m", "--model", "n", NULL};
    bad_args(f, OCTO_E_INVALID, "--model 'n': the model was already given as 'm' (serve "
                                "one model from the command line, more from --config)");
    const char *g[] = {"serve", "--max-model-len", "5", NULL};
    bad_args(g, OCTO_E_INVALID, "--max-model-len: no model to apply it to (give MODEL or "
                                "--model, or a --config with exactly one model; the config "
                                "has 0)");
    const char *h[] = {"serve", "m", "--task", "chat", NULL};
    bad_args(h, OCTO_E_INVALID, "--task: expected one of generate, embed, score, transcribe, "
                                "parse, got 'chat'");
    const char *i[] = {"serve", "m", "--trust-remote-code=perhaps", NULL};
    bad_args(i, OCTO_E_INVALID, "--trust-remote-code: expected true or false, got 'perhaps'");
    const char *j[] = {"serve", "m", "--no-port", NULL};
    bad_args(j, OCTO_E_INVALID, "unknown flag '--no-port' (see `octo serve --help`)");
    const char *k[] = {"serve", "m", "-x", NULL};
    bad_args(k, OCTO_E_INVALID, "unknown flag '-x' (see `octo serve --help`)");
    const char *l[] = {"serve", "m", "--tool-call-parser", "hermes", "--task", "embed", NULL};
    bad_args(l, OCTO_E_INVALID,
             "models[0].tool_call_parser: only applies to task generate, not embed");
    const char *n[] = {"serve", "m", "--served-model-name", NULL};
    bad_args(n, OCTO_E_INVALID, "--served-model-name: missing value");
    const char *o[] = {"serve", "m", "--devices", "0,1", NULL};
    bad_args(o, OCTO_E_INVALID, "models[0].devices: 2 device(s) given for "
                                "tensor_parallel_size 1 (they must match)");
    const char *p[] = {"serve", "m", "--config", "a", "--config=b", NULL};
    bad_args(p, OCTO_E_INVALID, "--config: given twice");
    char longpath[400];
    memset(longpath, 'p', 300);
    longpath[300] = '\0';
    const char *q[] = {"serve", longpath, NULL};
    bad_args(q, OCTO_E_INVALID, "MODEL: as a served name, the path is 300 bytes long, at "
                                "most 255 allowed; give --served-model-name");
}

/* Every allocation of a successful load, failed in turn: NOMEM, no leak. */
static void test_alloc_failures(void)
{
    char path[4096];
    src_path("examples/reference-8xL20.yaml", path, sizeof path);
    const char *argv[] = {"serve", "--config", path, "/m/x", "--served-model-name", "X",
                          "Y", "--api-key", "k", NULL};
    size_t live = octo_alloc_live_bytes();
    int nomem = 0;
    for (long n = 1; n < 10000; n++) {
        octo_config cfg;
        octo_config_init(&cfg);
        octo_alloc_fail_after(n);
        octo_err rc = octo_config_apply_args(&cfg, 9, (char **)argv, err, sizeof err);
        octo_alloc_fail_after(0);
        octo_config_deinit(&cfg);
        CHECK_EQ_INT(octo_alloc_live_bytes(), live);
        if (rc == OCTO_OK) break;
        CHECK_EQ_INT(rc, OCTO_E_NOMEM);
        if (rc != OCTO_E_NOMEM) break;
        nomem++;
    }
    fprintf(stderr, "alloc failures: %d\n", nomem);
    CHECK(nomem > 20);
}

TEST_MAIN(TEST(test_defaults), TEST(test_full_file), TEST(test_task_aliases),
          TEST(test_example_files), TEST(test_bad_values), TEST(test_bad_structure),
          TEST(test_bad_yaml), TEST(test_limits), TEST(test_validate),
          TEST(test_args_reference), TEST(test_args_misc), TEST(test_args_config),
          TEST(test_args_bad), TEST(test_alloc_failures))
