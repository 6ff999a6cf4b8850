# SPDX-License-Identifier: Apache-2.0
"""Finds the code points that Hugging Face `tokenizers`' normalisers treat
differently from utf8proc, and prints them as the C range table that
src/tokenizer/tokenizer_encode.c holds (HF_UNKNOWN).

HF normalises with the unicode-normalization-alignments crate, whose tables
are older (Unicode 9.0) than utf8proc's: code points assigned later have, for
HF, combining class 0, no decomposition and no composition. octo copies those
code points through unchanged and normalises the text between them, which
reproduces HF exactly. This script probes every code point, for NFC and
NFKC, with strings that expose combining class (reordering against U+0334
and U+0307), decompositions and compositions, comparing HF with utf8proc
(through ctypes, the same library octo links).

Usage: .venv/bin/python tools/gen_tok_unicode_compat.py   (about a minute)
"""
import ctypes

from tokenizers import normalizers

LIB = ctypes.CDLL("libutf8proc.so.2")
LIBC = ctypes.CDLL("libc.so.6")
LIBC.free.argtypes = [ctypes.c_void_p]
for name in ("utf8proc_NFC", "utf8proc_NFD", "utf8proc_NFKC"):
    getattr(LIB, name).restype = ctypes.c_void_p
    getattr(LIB, name).argtypes = [ctypes.c_char_p]


def u8p(fn, s):
    p = getattr(LIB, fn)(s.encode())
    r = ctypes.string_at(p).decode()
    LIBC.free(p)
    return r


def scalar_values(lo):
    for c in range(lo, 0x110000):
        if not 0xD800 <= c <= 0xDFFF:
            yield c


def main():
    nfc, nfkc = normalizers.NFC(), normalizers.NFKC()
    diff = set()
    for c in scalar_values(0x300):
        ch = chr(c)
        for p in (ch, "q" + ch + "\u0334", "q\u0307" + ch):
            if nfc.normalize_str(p) != u8p("utf8proc_NFC", p):
                diff.add(c)
                break
        else:
            if nfkc.normalize_str(ch) != u8p("utf8proc_NFKC", ch):
                diff.add(c)
    # compositions utf8proc makes and HF does not: mark the second (new) char
    for x in scalar_values(0xC0):
        d = u8p("utf8proc_NFD", chr(x))
        if len(d) == 2 and u8p("utf8proc_NFC", d) == chr(x) and nfc.normalize_str(d) != chr(x):
            diff.add(ord(d[1]))
    ranges = []
    for c in sorted(diff):
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    print(f"/* {len(diff)} code points in {len(ranges)} ranges */")
    line = "   "
    for a, b in ranges:
        item = f" {{0x{a:X}, 0x{b:X}}},"
        if len(line) + len(item) > 96:
            print(line)
            line = "   "
        line += item
    print(line)


if __name__ == "__main__":
    main()
