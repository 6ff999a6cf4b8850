/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_cache — where the huggingface_hub cache lives and how an
 * "ORG/NAME[@REV]" id maps to a snapshot folder in it. No network.
 */
#include "hub/hub.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool set_path(char *out, size_t n, const char *a, const char *b)
{
    int len = snprintf(out, n, "%s%s", a, b);
    return len > 0 && (size_t)len < n;
}

octo_err octo_hub_cache_dir(char *out, size_t n)
{
    const char *v;
    bool ok = false;
    if ((v = getenv("HF_HUB_CACHE")) && *v) ok = set_path(out, n, v, "");
    else if ((v = getenv("HUGGINGFACE_HUB_CACHE")) && *v) ok = set_path(out, n, v, "");
    else if ((v = getenv("HF_HOME")) && *v) ok = set_path(out, n, v, "/hub");
    else if ((v = getenv("XDG_CACHE_HOME")) && *v) ok = set_path(out, n, v, "/huggingface/hub");
    else if ((v = getenv("HOME")) && *v) ok = set_path(out, n, v, "/.cache/huggingface/hub");
    return ok ? OCTO_OK : OCTO_E_INVALID;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 96 || (n <= 2 && s[0] == '.')) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') return false;
    }
    return true;
}

bool octo_hub_parse_id(const char *id, char *repo, size_t repo_size, char *rev,
                       size_t rev_size)
{
    if (!id) return false;
    const char *slash = strchr(id, '/');
    if (!slash || strchr(slash + 1, '/')) return false;
    const char *at = strchr(slash + 1, '@');
    size_t org_n = (size_t)(slash - id);
    size_t name_n = at ? (size_t)(at - slash - 1) : strlen(slash + 1);
    if (!name_ok(id, org_n) || !name_ok(slash + 1, name_n)) return false;
    const char *r = at ? at + 1 : "main";
    if (!*r || strlen(r) >= rev_size || strstr(r, "..")) return false;
    for (const char *c = r; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._-", *c)) return false;
    if (org_n + 1 + name_n >= repo_size) return false;
    memcpy(repo, id, org_n + 1 + name_n);
    repo[org_n + 1 + name_n] = '\0';
    snprintf(rev, rev_size, "%s", r);
    return true;
}

static bool is_commit(const char *rev)
{
    if (strlen(rev) != 40) return false;
    for (const char *c = rev; *c; c++)
        if (!isxdigit((unsigned char)*c)) return false;
    return true;
}

bool octo_hub_resolve(const char *id, char *out, size_t out_size)
{
    struct stat st;
    char repo[256], rev[128], cache[OCTO_LIMIT_PATH_BYTES], dir[OCTO_LIMIT_PATH_BYTES];
    if (!id || stat(id, &st) == 0) return false; /* a local path wins */
    if (!octo_hub_parse_id(id, repo, sizeof repo, rev, sizeof rev)) return false;
    if (octo_hub_cache_dir(cache, sizeof cache)) return false;
    char *slash = strchr(repo, '/');
    *slash = '\0';
    char commit[128];
    if (is_commit(rev)) {
        snprintf(commit, sizeof commit, "%s", rev);
    } else {
        int n = snprintf(dir, sizeof dir, "%s/models--%s--%s/refs/%s", cache, repo, slash + 1,
                         rev);
        if (n < 0 || (size_t)n >= sizeof dir) return false;
        FILE *f = fopen(dir, "r");
        if (!f) return false;
        size_t got = fread(commit, 1, sizeof commit - 1, f);
        fclose(f);
        commit[got] = '\0';
        commit[strcspn(commit, " \r\n")] = '\0';
        if (!is_commit(commit)) return false;
    }
    int n = snprintf(dir, sizeof dir, "%s/models--%s--%s/snapshots/%s", cache, repo, slash + 1,
                     commit);
    if (n < 0 || (size_t)n >= sizeof dir || stat(dir, &st) || !S_ISDIR(st.st_mode)) return false;
    if ((size_t)n >= out_size) return false;
    memcpy(out, dir, (size_t)n + 1);
    return true;
}
