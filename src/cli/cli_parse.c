/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_parse — `octo parse FILE... [-o DIR]`: each PDF or image becomes
 * DIR/<name>/<name>.md, <name>_content_list.json, <name>_middle.json and
 * the JPEG files of images/ (MinerU's file names), with a progress line per page on
 * stderr for documents of more than a few pages. Without -o the Markdown
 * goes to stdout (images are referenced, not written).
 *
 * It is only the command line around doc/: no parsing logic here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "cli.h"
#include "cli_int.h"
#ifndef OCTO_HAVE_DOC
int octo_cli_parse(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "octo parse: this octo was built without the document parser "
                    "(cmake -DOCTO_DOC=OFF)\n");
    return OCTO_EXIT_UNAVAILABLE;
}
#else
#include "doc/doc.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: octo parse FILE... [-o DIR] [--method auto|txt|ocr]\n"
            "                  [--start-page N] [--end-page N] [--lang LANGS] [--no-tables]\n"
            "\n"
            "Turns PDFs and images (PNG, JPEG, ...) into Markdown and a MinerU content list,\n"
            "on the CPU. With -o, for each FILE it writes DIR/<name>/<name>.md,\n"
            "<name>_content_list.json, <name>_middle.json and images/; without -o it\n"
            "writes the Markdown of each FILE to stdout.\n"
            "\n"
            "  -o, --output DIR   output directory (created if missing)\n"
            "  --method M         auto (OCR where a page has no usable text layer, the\n"
            "                     default), txt (text layer only) or ocr (every page)\n"
            "  --start-page N     first page, 0-based (default 0)\n"
            "  --end-page N       last page, inclusive, 0-based (default: the last)\n"
            "  --lang LANGS       Tesseract languages (default chi_sim+eng)\n"
            "  --no-tables        leave tables as text\n"
            "  --timeout S        per-page time limit in seconds (default %u)\n",
            OCTO_LIMIT_DOC_PAGE_SECONDS);
}

typedef struct progress {
    const char *name;
    double t0;
} progress;

static void on_page(void *ctx, int done, int total)
{
    progress *p = ctx;
    if (total < 4) return;
    fprintf(stderr, "octo parse: %s: page %d/%d (%.1f s)\n", p->name, done, total,
            octo_now() - p->t0);
}

static int mkdir_p(const char *path)
{
    char tmp[OCTO_LIMIT_PATH_BYTES];
    if (octo_strlcpy(tmp, path, sizeof tmp) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

/* Formats an output path into out[OCTO_LIMIT_PATH_BYTES]. A path that does
 * not fit is refused (-1, errno ENAMETOOLONG), never cut short: a cut path
 * would name another file. */
static int path_fmt(char *out, const char *fmt, ...) OCTO_PRINTF(2, 3);
static int path_fmt(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, OCTO_LIMIT_PATH_BYTES, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= OCTO_LIMIT_PATH_BYTES) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Writes path atomically: into path.tmp, then renamed over path. */
static int write_file(const char *path, const void *data, size_t len)
{
    char tmp[OCTO_LIMIT_PATH_BYTES];
    if (path_fmt(tmp, "%s.tmp", path)) return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    bool ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) {
        remove(tmp);
        return -1;
    }
    return 0;
}

/* "dir/report.final.pdf" -> "report.final" */
static void stem(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    octo_strlcpy(out, b, cap);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

static int write_outputs(const char *dir, const char *name, const octo_doc_result *r)
{
    char d[OCTO_LIMIT_PATH_BYTES], p[OCTO_LIMIT_PATH_BYTES];
    if (path_fmt(d, "%s/%s/images", dir, name) || mkdir_p(d)) return -1;
    const char *md = octo_doc_result_markdown(r), *cl = octo_doc_result_content_list(r),
               *mid = octo_doc_result_middle_json(r);
    if (path_fmt(p, "%s/%s/%s.md", dir, name, name) || write_file(p, md, strlen(md)))
        return -1;
    if (path_fmt(p, "%s/%s/%s_content_list.json", dir, name, name) ||
        write_file(p, cl, strlen(cl)))
        return -1;
    if (path_fmt(p, "%s/%s/%s_middle.json", dir, name, name) ||
        write_file(p, mid, strlen(mid)))
        return -1;
    for (size_t i = 0; i < octo_doc_result_image_count(r); i++) {
        const char *n;
        const unsigned char *data;
        size_t len;
        octo_doc_result_image(r, i, &n, &data, &len);
        if (path_fmt(p, "%s/%s/images/%s", dir, name, n) || write_file(p, data, len))
            return -1;
    }
    return 0;
}

static int parse_one(const char *file, const char *dir, octo_doc_opts *o)
{
    char *data = NULL;
    size_t len = 0;
    octo_err rc = octo_file_read(file, OCTO_LIMIT_PDF_BYTES, &data, &len);
    if (rc) {
        fprintf(stderr, "octo parse: %s: cannot read (%s)\n", file, octo_err_str(rc));
        return OCTO_EXIT_FAIL;
    }
    char name[256], err[512];
    stem(file, name, sizeof name);
    progress pr = {file, octo_now()};
    o->progress = on_page;
    o->progress_ctx = &pr;
    octo_doc_result *r = NULL;
    rc = octo_doc_parse(data, len, file, o, &r, err, sizeof err);
    octo_free(data);
    if (rc) {
        fprintf(stderr, "octo parse: %s: %s\n", file, err);
        return OCTO_EXIT_FAIL;
    }
    int ret = OCTO_EXIT_OK;
    if (!dir) {
        const char *md = octo_doc_result_markdown(r);
        size_t n = strlen(md);
        if (fwrite(md, 1, n, stdout) != n || (n && md[n - 1] != '\n' && putchar('\n') == EOF) ||
            fflush(stdout)) {
            fprintf(stderr, "octo parse: %s: cannot write to stdout\n", file);
            ret = OCTO_EXIT_FAIL;
        }
    } else if (write_outputs(dir, name, r)) {
        fprintf(stderr, "octo parse: %s: cannot write to %s/%s: %s\n", file, dir, name,
                strerror(errno));
        ret = OCTO_EXIT_FAIL;
    } else {
        fprintf(stderr, "octo parse: %s: %d pages (%d OCR), %zu images in %.2f s -> %s/%s\n",
                file, octo_doc_result_pages(r), octo_doc_result_ocr_pages(r),
                octo_doc_result_image_count(r), octo_now() - pr.t0, dir, name);
    }
    octo_doc_result_free(r);
    return ret;
}

static bool int_arg(const char *flag, const char *v, long *out)
{
    if (v && octo_parse_long(v, 0, 1000000, out) == OCTO_OK) return true;
    fprintf(stderr, "octo parse: %s needs a whole number >= 0\n", flag);
    return false;
}

int octo_cli_parse(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv)) {
        help(stdout);
        return OCTO_EXIT_OK;
    }
    octo_doc_opts o;
    octo_doc_opts_init(&o);
    const char *dir = NULL;
    const char *files[256];
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            dir = v;
            i++;
        } else if (!strcmp(a, "--method")) {
            i++;
            if (v && !strcmp(v, "auto")) o.method = OCTO_DOC_METHOD_AUTO;
            else if (v && !strcmp(v, "txt")) o.method = OCTO_DOC_METHOD_TXT;
            else if (v && !strcmp(v, "ocr")) o.method = OCTO_DOC_METHOD_OCR;
            else {
                fprintf(stderr, "octo parse: --method is auto, txt or ocr\n");
                return OCTO_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--start-page") || !strcmp(a, "--end-page") ||
                   !strcmp(a, "--timeout")) {
            i++;
            if (!int_arg(a, v, &n)) return OCTO_EXIT_USAGE;
            if (a[2] == 's') o.start_page = (int)n;
            else if (a[2] == 'e') o.end_page = (int)n;
            else o.page_timeout_s = (double)n;
        } else if (!strcmp(a, "--lang")) {
            o.ocr_lang = v;
            i++;
        } else if (!strcmp(a, "--no-tables")) {
            o.table_enable = false;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "octo parse: unknown option '%s' (see --help)\n", a);
            return OCTO_EXIT_USAGE;
        } else if (nf < 256) {
            files[nf++] = a;
        }
    }
    if (!nf) {
        help(stderr);
        return OCTO_EXIT_USAGE;
    }
    if (!dir) o.render_images = false; /* Markdown only: images stay references */
    int ret = OCTO_EXIT_OK;
    for (int i = 0; i < nf; i++)
        if (parse_one(files[i], dir, &o) != OCTO_EXIT_OK) ret = OCTO_EXIT_FAIL;
    return ret;
}
#endif /* OCTO_HAVE_DOC */
