# SPDX-License-Identifier: Apache-2.0
"""Deterministic multilingual tokenizer corpus (test fixture generator).

make_corpus(n, seed) returns n varied lines: Chinese, English, Japanese,
Korean, Arabic, Russian, Hindi, Thai, code (C, Python, JSON), emoji with
ZWJ sequences, skin tones, flags and keycaps, long digit runs, whitespace
runs, tabs, CR/LF mixes, Unicode spaces, special tokens embedded, combining
sequences that NFC rewrites, apostrophe contractions, and random code
points. The same (n, seed) always gives the same lines; nothing is stored.
"""
import json
import random

ZH = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过"
      "家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本"
      "见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话"
      "模型推理服务器显卡内存令牌分词测试数据中文英文混合编码解码向量检索知识库")
ZH_PUNCT = "，。！？；：、“”‘’（）《》【】…—·"
EN_WORDS = ("the of and to in is was for on that with as by at from his her it an were are which "
            "this be or has had not but what all when can said there use each how their will other "
            "about many then them these so some would make like into time look two more write go see "
            "number way could people than first water been call who oil now find long down day did "
            "get come made may part tokenizer server inference model GPU CUDA latency throughput "
            "don't isn't I'm you're we've they'll she'd IT'S DON'T O'Neil rock'n'roll").split()
HIRA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼぱぴぷぺぽゃゅょっー"
KATA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポャュョッー"
KANJI = "日本語東京大学先生学生時間今日明日電車会社仕事新聞映画音楽料理天気雨雪山川海空花"
AR = "مرحبا بالعالم هذا نص عربي للاختبار السلام عليكم كيف حالك اللغة العربية جميلة"
RU = "Привет мир это тестовый текст на русском языке Съешь же ещё этих мягких французских булок"
HI = "नमस्ते दुनिया यह हिंदी में परीक्षण पाठ है क़िला ज़रूर"
TH = "สวัสดีชาวโลก นี่คือข้อความทดสอบภาษาไทย"
EMOJI = ["😀", "😂", "🥲", "👍", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇨🇳", "🇯🇵", "🇺🇸", "🇫🇷",
         "❤️", "✨", "🔥", "1️⃣", "#️⃣", "🧑🏿‍🚀", "🐈‍⬛", "☕", "🤖", "🙏🏻", "🫠"]
SPECIALS = ["<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
            "<|endoftext|>", "<|fim_prefix|>", "<|vision_start|>", "<|im_start", "im_end|>",
            "<think", "</think", "<|im_end|><|im_end|>", "<<|im_end|>>", "<tool_response>"]
SPACES = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", "\u00a0", "\u3000",
          "\u2009", "\u200b", "\u0085", "\u2028", "\u180e", "\u202f", " \n ", "\n\t", "\f", "\v"]
# Sequences that NFC rewrites (decomposed or non-canonical order), and some it keeps.
NFC_CASES = ["e\u0301", "E\u0300", "a\u0308", "o\u0302\u0301", "A\u030a", "\u212b", "\u2126",
             "a\u0323\u0307", "a\u0307\u0323", "\u1100\u1161\u11a8", "\u1112\u1161\u11ab",
             "\u0915\u093c", "\u0cc6\u0cc2", "\u304b\u3099", "\u30cf\u309a", "n\u0303o",
             "\u0627\u0653", "\u00e9", "C\u0327", "\u1e9b\u0323", "\u0041\u030a\u0301",
             "\u0344", "\u0958", "\uf900", "\u2000", "\ufb01", "x\u0301\u0301",
             # marks newer than HF's Unicode 9.0 tables, next to marks it knows
             "\u1df8\u064d", "a\u0323\u0307\u0d3b", "q\u0307\u0d3b", "\U00011935\U00011930",
             "e\u1ac0\u0301", "\u0301\u1ac0\u0316", "\U0001e062", "\u32ff", "o\u0308\u1df9"]
NUMBERS = ["0", "7", "42", "1234567890", "3.14159", "-2.5e-10", "1,000,000", "0x1F", "2024-06-30",
           "12:30:45", "99%", "１２３", "٣٤٥", "१२३", "Ⅻ", "½", "²", "10⁶"]


def _code_c(r):
    name = r.choice(["main", "foo_bar", "octo_tok_encode", "f", "compute"])
    return r.choice([
        f"int {name}(int argc, char **argv) {{ return argc > {r.randint(0, 99)} ? 1 : 0; }}",
        f"for (size_t i = 0; i < n; i++) {{ sum += a[i] * {r.randint(0, 9999)}; }}",
        f"#include <stdio.h>\n#define MAX {r.randint(0, 10**6)}\nstatic const char *s = \"{name}\\n\";",
        f"if (!p) {{\r\n    return -ENOMEM;\r\n}}\r\n/* {name} */ // comment",
        f"x->y = (uint8_t)(z >> {r.randint(1, 31)}) & 0xff; y <<= 2; z ^= ~w; a&&b||!c;",
    ])


def _code_py(r):
    name = r.choice(["main", "parse", "encode_batch", "_helper", "λ"])
    return r.choice([
        f"def {name}(x, y=None, *args, **kw):\n    return [i ** 2 for i in range({r.randint(0, 999)})]",
        f"class {name.title()}:\n\tdef __init__(self):\n\t\tself.value = {r.random()!r}",
        f"    if x is not None and y != '{name}':  # check\n        raise ValueError(f\"bad {{x}}\")",
        f"import numpy as np; arr = np.zeros(({r.randint(1, 64)}, {r.randint(1, 64)}), dtype=np.float32)",
        f"print('héllo', \"wörld\", end=''); lambda: None; x = {{'k': [1, 2, 3]}}",
    ])


def _json(r):
    obj = {"model": "Qwen3", "messages": [{"role": r.choice(["user", "assistant", "system"]),
                                           "content": _sentence(r, r.choice(["zh", "en", "ja"]))}],
           "temperature": round(r.random(), 3), "max_tokens": r.randint(1, 32768),
           "stream": r.random() < 0.5, "stop": None, "tools": [{"type": "function"}]}
    return json.dumps(obj, ensure_ascii=r.random() < 0.5, indent=r.choice([None, 2, "\t"]))


def _sentence(r, lang):
    if lang == "zh":
        s = "".join(r.choice(ZH) for _ in range(r.randint(2, 40)))
        return s + r.choice(ZH_PUNCT)
    if lang == "en":
        words = [r.choice(EN_WORDS) for _ in range(r.randint(1, 20))]
        if r.random() < 0.3:
            words[0] = words[0].capitalize()
        return " ".join(words) + r.choice([".", "!", "?", ",", "", "...", ";"])
    if lang == "ja":
        pool = HIRA + KATA + KANJI
        return "".join(r.choice(pool) for _ in range(r.randint(2, 30))) + r.choice("。、！？")
    if lang == "ko":
        syl = "".join(chr(r.randint(0xAC00, 0xD7A3)) for _ in range(r.randint(1, 6)))
        return " ".join([syl, "안녕하세요", "한국어", "테스트입니다"][: r.randint(1, 4)])
    if lang == "ar":
        w = AR.split()
        return " ".join(r.choice(w) for _ in range(r.randint(1, 10)))
    if lang == "ru":
        w = RU.split()
        return " ".join(r.choice(w) for _ in range(r.randint(1, 10)))
    if lang == "hi":
        return " ".join(r.choice(HI.split()) for _ in range(r.randint(1, 8)))
    return TH[: r.randint(3, len(TH))]


def _random_codepoints(r):
    out = []
    for _ in range(r.randint(1, 12)):
        plane = r.random()
        if plane < 0.5:
            cp = r.randint(0x20, 0x2FFF)
        elif plane < 0.8:
            cp = r.randint(0x3000, 0xFFFD)
        elif plane < 0.95:
            cp = r.randint(0x10000, 0x1FFFF)
        else:
            cp = r.randint(0x20000, 0x10FFFF)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD
        out.append(chr(cp))
    return "".join(out)


# Small atoms mixed at random: stresses the split regex and added-token
# boundaries (contractions next to whitespace kinds, marks, joiners...).
SOUP = ["'", "s", "S", "ll", "LL", "t", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u0085",
        "\u2028", "\u3000", "\u200b", "\u180e", "1", "12", "a", "Z", "\u00c9", "e\u0301", "\u0301", "\u0308",
        "\u4e2d", "\u3002", "!", "?", "...", "<|im_end|>", "<think>", "</think>", "<", "|", ">",
        "\U0001f600", "\u200d", "\U0001f1eb", "\U0001f1f7", "_", "-", "\u017f", "\u212a",
        "\u0130", "\u00df", "\u0661", "\u2167", "$", "\\", "\"", "{", "}", "\u00b2", "\ufeff"]


def _soup(r):
    return "".join(r.choice(SOUP) for _ in range(r.randint(1, 24)))


def _piece(r):
    k = r.random()
    if k < 0.08:
        return _soup(r)
    k = r.random()
    if k < 0.22:
        return _sentence(r, r.choice(["zh", "zh", "en", "en", "ja", "ko", "ar", "ru", "hi", "th"]))
    if k < 0.30:
        return r.choice([_code_c, _code_py])(r)
    if k < 0.34:
        return _json(r)
    if k < 0.44:
        return "".join(r.choice(EMOJI) for _ in range(r.randint(1, 4)))
    if k < 0.54:
        n = r.choice(NUMBERS) if r.random() < 0.6 else "".join(
            r.choice("0123456789") for _ in range(r.randint(5, 60)))
        return n
    if k < 0.66:
        return "".join(r.choice(SPACES) for _ in range(r.randint(1, 5)))
    if k < 0.76:
        return r.choice(SPECIALS)
    if k < 0.86:
        return r.choice(NFC_CASES)
    if k < 0.92:
        return r.choice(["'s", "'S", "'ll", "'LL", "'ve", "'d", "'m", "'re", "’s", "'ſ", "''",
                         "' s", "'t'"])
    return _random_codepoints(r)


def make_corpus(n=10000, seed=20240601):
    r = random.Random(seed)
    lines = []
    while len(lines) < n:
        parts = [_piece(r) for _ in range(r.randint(1, 6))]
        glue = r.choice(["", " ", "", "\n", " "])
        line = glue.join(parts)
        if r.random() < 0.05:
            line = line * r.randint(2, 5)  # repeated words exercise the cache
        lines.append(line)
    # a few fixed edge cases
    lines += ["", " ", "\n", "a", "ab", "9" * 500, " " * 300, "\t" * 50 + "x", "\r\n" * 20,
              "<|im_start|>" * 5, "😀" * 100, "x" * 2000, "的" * 300, "\u0301" * 10,
              "e" + "\u0301" * 20]
    return lines


if __name__ == "__main__":
    import sys
    for line in make_corpus(int(sys.argv[1]) if len(sys.argv) > 1 else 10000):
        print(json.dumps(line))
