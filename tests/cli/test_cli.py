# SPDX-License-Identifier: Apache-2.0
"""The `octo` command line: every subcommand has --help, unbuilt ones say so
and exit 3, usage errors exit 2, version works."""
import os
import subprocess

import pytest

OCTO_BIN = os.environ.get("OCTO_BIN", os.path.join(os.path.dirname(__file__), "../../build/octo"))
SUBCOMMANDS = ["serve", "plan", "run", "embed", "transcribe", "parse", "bench", "pull", "version"]


def octo(*args):
    return subprocess.run([OCTO_BIN, *args], capture_output=True, text=True, timeout=30)


def test_top_level_help_lists_every_subcommand():
    p = octo("--help")
    assert p.returncode == 0
    for c in SUBCOMMANDS:
        assert f"  {c} " in p.stdout, c


def test_no_arguments_is_a_usage_error():
    p = octo()
    assert p.returncode == 2 and "usage: octo" in p.stderr


def test_unknown_command():
    p = octo("frobnicate")
    assert p.returncode == 2 and "unknown command 'frobnicate'" in p.stderr


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_every_subcommand_has_help(cmd):
    p = octo(cmd, "--help")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"usage: octo {cmd}")


def test_unbuilt_subcommands_say_so():
    top = octo("--help").stdout
    unbuilt = [c for c in SUBCOMMANDS if f"  {c} " in top and "(not built yet)" in
               top.split(f"  {c} ")[1].split("\n")[0]]
    for c in unbuilt:
        p = octo(c)
        assert p.returncode == 3, c
        assert "not built yet" in p.stderr


def test_version():
    p = octo("version")
    assert p.returncode == 0 and p.stdout.startswith("octo ")
    assert octo("--version").stdout == p.stdout
    assert octo("version", "extra").returncode == 2


def test_serve_bad_flag_and_bad_config(tmp_path):
    p = octo("serve", "--no-such-flag")
    assert p.returncode == 2 and "--no-such-flag" in p.stderr
    bad = tmp_path / "octo.yaml"
    bad.write_text("server:\n  port: eighty\n")
    p = octo("serve", "--config", str(bad))
    assert p.returncode == 2
    assert f"{bad}:2" in p.stderr and "port" in p.stderr
    p = octo("serve", "--config", str(tmp_path / "missing.yaml"))
    assert p.returncode == 2 and "missing.yaml" in p.stderr
