/* SPDX-License-Identifier: Apache-2.0 */
/* cli_int — internals shared by the cli source files. */
#ifndef OCTO_CLI_INT_H
#define OCTO_CLI_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "api/api.h"
#include "config/config.h"

/* True when argv[1..] holds --help or -h. */
bool octo_cli_wants_help(int argc, char **argv);
bool octo_cli_cuda_built(void);

/* `octo serve`'s start-up table of the models (cli_serve_table.c). */
void octo_cli_serve_table(const octo_config *cfg, const octo_api *api, int main_port, FILE *f);

/* Subcommands; argv[0] is the subcommand name. */
int octo_cli_serve(int argc, char **argv);
int octo_cli_parse(int argc, char **argv);
int octo_cli_bench(int argc, char **argv);
int octo_cli_run(int argc, char **argv);
int octo_cli_embed(int argc, char **argv);
int octo_cli_plan(int argc, char **argv);
int octo_cli_pull(int argc, char **argv);
int octo_cli_kb(int argc, char **argv);
/* `octo run`'s work once its arguments are read. */
int octo_cli_run_model(const char *model, const char *tokdir, bool dummy, const char *prompt,
                       const char *system, bool raw, bool think, long max_tokens,
                       long threads, long seed,
                       double temperature, double top_p, long top_k);

#endif /* OCTO_CLI_INT_H */
