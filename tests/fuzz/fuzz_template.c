/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_template — libFuzzer target for the Jinja chat-template interpreter:
 * the input is template source; it is parsed and, when it parses, rendered
 * against a small fixed chat context. Any crash, leak, sanitizer report or
 * hang is a bug; errors are expected and fine.
 */
#include <stdint.h>
#include <string.h>

#include "template/template.h"

static json_t *context(void)
{
    static json_t *ctx;
    if (!ctx)
        ctx = json_loads(
            "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"},"
            " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi \\u00e9\"}]},"
            " {\"role\": \"assistant\", \"content\": \"<think>r</think>ok\", \"tool_calls\":"
            " [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\":"
            " {\"a\": 1, \"b\": [1.5, null, true], \"c\": {\"d\": \"e\"}}}}]},"
            " {\"role\": \"tool\", \"content\": \"42\"}],"
            " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}],"
            " \"add_generation_prompt\": true, \"enable_thinking\": false, \"n\": 3}",
            0, NULL);
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    octo_text_template *t = octo_text_template_new((const char *)data, size, err, sizeof err);
    if (!t) return 0;
    octo_buf out;
    octo_buf_init(&out, 1u << 20);
    octo_err rc = octo_text_template_render(t, context(), &out, err, sizeof err);
    (void)rc;
    octo_buf_deinit(&out);
    octo_text_template_free(t);
    return 0;
}
