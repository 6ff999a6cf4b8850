/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry — the architectures octo can run, one entry each (defined in
 * the architecture's own file), found by config.json's `architectures`
 * (as formats reads it into octo_formats_arch).
 *
 * Adding an architecture is one file with its weight names and forward,
 * and one line here.
 */
#include "models_int.h"

#include <stdio.h>

static const octo_model_arch *const registry[] = {
    &octo_models_qwen3,
};

const octo_model_arch *octo_models_arch_find(const octo_formats_model_config *cfg)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (registry[i]->id == cfg->arch) return registry[i];
    }
    return NULL;
}

void octo_models_arch_names(char *out, size_t n)
{
    size_t len = 0;
    if (n) out[0] = '\0';
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        len += (size_t)snprintf(out + (len < n ? len : n), len < n ? n - len : 0, "%s%s",
                                i ? ", " : "", registry[i]->name);
    }
}
