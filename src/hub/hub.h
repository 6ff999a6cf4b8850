/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub — model repositories from the Hugging Face hub or ModelScope, kept
 * in huggingface_hub's cache layout so that Python tools and octo share
 * one copy:
 *
 *   $HF_HUB_CACHE/models--ORG--NAME/blobs/<etag>          file contents
 *   $HF_HUB_CACHE/models--ORG--NAME/snapshots/<commit>/F  -> ../../blobs/<etag>
 *   $HF_HUB_CACHE/models--ORG--NAME/refs/<revision>       the commit, no newline
 *
 * `octo pull` downloads (octo_hub_pull: file list, parallel resumable
 * transfers through libcurl, size and sha256 / etag checks); everything
 * else only resolves "ORG/NAME[@REV]" to a snapshot folder already in the
 * cache (octo_hub_resolve), never touching the network.
 *
 * It deliberately knows nothing of model files: a repository is a list of
 * paths with sizes and hashes.
 */
#ifndef OCTO_HUB_H
#define OCTO_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* The hub cache folder as huggingface_hub picks it: $HF_HUB_CACHE, else
 * $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else $HOME/.cache/huggingface/hub.
 * Returns OCTO_E_INVALID when none is set (no HOME) or it is too long. */
octo_err octo_hub_cache_dir(char *out /* OUT */, size_t out_size) OCTO_WUR;

/* Splits "ORG/NAME[@REV]" (REV default "main"). False when `id` is not of
 * that form (absolute or ./relative paths, more than one '/', empty or
 * '..' parts, characters outside [A-Za-z0-9._-]). */
bool octo_hub_parse_id(const char *id, char *repo /* OUT */, size_t repo_size,
                       char *rev /* OUT */, size_t rev_size);

/* When `id` names no existing local file or folder and is an ORG/NAME[@REV]
 * whose snapshot is in the cache, writes the snapshot folder to `out` and
 * returns true; otherwise false and `out` is untouched. */
bool octo_hub_resolve(const char *id, char *out /* OUT */, size_t out_size);

typedef enum octo_hub_source { OCTO_HUB_HF = 0, OCTO_HUB_MODELSCOPE } octo_hub_source;

#define OCTO_HUB_MAX_PATTERNS 32

typedef struct octo_hub_pull_opts {
    const char *id;          /* ORG/NAME[@REV] */
    octo_hub_source source;
    const char *endpoint;    /* NULL: $HF_ENDPOINT / $MODELSCOPE_DOMAIN / the public hub */
    const char *token;       /* NULL: $HF_TOKEN (or the token file) / $MODELSCOPE_API_TOKEN */
    const char *cache_dir;   /* NULL: octo_hub_cache_dir() */
    const char *include[OCTO_HUB_MAX_PATTERNS]; /* fnmatch globs; none: every file */
    int n_include;
    const char *exclude[OCTO_HUB_MAX_PATTERNS];
    int n_exclude;
    int parallel;            /* transfers at once; 0: 8 */
    bool progress;           /* a progress bar on stderr */
    long low_speed_time_s;   /* abort a transfer slower than 1 KiB/s this long; 0: 60 */
} octo_hub_pull_opts;

/* Downloads the repository's files that the patterns select into the
 * cache and writes the snapshot folder to `out`. Files already complete
 * (right size, right hash) are not fetched again; a partial
 * blobs/<etag>.incomplete resumes with a Range request. Every file is
 * checked: its size against the listing / X-Linked-Size, its sha256
 * against the LFS hash (or the git blob sha1 for small files); a mismatch
 * deletes the partial file and fails with OCTO_E_INVALID naming the file.
 * Returns OCTO_E_IO (network or disk), OCTO_E_NOT_FOUND (no such repo or
 * revision: HTTP 404), OCTO_E_INVALID, with one sentence in err. */
octo_err octo_hub_pull(const octo_hub_pull_opts *o, char *out /* OUT */, size_t out_size,
                       char *err, size_t err_size) OCTO_WUR;

#endif /* OCTO_HUB_H */
