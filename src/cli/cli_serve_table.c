/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_serve_table — what `octo serve` prints once its models are loaded:
 * one row per model (name, task, device, own port, context, state), and
 * under a model that failed, why. Every model is also served by name on
 * the main port given in the heading.
 *
 * It decides nothing: the states come from api/.
 */
#include "cli_int.h"

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "config/config.h"
#include "http/http.h"

static void device_of(const octo_model_config *m, char *out, size_t n)
{
    if (m->base_url) {
        snprintf(out, n, "remote");
        return;
    }
    if (!m->n_devices) {
        snprintf(out, n, "cpu");
        return;
    }
    size_t k = (size_t)snprintf(out, n, "cuda:");
    for (size_t d = 0; d < m->n_devices && k < n; d++)
        k += (size_t)snprintf(out + k, n - k, "%s%d", d ? "," : "", m->devices[d]);
}

void octo_cli_serve_table(const octo_config *cfg, const octo_api *api, int main_port, FILE *f)
{
    fprintf(f, "octo serve: %zu model(s), each by name on http://%s:%d\n", cfg->n_models,
            cfg->server.host, main_port);
    if (!cfg->n_models) return;
    fprintf(f, "  %-24s %-10s %-10s %-6s %-8s %s\n", "NAME", "TASK", "DEVICE", "PORT",
            "CONTEXT", "STATE");
    for (size_t i = 0; i < cfg->n_models; i++) {
        const octo_model_config *m = &cfg->models[i];
        const char *error;
        int64_t context;
        const char *state = octo_api_model_state(api, m, &error, &context);
        char dev[96], port[16] = "-", ctx[24] = "-";
        device_of(m, dev, sizeof dev);
        if (m->port) snprintf(port, sizeof port, "%ld", m->port);
        if (context) snprintf(ctx, sizeof ctx, "%lld", (long long)context);
        fprintf(f, "  %-24s %-10s %-10s %-6s %-8s %s%s\n", m->name,
                octo_config_task_name(m->task), dev, port, ctx, state,
                m->demo ? " (demo)" : "");
        if (error) fprintf(f, "  %-24s error: %s\n", "", error);
    }
    fflush(f);
}
