/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_pull — `octo pull ORG/NAME[@REV]`: reads the flags and hands them to
 * the hub module, then prints the snapshot folder (what `octo serve
 * --model ORG/NAME` will find).
 */
#include "cli.h"
#include "cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/hub.h"

static const char k_help[] =
    "usage: octo pull ORG/NAME[@REVISION] [options]\n"
    "\n"
    "Downloads a model repository into the Hugging Face cache (huggingface_hub's layout:\n"
    "models--ORG--NAME/blobs, snapshots/COMMIT, refs/REVISION), so Python tools and octo\n"
    "share it; `octo serve --model ORG/NAME` and `path: ORG/NAME` in octo.yaml then find\n"
    "it there. Transfers run in parallel, resume after an interruption (run the same pull\n"
    "again, or let the automatic retries do it) and are checked: size, then sha256 (LFS\n"
    "files) or the git blob hash. Prints the snapshot folder.\n"
    "\n"
    "  --source hf|modelscope   where from (default hf)\n"
    "  --include GLOB           only files matching (repeatable; e.g. '*.json')\n"
    "  --exclude GLOB           not these files (repeatable; e.g. '*.bin')\n"
    "  --parallel N             transfers at once (default 8)\n"
    "  --cache-dir DIR          the cache (default $HF_HUB_CACHE, else $HF_HOME/hub, else\n"
    "                           ~/.cache/huggingface/hub)\n"
    "  --endpoint URL           the hub (default $HF_ENDPOINT or https://huggingface.co;\n"
    "                           ModelScope: $MODELSCOPE_DOMAIN or www.modelscope.cn)\n"
    "  --token TOKEN            (default $HF_TOKEN, else $HF_HOME/token; ModelScope:\n"
    "                           $MODELSCOPE_API_TOKEN or $MODELSCOPE_TOKEN)\n"
    "  --quiet                  no progress bar (default when stderr is not a terminal)\n"
    "  --progress               a progress bar even when stderr is not a terminal\n"
    "\n"
    "Exit status: 0 done, 1 the download or a check failed, 2 bad arguments.\n";

int octo_cli_pull(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return OCTO_EXIT_OK;
    }
    octo_hub_pull_opts o;
    memset(&o, 0, sizeof o);
    o.progress = isatty(STDERR_FILENO);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--quiet")) {
            o.progress = false;
            continue;
        }
        if (!strcmp(f, "--progress")) {
            o.progress = true;
            continue;
        }
        if (f[0] != '-') {
            if (o.id) {
                fprintf(stderr, "octo pull: one repository at a time ('%s', '%s')\n", o.id, f);
                return OCTO_EXIT_USAGE;
            }
            o.id = f;
            continue;
        }
        if (!v) {
            fprintf(stderr, "octo pull: %s needs a value\n", f);
            return OCTO_EXIT_USAGE;
        }
        i++;
        if (!strcmp(f, "--source")) {
            if (!strcmp(v, "hf") || !strcmp(v, "huggingface")) o.source = OCTO_HUB_HF;
            else if (!strcmp(v, "modelscope") || !strcmp(v, "ms")) o.source = OCTO_HUB_MODELSCOPE;
            else {
                fprintf(stderr, "octo pull: --source must be hf or modelscope, not '%s'\n", v);
                return OCTO_EXIT_USAGE;
            }
        } else if (!strcmp(f, "--include") || !strcmp(f, "--exclude")) {
            bool inc = f[2] == 'i';
            int *n = inc ? &o.n_include : &o.n_exclude;
            if (*n == OCTO_HUB_MAX_PATTERNS) {
                fprintf(stderr, "octo pull: at most %d %s patterns\n", OCTO_HUB_MAX_PATTERNS, f);
                return OCTO_EXIT_USAGE;
            }
            (inc ? o.include : o.exclude)[(*n)++] = v;
        } else if (!strcmp(f, "--parallel")) {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 64) {
                fprintf(stderr, "octo pull: --parallel must be 1..64, not '%s'\n", v);
                return OCTO_EXIT_USAGE;
            }
            o.parallel = (int)n;
        } else if (!strcmp(f, "--cache-dir")) {
            o.cache_dir = v;
        } else if (!strcmp(f, "--endpoint")) {
            o.endpoint = v;
        } else if (!strcmp(f, "--token")) {
            o.token = v;
        } else {
            fprintf(stderr, "octo pull: unknown option '%s' (see octo pull --help)\n", f);
            return OCTO_EXIT_USAGE;
        }
    }
    char repo[256], rev[128];
    if (!o.id || !octo_hub_parse_id(o.id, repo, sizeof repo, rev, sizeof rev)) {
        fprintf(stderr, "octo pull: give the repository as ORG/NAME[@REVISION]%s%s\n",
                o.id ? ", not " : "", o.id ? o.id : "");
        return OCTO_EXIT_USAGE;
    }
    char dir[OCTO_LIMIT_PATH_BYTES], err[768];
    octo_err rc = octo_hub_pull(&o, dir, sizeof dir, err, sizeof err);
    if (rc) {
        fprintf(stderr, "octo pull: %s\n", err);
        return rc == OCTO_E_INVALID && strstr(err, "ORG/NAME") ? OCTO_EXIT_USAGE
                                                               : OCTO_EXIT_FAIL;
    }
    printf("%s\n", dir);
    return OCTO_EXIT_OK;
}
