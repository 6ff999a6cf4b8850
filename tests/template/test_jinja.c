/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the chat-template interpreter's own contracts: error
 * messages that name the unsupported construct and the template line,
 * unterminated tags, limits (output size, loop iterations, nesting) as
 * errors rather than crashes, allocation failures, loading from
 * tokenizer_config.json, and the chat-format API edges. Rendering
 * correctness is proven against jinja2 in the Python tests, not here.
 */
#include "octo_test.h"
#include "template/template.h"

#include <pthread.h>

static octo_err parse_err(const char *src, char *err, size_t size)
{
    octo_text_template *t = octo_text_template_new(src, strlen(src), err, size);
    if (t) {
        octo_text_template_free(t);
        return OCTO_OK;
    }
    return OCTO_E_PARSE;
}

static void expect_parse_error(const char *src, const char *needle)
{
    char err[512] = "";
    CHECK(parse_err(src, err, sizeof err) != OCTO_OK);
    if (!strstr(err, needle)) fprintf(stderr, "  got error \"%s\", want \"%s\"\n", err, needle);
    CHECK(strstr(err, needle) != NULL);
}

static octo_err render(const char *src, const char *ctx_json, octo_buf *out, char *err,
                       size_t size)
{
    octo_text_template *t = octo_text_template_new(src, strlen(src), err, size);
    if (!t) return OCTO_E_PARSE;
    json_t *ctx = ctx_json ? json_loads(ctx_json, 0, NULL) : NULL;
    octo_err rc = octo_text_template_render(t, ctx, out, err, size);
    json_decref(ctx);
    octo_text_template_free(t);
    return rc;
}

static void expect_render_error(const char *src, octo_err want, const char *needle)
{
    char err[512] = "";
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    CHECK(octo_buf_puts(&b, "keep") == OCTO_OK);
    octo_err rc = render(src, "{\"x\": 1}", &b, err, sizeof err);
    CHECK_EQ_INT(rc, want);
    if (!strstr(err, needle)) fprintf(stderr, "  got error \"%s\", want \"%s\"\n", err, needle);
    CHECK(strstr(err, needle) != NULL);
    CHECK_EQ_STR(b.data, "keep"); /* a failed render leaves out as it was */
    octo_buf_deinit(&b);
}

static void test_unsupported_named(void)
{
    expect_parse_error("a\nb\n{{ x | xyz }}", "unsupported filter 'xyz' at line 3");
    expect_parse_error("{% if x is frobbable %}{% endif %}", "unsupported test 'frobbable' at line 1");
    expect_parse_error("\n{% include 'other.jinja' %}", "unsupported tag 'include' at line 2");
    expect_parse_error("{% filter nosuch %}x{% endfilter %}", "unsupported filter 'nosuch'");
    expect_parse_error("a\n{% raw %}x", "missing end of raw directive at line 2");
    expect_parse_error("{% call 5 %}{% endcall %}", "expected a call after 'call'");
    expect_parse_error("{% for x in y recursive %}{% endfor %}", "unsupported recursive loop");
    expect_parse_error("{{ f(*args) }}", "unsupported *args/**kwargs");
    expect_render_error("{{ 'a'.format(1) }}", OCTO_E_UNSUPPORTED, "unsupported str method 'format'");
    expect_render_error("\n{{ [1].append(2) }}", OCTO_E_UNSUPPORTED, "'append' of 'list' object is unsafe");
    expect_render_error("{{ '%s' % 1 }}", OCTO_E_UNSUPPORTED, "string formatting");
}

static void test_syntax_errors(void)
{
    expect_parse_error("{{ x", "unterminated '{{' tag at line 1");
    expect_parse_error("ok\n{% if x", "unterminated '{%' tag at line 2");
    expect_parse_error("{# comment", "unterminated comment");
    expect_parse_error("{{ 'abc }}", "unterminated string");
    expect_parse_error("{% if x %}\nabc\n", "expected 'endif'");
    expect_parse_error("{% for a in b %}", "expected 'endfor'");
    expect_parse_error("line\n\n\n{% endif %}", "unexpected 'endif' at line 4");
    expect_parse_error("\n{{ 1 + }}", "at line 2");
    expect_parse_error("{{ a b }}", "got 'b' at line 1");
    expect_parse_error("{% macro m(a=1, b) %}{% endmacro %}", "non-default argument");
    expect_parse_error("{{ x @ y }}", "unexpected character '@'");
    expect_parse_error("{% set ns.a %}{% endset %}", "expected '='");
}

static void test_render_errors(void)
{
    expect_render_error("\n\n{{ raise_exception('No user query found.') }}", OCTO_E_INVALID,
                        "No user query found.");
    expect_render_error("{{ 'a' + x }}", OCTO_E_INVALID, "can only concatenate str");
    expect_render_error("\n{{ nope + 1 }}", OCTO_E_INVALID, "'nope' is undefined at line 2");
    expect_render_error("{{ nope.attr }}", OCTO_E_INVALID, "'nope' is undefined");
    expect_render_error("{% set y = 1 %}{% set y.a = 2 %}", OCTO_E_INVALID, "non-namespace");
    expect_render_error("{{ 1 // 0 }}", OCTO_E_INVALID, "division by zero");
    expect_render_error("{% for a, b in [[1, 2, 3]] %}{% endfor %}", OCTO_E_INVALID, "unpack");
    expect_render_error("{% break %}", OCTO_E_PARSE, "outside a loop");
}

static void test_limits(void)
{
    expect_render_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
                        OCTO_E_TOO_LARGE, "output limit");
    expect_render_error("{% for i in range(100000) %}{% for j in range(100000) %}"
                        "{% endfor %}{% endfor %}", OCTO_E_TOO_LARGE, "loop iterations");
    expect_render_error("{{ range(1000000) }}", OCTO_E_TOO_LARGE, "MAX_RANGE");
    expect_render_error("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
                        OCTO_E_TOO_LARGE, "nested too deep");
    expect_render_error("{{ 2 ** 64 }}", OCTO_E_UNSUPPORTED, "integer overflow");
    /* values nested 100000 deep: errors, no stack overflow */
    const char *deep_values[] = {"{{ ns.v }}", "{{ ns.v | tojson }}", "{{ ns.v < ns.v }}"};
    for (size_t i = 0; i < 3; i++) {
        char src[256];
        snprintf(src, sizeof src, "{%% set ns = namespace(v=[]) %%}{%% for i in range(100000) %%}"
                 "{%% set ns.v = [ns.v] %%}{%% endfor %%}%s", deep_values[i]);
        expect_render_error(src, OCTO_E_TOO_LARGE, "too deep");
    }
    expect_render_error("{% set ns = namespace(v=[]) %}{% for i in range(100000) %}"
                        "{% set ns.v = [ns.v] %}{% endfor %}{{ raise_exception(ns.v == ns.v) }}",
                        OCTO_E_INVALID, "False");
    /* deep nesting in the source is a parse error, not a stack overflow */
    char deep[4000];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{{ ");
    for (int i = 0; i < 1000; i++) deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < 1000; i++) deep[n++] = ')';
    snprintf(deep + n, sizeof deep - n, " }}");
    expect_parse_error(deep, "too deep");
    /* the caller's own buffer bound also applies */
    char err[256];
    octo_buf small;
    octo_buf_init(&small, 10);
    CHECK_EQ_INT(render("{{ 'abcdefghijklmnop' }}", NULL, &small, err, sizeof err),
                 OCTO_E_TOO_LARGE);
    CHECK_EQ_INT(small.len, 0);
    octo_buf_deinit(&small);
}

static void test_allocation_failures(void)
{
    const char *src = "{% set ns = namespace(a=[]) %}{% for m in messages %}"
                      "{{ m.role | upper }}:{{ m.content | tojson }}{% endfor %}";
    json_t *ctx = json_loads("{\"messages\": [{\"role\": \"user\", \"content\": \"hi ü\"},"
                             " {\"role\": \"assistant\", \"content\": [1, 2.5]}]}", 0, NULL);
    bool ok_seen = false;
    for (long k = 1; k < 400 && !ok_seen; k++) {
        char err[256];
        octo_alloc_fail_after(k);
        octo_text_template *t = octo_text_template_new(src, strlen(src), err, sizeof err);
        octo_buf b;
        octo_buf_init(&b, 1 << 20);
        octo_err rc = t ? octo_text_template_render(t, ctx, &b, err, sizeof err) : OCTO_E_NOMEM;
        octo_alloc_fail_after(0);
        if (rc == OCTO_OK) {
            ok_seen = true;
            CHECK_EQ_STR(b.data, "USER:\"hi ü\"ASSISTANT:[1, 2.5]");
        }
        octo_buf_deinit(&b);
        octo_text_template_free(t);
    }
    CHECK(ok_seen);
    json_decref(ctx);
}

static void test_load_from_config(void)
{
    char err[256];
    octo_text_template *t = NULL;
    json_t *cfg = json_loads("{\"chat_template\": [{\"name\": \"default\", \"template\": \"D{{ x }}\"},"
                             " {\"name\": \"tool_use\", \"template\": \"T{{ x }}\"}],"
                             " \"bos_token\": {\"content\": \"<s>\", \"lstrip\": false},"
                             " \"eos_token\": \"</s>\"}", 0, NULL);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(octo_text_template_from_config(cfg, NULL, &t, err, sizeof err), OCTO_OK);
    octo_buf b;
    octo_buf_init(&b, 1024);
    json_t *ctx = json_pack("{s:i}", "x", 5);
    CHECK_EQ_INT(octo_text_template_render(t, ctx, &b, err, sizeof err), OCTO_OK);
    CHECK_EQ_STR(b.data, "D5");
    octo_text_template_free(t);
    CHECK_EQ_INT(octo_text_template_from_config(cfg, "tool_use", &t, err, sizeof err), OCTO_OK);
    octo_buf_clear(&b);
    CHECK_EQ_INT(octo_text_template_render(t, ctx, &b, err, sizeof err), OCTO_OK);
    CHECK_EQ_STR(b.data, "T5");
    octo_text_template_free(t);
    CHECK_EQ_INT(octo_text_template_from_config(cfg, "nope", &t, err, sizeof err),
                 OCTO_E_NOT_FOUND);
    CHECK(t == NULL);
    octo_text_chat_opts opts = {0};
    octo_text_chat_opts_from_config(cfg, &opts);
    CHECK_EQ_STR(opts.bos_token, "<s>");
    CHECK_EQ_STR(opts.eos_token, "</s>");
    CHECK(opts.pad_token == NULL);
    json_decref(ctx);
    json_decref(cfg);
    octo_buf_deinit(&b);
    octo_text_template_free(NULL);
}

static const char *shared(const char *rel, char *buf, size_t size)
{
    const char *root = getenv("OCTO_TEST_DATA");
    snprintf(buf, size, "%s/%s", root ? root : OCTO_TEST_DATA_DIR, rel);
    return buf;
}

/* The real tokenizer_config's chat_template and the .jinja file agree. */
static void test_load_real_files(void)
{
    char p1[1024], p2[1024], err[256];
    octo_text_template *a = NULL, *b = NULL;
    octo_err r1 = octo_text_template_load(
        shared("qwen/qwen3/tokenizer_config.Qwen3-4B-Thinking-2507.json", p1, sizeof p1), NULL,
        &a, err, sizeof err);
    octo_err r2 = octo_text_template_load(
        shared("qwen/qwen3/chat_template.Qwen3-4B-Thinking-2507.jinja", p2, sizeof p2), NULL, &b,
        err, sizeof err);
    if (r1 == OCTO_E_NOT_FOUND || r2 == OCTO_E_NOT_FOUND) {
        fprintf(stderr, "  (shared data not found, skipped)\n");
        return;
    }
    CHECK_EQ_INT(r1, OCTO_OK);
    CHECK_EQ_INT(r2, OCTO_OK);
    json_t *req = json_loads("{\"messages\": [{\"role\": \"system\", \"content\": \"S\"},"
                             " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"a\"},"
                             " {\"type\": \"text\", \"text\": \"b\"}]}]}", 0, NULL);
    octo_buf x, y;
    octo_buf_init(&x, 1 << 20);
    octo_buf_init(&y, 1 << 20);
    CHECK_EQ_INT(octo_text_chat_format(a, req, NULL, &x, err, sizeof err), OCTO_OK);
    CHECK_EQ_INT(octo_text_chat_format(b, req, NULL, &y, err, sizeof err), OCTO_OK);
    CHECK(x.data && y.data && strcmp(x.data, y.data) == 0);
    CHECK(x.data && strstr(x.data, "a\nb") != NULL); /* text parts joined with \n */
    CHECK(!octo_text_template_iterates_content(a));
    octo_buf_deinit(&x);
    octo_buf_deinit(&y);
    json_decref(req);
    octo_text_template_free(a);
    octo_text_template_free(b);
    CHECK_EQ_INT(octo_text_template_load("/nonexistent/x.jinja", NULL, &a, err, sizeof err),
                 OCTO_E_NOT_FOUND);
}

static void test_chat_format_errors(void)
{
    char err[256];
    const char *src = "{% for m in messages %}{{ m.role }}{% endfor %}";
    octo_text_template *t = octo_text_template_new(src, strlen(src), err, sizeof err);
    octo_buf b;
    octo_buf_init(&b, 1 << 20);
    static const char *bad[] = {
        "{\"messages\": 5}",
        "{\"messages\": [{\"content\": \"no role\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"weird\"}]}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"type\": \"x\"}]}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"text\": \"no type\"}]}]}",
        "{\"messages\": [], \"chat_template_kwargs\": {\"messages\": 1}}",
        "{\"messages\": [], \"continue_final_message\": true}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *req = json_loads(bad[i], 0, NULL);
        err[0] = '\0';
        octo_err rc = octo_text_chat_format(t, req, NULL, &b, err, sizeof err);
        if (rc == OCTO_OK) fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(rc != OCTO_OK);
        CHECK(err[0] != '\0');
        json_decref(req);
    }
    CHECK_EQ_INT(b.len, 0);
    octo_buf_deinit(&b);
    octo_text_template_free(t);
}

/* One parsed template rendered from several threads at once gives every
 * thread the same text (renders share no mutable state). */
typedef struct render_job {
    const octo_text_template *t;
    const json_t *req;
    const char *want;
    int mismatches;
} render_job;

static void *render_many(void *arg)
{
    render_job *j = arg;
    for (int i = 0; i < 50; i++) {
        char err[256];
        octo_buf b;
        octo_buf_init(&b, 1 << 20);
        if (octo_text_chat_format(j->t, j->req, NULL, &b, err, sizeof err) != OCTO_OK ||
            strcmp(b.data, j->want) != 0)
            j->mismatches++;
        octo_buf_deinit(&b);
    }
    return NULL;
}

static void test_concurrent_renders(void)
{
    char err[256];
    const char *src = "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                      "<{{ m.role }}>{{ m.content | trim }}{% endfor %}{{ ns.n }}"
                      "{{ tools | tojson if tools }}";
    octo_text_template *t = octo_text_template_new(src, strlen(src), err, sizeof err);
    json_t *req = json_loads("{\"messages\": [{\"role\": \"user\", \"content\": \" hi \"},"
                             " {\"role\": \"assistant\", \"content\": \"yo\"}],"
                             " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}",
                             0, NULL);
    octo_buf want;
    octo_buf_init(&want, 1 << 20);
    CHECK_EQ_INT(octo_text_chat_format(t, req, NULL, &want, err, sizeof err), OCTO_OK);
    render_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (render_job){t, req, want.data, 0};
        CHECK(pthread_create(&th[i], NULL, render_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(jobs[i].mismatches, 0);
    }
    CHECK(strstr(want.data, "<user>hi<assistant>yo2[{\"type\": \"function\"") != NULL);
    octo_buf_deinit(&want);
    json_decref(req);
    octo_text_template_free(t);
}

TEST_MAIN(TEST(test_concurrent_renders), TEST(test_unsupported_named), TEST(test_syntax_errors), TEST(test_render_errors),
          TEST(test_limits), TEST(test_allocation_failures), TEST(test_load_from_config),
          TEST(test_load_real_files), TEST(test_chat_format_errors))
