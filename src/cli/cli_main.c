/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_main — subcommand table and dispatch. Each subcommand owns its own
 * --help text; subcommands not built yet say so and exit 3.
 */
#include "cli.h"
#include "cli_int.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"

typedef struct subcommand {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* NULL: not built yet */
    const char *issue;                 /* where it is planned */
} subcommand;

static int cmd_version(int argc, char **argv);

static const subcommand k_cmds[] = {
    {"serve", "serve models over HTTP (OpenAI / vLLM compatible)", octo_cli_serve, NULL},
    {"plan", "estimate memory and GPU placement for a config", octo_cli_plan, NULL},
    {"run", "chat with a model in the terminal", octo_cli_run, NULL},
    {"embed", "embed texts from the command line", octo_cli_embed, NULL},
    {"transcribe", "speech to text with punctuation and speakers", NULL, "the speech issue"},
    {"parse", "PDF or image to Markdown", octo_cli_parse, NULL},
    {"kb", "knowledge bases of a running server: create, ingest a folder, query", octo_cli_kb,
     NULL},
    {"bench", "measure prefill/decode speed and the bandwidth roofline", octo_cli_bench, NULL},
    {"pull", "download a model into the Hugging Face cache", octo_cli_pull, NULL},
    {"version", "print the version", cmd_version, NULL},
};
#define N_CMDS (sizeof k_cmds / sizeof k_cmds[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: octo <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_CMDS; i++)
        fprintf(f, "  %-11s %s%s\n", k_cmds[i].name, k_cmds[i].summary,
                k_cmds[i].run ? "" : " (not built yet)");
    fprintf(f, "\nRun 'octo <command> --help' for the options of one command.\n");
}

static int cmd_version(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv)) {
        printf("usage: octo version\n\nPrints the version of octo and its build.\n");
        return OCTO_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "octo version: unexpected argument '%s'\n", argv[1]);
        return OCTO_EXIT_USAGE;
    }
    printf("octo %s (cuda: %s)\n", OCTO_VERSION, octo_cli_cuda_built() ? "yes" : "no");
    return OCTO_EXIT_OK;
}

bool octo_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    return false;
}

bool octo_cli_cuda_built(void)
{
#ifdef OCTO_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

int octo_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return OCTO_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return OCTO_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) return cmd_version(1, argv + 1);
    for (size_t i = 0; i < N_CMDS; i++) {
        const subcommand *c = &k_cmds[i];
        if (strcmp(c->name, name) != 0) continue;
        if (c->run) return c->run(argc - 1, argv + 1);
        if (octo_cli_wants_help(argc - 1, argv + 1)) {
            printf("usage: octo %s [options]\n\n%s.\n\nThis command is not built yet "
                   "(planned in %s).\n", c->name, c->summary, c->issue);
            return OCTO_EXIT_OK;
        }
        fprintf(stderr, "octo %s: not built yet (planned in %s)\n", c->name, c->issue);
        return OCTO_EXIT_UNAVAILABLE;
    }
    fprintf(stderr, "octo: unknown command '%s'\n\n", name);
    usage(stderr);
    return OCTO_EXIT_USAGE;
}
