"""`mailrig profile list|show|check|keys` as a process: exit codes, output, files.

The binary: see mailrig_server.mailrig_binary. Run: /usr/bin/python3 -m pytest tests/py
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


from mailrig_server import mailrig_binary as mailrig_bin


def run(*args, env=None):
    return subprocess.run([mailrig_bin(), "profile", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_help_on_every_subcommand():
    for args in (["--help"], ["list", "--help"], ["show", "--help"], ["check", "--help"], ["keys", "--help"]):
        r = run(*args)
        assert r.returncode == 0, args
        assert "usage: mailrig profile list" in r.stdout


def test_list_shows_the_shipped_profiles():
    r = run("list")
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert names == ["exchange", "generic", "icloud"]
    assert "app-specific passwords" in r.stdout


def test_show_loads_back_through_check(tmp_path):
    for name in ("icloud", "exchange", "generic"):
        shown = run("show", name, "--set", "imap.username=full", "--set=listener.587.mode=plain")
        assert shown.returncode == 0, shown.stderr
        path = tmp_path / f"{name}.ini"
        path.write_text(shown.stdout)
        checked = run("check", str(path))
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout.startswith(f"{path}: ok (profile '{name}'")
        again = run("show", str(path))
        assert again.stdout == shown.stdout
        assert "mode = plain" in shown.stdout


def test_check_reports_every_problem_with_file_and_line(tmp_path):
    text = (ROOT / "profiles" / "generic.ini").read_text()
    text = text.replace("mode = implicit-tls\n", "mode = implicit\n", 1).replace("[imap]\n", "[imapp]\n", 1)
    path = tmp_path / "broken.ini"
    path.write_text(text)
    r = run("check", str(path), "--set", "smtp.usrname=x")
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert any(l.startswith(f"{path}:") and "unknown section [imapp] (did you mean [imap]?)" in l for l in lines)
    assert any("unknown value 'implicit'" in l and "did you mean 'implicit-tls'?" in l for l in lines)
    assert "--set smtp.usrname=x: unknown key 'usrname' in [smtp] (did you mean 'username'?)" in lines
    assert r.stdout == ""


def test_usage_errors():
    assert run().returncode == 2
    assert run("frob").returncode == 2
    assert run("show").returncode == 2
    assert run("show", "icloud", "--bogus").returncode == 2
    r = run("show", "no-such-profile")
    assert r.returncode == 2 and "no profile named 'no-such-profile'" in r.stderr


def test_data_directory_from_environment(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mini.ini").write_text(
        "[profile]\nname = mini\ndescription = tiny\n[imap]\nenabled = no\n[smtp]\nenabled = no\n"
        "[pop3]\nenabled = no\n[listener.1]\nprotocol = smtp\nmode = closed\n")
    env = dict(os.environ, MAILRIG_DATA=str(tmp_path))
    r = run("list", env=env)
    assert r.returncode == 0 and r.stdout.split() == ["mini", "tiny"]
    env["MAILRIG_DATA"] = str(tmp_path / "missing")
    assert run("list", env=env).returncode == 3


def test_keys_documents_every_section():
    r = run("keys")
    assert r.returncode == 0
    for section in ("[profile]", "[tls]", "[imap]", "[smtp]", "[pop3]", "[listener.PORT]", "[account.NAME]",
                    "[folder.NAME]"):
        assert f"#### {section}" in r.stdout
    readme = (ROOT / "profiles" / "README.md").read_text()
    assert r.stdout in readme, "profiles/README.md is out of date: paste `mailrig profile keys` into it"
