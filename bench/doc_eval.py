#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""doc_eval — scores `octo parse` Markdown against reference Markdown, with
`pdftotext -layout` as the naive baseline on the same files.

Metrics (in the spirit of OmniDocBench, implemented here from their
definitions):
  text_edit   normalised edit distance of the text (lower is better):
              Levenshtein over tokens (a CJK character or a run of other
              non-space characters) / max(len); tables, images, math and
              Markdown markup are removed from both sides first.
  order_edit  reading-order edit distance (lower is better): each reference
              paragraph is matched to the output paragraph sharing most of
              its tokens; the edit distance between the reference order and
              the order of the matches in the output, / number matched.
  teds        table structure similarity (higher is better): 1 - tree edit
              distance / max(tree sizes) over <table>/<tr>/<td> trees (cell
              text compared by normalised edit distance; colspan/rowspan
              must agree), each reference table against its best output
              table; a reference table with no output table scores 0.
  teds_struct the same ignoring cell text.
Also pages/s of octo parse (txt and ocr), one process, OMP_THREAD_LIMIT=1.

Usage: bench/doc_eval.py [--octo build/octo] [--shared tests/data] [--json]
"""
import argparse
import html.parser
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

# (pdf, reference, kind)  kind: md (Markdown) or ocrjson (MinerU OCR spans)
CASES = [
    ("pdf/mineru_demo1.pdf", "pdf/ref/mineru_demo1.md", "md"),
    ("pdf/academic_literature_0b2c9c91.pdf", "pdf/ref/academic_literature_0b2c9c91.cleaned.md", "md"),
    ("pdf/research_report_1f978cd8.pdf", "pdf/ref/research_report_1f978cd8.cleaned.md", "md"),
]
SCANNED = [("pdf/mineru_small_ocr.pdf", "pdf/ref/mineru_small_ocr.json", "ocrjson")]
# Timed only (no reference): more text PDFs, and the other scans.
SPEED_TXT = ["pdf/mineru_demo2.pdf", "pdf/mineru_demo3.pdf", "pdf/academic_paper_formula.pdf",
             "pdf/chemical_knowledge_introduction.pdf"]
SPEED_OCR = ["pdf/scanned.pdf", "pdf/complex_layout.pdf"]


# ---- tokens and edit distance ---------------------------------------------

def is_cjk(c):
    o = ord(c)
    return 0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF or \
        0x20000 <= o <= 0x2FA1F


def tokens(s):
    out, cur = [], []
    for c in s:
        if c.isspace():
            if cur:
                out.append("".join(cur))
                cur = []
        elif is_cjk(c):
            if cur:
                out.append("".join(cur))
                cur = []
            out.append(c)
        else:
            cur.append(c)
    if cur:
        out.append("".join(cur))
    return out


def levenshtein(a, b):
    """Edit distance of two sequences of hashables, one numpy row at a time."""
    if not a or not b:
        return max(len(a), len(b))
    ids = {}
    av = np.array([ids.setdefault(x, len(ids)) for x in a], dtype=np.int64)
    bv = np.array([ids.setdefault(x, len(ids)) for x in b], dtype=np.int64)
    ar = np.arange(len(bv) + 1, dtype=np.int64)
    prev = ar.copy()
    for i in range(1, len(av) + 1):
        cost = (bv != av[i - 1]).astype(np.int64)
        tmp = np.empty_like(prev)
        tmp[0] = i
        tmp[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        prev = np.minimum.accumulate(tmp - ar) + ar
    return int(prev[-1])


def ned(a, b):
    n = max(len(a), len(b))
    return levenshtein(a, b) / n if n else 0.0


# ---- Markdown cleaning ------------------------------------------------------

TABLE_RE = re.compile(r"<table.*?</table>", re.S | re.I)


def pipe_tables_to_html(md):
    """Markdown pipe tables (as the cleaned references have some) to HTML, so
    that both kinds are scored as tables and left out of the text metric."""
    out, rows = [], []

    def flush():
        if rows:
            out.append("<table>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>"
                                          for r in rows) + "</table>")
            rows.clear()
    for line in md.split("\n"):
        t = line.strip()
        if t.startswith("|") and t.endswith("|") and len(t) > 1:
            cells = [c.strip() for c in t[1:-1].split("|")]
            if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                rows.append(cells)
            continue
        flush()
        out.append(line)
    flush()
    return "\n".join(out)


def strip_md(md):
    md = TABLE_RE.sub(" ", md)
    md = re.sub(r"\$\$.*?\$\$", " ", md, flags=re.S)
    md = re.sub(r"\$[^$\n]{0,400}\$", " ", md)
    md = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", md)
    md = re.sub(r"<[^>]+>", " ", md)
    md = re.sub(r"^\s{0,3}#{1,6}\s*", "", md, flags=re.M)
    md = re.sub(r"^\s*[-*]\s+", "", md, flags=re.M)
    md = md.replace("**", "").replace("\\", "")
    return md


def paragraphs(md):
    return [p for p in (strip_md(x) for x in re.split(r"\n\s*\n", md)) if len(tokens(p)) >= 4]


# ---- reading order ----------------------------------------------------------

def order_edit(ref_md, out_text):
    """Each reference paragraph is located in the output token stream by its
    4-grams (median of position - offset over those found); the order of
    those positions is compared with the reference order."""
    out = tokens(strip_md(out_text))
    grams = {}
    for i in range(len(out) - 3):
        grams.setdefault(tuple(out[i:i + 4]), []).append(i)
    seq = []
    for k, para in enumerate(paragraphs(ref_md)):
        t = tokens(para)
        if len(t) < 8:
            continue
        hits = []
        for off in range(0, len(t) - 3):
            g = grams.get(tuple(t[off:off + 4]))
            if g and len(g) == 1:
                hits.append(g[0] - off)
        if len(hits) >= max(2, (len(t) - 3) // 4):
            seq.append((k, sorted(hits)[len(hits) // 2]))
    if not seq:
        return 1.0, 0
    ref_order = [k for k, _ in seq]
    out_order = [k for k, _ in sorted(seq, key=lambda x: (x[1], x[0]))]
    return ned(ref_order, out_order), len(seq)


# ---- tables: TEDS -------------------------------------------------------------

class Node:
    def __init__(self, tag, attrs=None):
        self.tag, self.attrs, self.text, self.kids = tag, attrs or {}, "", []


class TableParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            n = Node("table")
            self.tables.append(n)
            self.stack = [n]
        elif tag == "tr" and self.stack:
            n = Node("tr")
            self.stack[0].kids.append(n)
            self.stack = self.stack[:1] + [n]
        elif tag in ("td", "th") and len(self.stack) >= 2:
            n = Node("td", {"colspan": a.get("colspan", "1"), "rowspan": a.get("rowspan", "1")})
            self.stack[1].kids.append(n)
            self.stack = self.stack[:2] + [n]

    def handle_endtag(self, tag):
        if tag in ("td", "th") and len(self.stack) == 3:
            self.stack.pop()
        elif tag == "tr" and len(self.stack) >= 2:
            self.stack = self.stack[:1]

    def handle_data(self, data):
        if len(self.stack) == 3:
            self.stack[2].text += data


def parse_tables(md):
    p = TableParser()
    p.feed(md)
    return p.tables


def postorder(root):
    nodes, lml = [], []

    def walk(n):
        first = None
        for k in n.kids:
            f = walk(k)
            if first is None:
                first = f
        nodes.append(n)
        idx = len(nodes) - 1
        lml.append(first if first is not None else idx)
        return lml[idx]
    walk(root)
    return nodes, lml


def rename_cost(a, b, struct):
    if a.tag != b.tag or a.attrs != b.attrs:
        return 1.0
    if a.tag != "td" or struct:
        return 0.0
    return ned(cell_norm(a.text), cell_norm(b.text))


def cell_norm(t):
    """Cell text without LaTeX wrapping (the references write 2022E as
    $2022 E$) and without spaces, as characters."""
    t = re.sub(r"\\(mathrm|text|mathbf|operatorname)\s*", "", t)
    t = re.sub(r"[\s${}\\]", "", t)
    return list(t)


def tree_edit(t1, t2, struct):
    """Zhang-Shasha tree edit distance, unit insert/delete costs."""
    n1, l1 = postorder(t1)
    n2, l2 = postorder(t2)
    kr1 = [i for i in range(len(n1)) if not any(l1[j] == l1[i] for j in range(i + 1, len(n1)))]
    kr2 = [j for j in range(len(n2)) if not any(l2[k] == l2[j] for k in range(j + 1, len(n2)))]
    td = np.zeros((len(n1), len(n2)))
    for i in kr1:
        for j in kr2:
            li, lj = l1[i], l2[j]
            m, n = i - li + 2, j - lj + 2
            fd = np.zeros((m, n))
            fd[1:, 0] = np.arange(1, m)
            fd[0, 1:] = np.arange(1, n)
            for x in range(li, i + 1):
                for y in range(lj, j + 1):
                    xi, yj = x - li + 1, y - lj + 1
                    if l1[x] == li and l2[y] == lj:
                        fd[xi, yj] = min(fd[xi - 1, yj] + 1, fd[xi, yj - 1] + 1,
                                         fd[xi - 1, yj - 1] + rename_cost(n1[x], n2[y], struct))
                        td[x, y] = fd[xi, yj]
                    else:
                        p, q = l1[x] - li, l2[y] - lj
                        fd[xi, yj] = min(fd[xi - 1, yj] + 1, fd[xi, yj - 1] + 1, fd[p, q] + td[x, y])
    return td[len(n1) - 1, len(n2) - 1], max(len(n1), len(n2))


def teds(ref_md, out_md, struct):
    refs, outs = parse_tables(ref_md), parse_tables(out_md)
    if not refs:
        return None
    used, scores = set(), []
    for r in refs:
        best, bj = 0.0, None
        for j, o in enumerate(outs):
            if j in used:
                continue
            d, n = tree_edit(r, o, struct)
            s = 1 - d / n
            if s > best:
                best, bj = s, j
        if bj is not None:
            used.add(bj)
        scores.append(best)
    return sum(scores) / len(scores)


# ---- runners ----------------------------------------------------------------

def run_octo(octo, pdf, method, outdir):
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    t = time.time()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([octo, "parse", pdf, "-o", outdir, "--method", method], check=True,
                   env=env, stderr=subprocess.DEVNULL)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[0] += (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    dt = time.time() - t
    stem = os.path.splitext(os.path.basename(pdf))[0]
    with open(os.path.join(outdir, stem, stem + ".md"), encoding="utf-8") as f:
        return f.read(), dt


CPU = [0.0]  # CPU seconds of the octo runs (user + system), summed by the caller


def run_pdftotext(pdf):
    return subprocess.run(["pdftotext", "-layout", pdf, "-"], check=True,
                          capture_output=True).stdout.decode("utf-8", "replace")


def pages_of(pdf):
    out = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout
    m = re.search(r"^Pages:\s+(\d+)", out, re.M)
    return int(m.group(1)) if m else 0


def ocr_reference(path):
    pages = json.load(open(path, encoding="utf-8"))
    out = []
    for p in pages:
        spans = [d for d in p["layout_dets"] if d.get("category_id") == 15 and d.get("text")]
        spans.sort(key=lambda d: (round(d["poly"][1] / 20), d["poly"][0]))
        out.append("\n".join(d["text"] for d in spans))
    return "\n\n".join(out)


def score(ref, ours, base):
    ref, ours = pipe_tables_to_html(ref), pipe_tables_to_html(ours)
    r = {}
    rt = tokens(strip_md(ref))
    r["text_edit"] = (ned(rt, tokens(strip_md(ours))), ned(rt, tokens(base)))
    r["order_edit"] = (order_edit(ref, ours)[0], order_edit(ref, base)[0])
    t = teds(ref, ours, False)
    if t is not None:
        r["teds"] = (t, 0.0 if not parse_tables(base) else teds(ref, base, False))
        r["teds_struct"] = (teds(ref, ours, True), 0.0)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--octo", default="build/octo")
    ap.add_argument("--shared", default=os.environ.get("OCTO_TEST_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-ocr", action="store_true", help="skip the OCR runs (slow)")
    a = ap.parse_args()
    rows, speed = [], {"txt": [0, 0.0, 0.0], "ocr": [0, 0.0, 0.0]}
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(c, "txt") for c in CASES]
        if not a.no_ocr:
            cases += [(c, "ocr") for c in SCANNED]
        for (pdf, ref, kind), method in cases:
            pdf, ref = os.path.join(a.shared, pdf), os.path.join(a.shared, ref)
            c0 = CPU[0]
            ours, dt = run_octo(a.octo, pdf, method, tmp)
            n = pages_of(pdf)
            speed[method][0] += n
            speed[method][1] += dt
            speed[method][2] += CPU[0] - c0
            refmd = open(ref, encoding="utf-8").read() if kind == "md" else ocr_reference(ref)
            s = score(refmd, ours, run_pdftotext(pdf))
            if kind == "ocrjson":
                s.pop("order_edit")
            rows.append({"file": os.path.basename(pdf), "method": method, "pages": n,
                         "seconds": round(dt, 2), **{k: [round(x, 4) for x in v]
                                                    for k, v in s.items()}})
        extra = [(f, "txt") for f in SPEED_TXT]
        if not a.no_ocr:
            extra += [(f, "ocr") for f in SPEED_OCR]
        for rel, method in extra:
            pdf = os.path.join(a.shared, rel)
            c0 = CPU[0]
            _, dt = run_octo(a.octo, pdf, "auto", tmp)
            speed[method][0] += pages_of(pdf)
            speed[method][1] += dt
            speed[method][2] += CPU[0] - c0
    for m, (n, t, c) in speed.items():
        if n:
            rows.append({"speed": m, "pages": n, "seconds": round(t, 2), "cpu_s": round(c, 2),
                         "pages_per_s": round(n / t, 2), "pages_per_cpu_s": round(n / c, 2)})
    if a.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("file                                  metric        octo    pdftotext  (lower edit /"
          " higher teds is better)")
    worse = 0
    for r in rows:
        if "speed" in r:
            print(f"speed {r['speed']}: {r['pages']} pages in {r['seconds']} s wall, "
                  f"{r['cpu_s']} s CPU = {r['pages_per_s']} pages/s wall, "
                  f"{r['pages_per_cpu_s']} pages per CPU second")
            continue
        for k in ("text_edit", "order_edit", "teds", "teds_struct"):
            if k in r:
                o, b = r[k]
                better = o > b if k.startswith("teds") else o < b
                worse += not better
                print(f"{r['file'][:36]:37s} {k:12s} {o:8.4f} {b:10.4f} {'' if better else 'WORSE'}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
