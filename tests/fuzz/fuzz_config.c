/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config — libFuzzer target over octo_config_load_string (then
 * octo_config_validate), and over octo_config_apply_args with the input
 * split at newlines into argv. Any crash, leak or sanitizer report is a
 * bug; errors are expected and fine. --config is skipped so that the
 * fuzzer never reads files.
 */
#include "config/config.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_args(const uint8_t *data, size_t size)
{
    char buf[4096];
    char *argv[64];
    int argc = 0;
    char err[512];
    if (size >= sizeof buf) size = sizeof buf - 1;
    memcpy(buf, data, size);
    buf[size] = '\0';
    argv[argc++] = "serve";
    char *p = buf;
    while (argc < 63) {
        argv[argc++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    for (int i = 0; i < argc; i++)
        if (strstr(argv[i], "config")) return;
    octo_config cfg;
    octo_config_init(&cfg);
    if (octo_config_apply_args(&cfg, argc, argv, err, sizeof err) == OCTO_OK)
        (void)octo_config_validate(&cfg, err, sizeof err);
    octo_config_deinit(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    octo_config cfg;
    octo_log_set_level(OCTO_LOG_LEVEL_OFF);
    octo_config_init(&cfg);
    if (octo_config_load_string(&cfg, (const char *)data, size, "fuzz.yaml", err,
                                sizeof err) == OCTO_OK)
        (void)octo_config_validate(&cfg, err, sizeof err);
    octo_config_deinit(&cfg);
    fuzz_args(data, size);
    return 0;
}
