/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config — config.json / generation_config.json parsing: every real
 * config in tests/data loads, and malformed ones fail with the right code.
 * Field values are checked against Python's json in test_config.py.
 */
#include <dirent.h>

#include "formats/formats.h"
#include "octo_test.h"

static const char *shared(void)
{
    const char *s = getenv("OCTO_TEST_DATA");
    return s ? s : OCTO_TEST_DATA_DIR;
}

static void test_all_real_configs(void)
{
    char dir[1024], path[2048];
    snprintf(dir, sizeof dir, "%s/configs", shared());
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".json")) continue;
        if (strstr(e->d_name, "Pooling") || strstr(e->d_name, "modules.json") ||
            strstr(e->d_name, "sentence_transformers") || strstr(e->d_name, "tokenizer_config") ||
            strstr(e->d_name, "generation_config") || strstr(e->d_name, "class-defaults") ||
            strstr(e->d_name, "quantization_config") || strstr(e->d_name, "preprocessor_config"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        octo_formats_model_config *cfg = NULL;
        char err[512] = "";
        octo_err rc = octo_formats_model_config_load(path, &cfg, err, sizeof err);
        if (rc) fprintf(stderr, "%s: %s\n", e->d_name, err);
        CHECK_EQ_INT(rc, OCTO_OK);
        CHECK(cfg && cfg->arch != OCTO_ARCH_UNKNOWN);
        octo_formats_model_config_free(cfg);
        n++;
    }
    closedir(d);
    CHECK(n >= 18);
}

static void test_qwen3_06b(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/Qwen__Qwen3-0.6B.config.json", shared());
    octo_formats_model_config *c = NULL;
    CHECK(octo_formats_model_config_load(path, &c, NULL, 0) == OCTO_OK);
    if (!c) return;
    CHECK_EQ_INT(c->arch, OCTO_ARCH_QWEN3);
    CHECK_EQ_INT(c->text.hidden_size, 1024);
    CHECK_EQ_INT(c->text.head_dim, 128);
    CHECK_EQ_INT(c->text.n_eos, 1);
    CHECK(c->text.tie_word_embeddings);
    CHECK_EQ_INT(c->text.dtype, OCTO_DTYPE_BF16);
    CHECK_EQ_INT(c->text.sliding_window, -1);
    octo_formats_model_config_free(c);
}

static void expect(const char *json, octo_err want, const char *needle)
{
    octo_formats_model_config *c = NULL;
    char err[256] = "";
    octo_err rc = octo_formats_model_config_parse(json, strlen(json), NULL, &c, err, sizeof err);
    CHECK_EQ_INT(rc, want);
    CHECK(c == NULL);
    if (!strstr(err, needle)) {
        fprintf(stderr, "  error '%s' lacks '%s'\n", err, needle);
        CHECK(0);
    }
}

static void test_config_rejects(void)
{
    expect("{\"model_type\":\"qwen3\",\"hidden_size\":\"1024\"}", OCTO_E_PARSE,
           "\"hidden_size\" is not an integer");
    expect("{\"model_type\":\"qwen3\",\"num_attention_heads\":16,\"num_key_value_heads\":5}",
           OCTO_E_INVALID, "not a multiple of num_key_value_heads");
    expect("{\"model_type\":\"qwen3_moe\",\"hidden_size\":1000,\"num_attention_heads\":16}",
           OCTO_E_INVALID, "no head_dim");
    expect("{\"model_type\":\"qwen3\",\"rope_scaling\":{\"rope_type\":\"yarn\"}}",
           OCTO_E_INVALID, "factor");
    expect("{\"model_type\":\"qwen3\",\"rope_scaling\":{\"rope_type\":\"magic\",\"factor\":2}}",
           OCTO_E_UNSUPPORTED, "'magic'");
    expect("{\"model_type\":\"qwen3\",\"quantization_config\":{\"quant_method\":\"awq\","
           "\"bits\":5}}",
           OCTO_E_INVALID, "bits = 5");
    expect("{\"model_type\":\"qwen3\",\"eos_token_id\":[1,2,3,4,5,6,7,8,9]}", OCTO_E_TOO_LARGE,
           "limit 8");
    expect("{\"a\":1,\"a\":2}", OCTO_E_PARSE, "duplicate");
    expect("[]", OCTO_E_PARSE, "not a JSON object");
    expect("{\"model_type\":\"qwen3\",\"vocab_size\":0}", OCTO_E_INVALID, "vocab_size");
}

static void test_gen_config(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/qwen/qwen2-1.5b-instruct", shared());
    octo_formats_gen_config g;
    CHECK(octo_formats_gen_config_load(path, &g, NULL, 0) == OCTO_OK);
    CHECK_EQ_INT(g.n_eos, 2);
    CHECK(g.has_top_k && g.top_k == 40);
    CHECK(g.has_do_sample && g.do_sample);
    CHECK(!g.has_min_p);
    CHECK(octo_formats_gen_config_load("/nonexistent", &g, NULL, 0) == OCTO_E_NOT_FOUND);
    const char *bad = "{\"top_p\": 1.5}";
    CHECK(octo_formats_gen_config_parse(bad, strlen(bad), NULL, &g, NULL, 0) == OCTO_E_INVALID);
}

TEST_MAIN(TEST(test_all_real_configs), TEST(test_qwen3_06b), TEST(test_config_rejects),
          TEST(test_gen_config))
