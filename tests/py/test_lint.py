"""`mailrig lint`: exit status, output format and --help, as a user runs it.

Run from the repository root: /usr/bin/python3 -m pytest tests/py/test_lint.py
(the binary: see mailrig_server.mailrig_binary).
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "scenarios" / "broken"


from mailrig_server import mailrig_binary as mailrig


def lint(*args, cwd=ROOT):
    return subprocess.run([mailrig(), "lint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_catalogue_is_clean():
    r = lint("scenarios")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("lint: ") and ", 0 with errors, 0 errors" in r.stderr


@pytest.mark.parametrize("scn", sorted(p.name for p in BROKEN.glob("*.scn")))
def test_broken_file_exact_output(scn):
    r = lint("-q", f"tests/scenarios/broken/{scn}")
    assert r.returncode == 2
    want = (BROKEN / scn).with_suffix(".err").read_text()
    assert r.stderr == want


def test_directory_and_summary(tmp_path):
    (tmp_path / "a.scn").write_text("scenario a\nrole client\nconnect imap plain\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.scn").write_text("scenario b\nrole client\nsend \"x\"\n")
    (tmp_path / "sub" / "frag.inc").write_text("not a scenario\n")   # not linted on its own
    r = lint(str(tmp_path))
    assert r.returncode == 2
    assert f"{tmp_path}/sub/b.scn:3:1: 'send' needs a connection" in r.stderr
    assert r.stderr.rstrip().endswith("lint: 2 files, 1 with errors, 2 errors")


def test_usage_errors():
    r = lint()
    assert r.returncode == 2 and "no scenario file or directory given" in r.stderr
    r = lint("--frob")
    assert r.returncode == 2 and "unknown option '--frob'" in r.stderr
    r = lint("does/not/exist.scn")
    assert r.returncode == 2
    assert "does/not/exist.scn: cannot read: No such file or directory" in r.stderr


def test_help():
    r = lint("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: mailrig lint")
    top = subprocess.run([mailrig(), "--help"], capture_output=True, text=True, timeout=60)
    assert "lint" in top.stdout


def test_profile_references_are_checked(tmp_path):
    """lint checks what `mailrig run` checks: the profile, the set lines (together), the account."""
    (tmp_path / "a.scn").write_text("scenario a\nrole client\nprofile generic\n"
                                    "set imap.usrname=full\naccount zed\nconnect imap plain\n")
    (tmp_path / "b.scn").write_text("scenario b\nrole client\nprofile nosuch\nconnect imap plain\n")
    (tmp_path / "c.scn").write_text("scenario c\nrole client\nprofile generic\n"
                                    "set listener.2525.protocol=smtp\nset listener.2525.mode=plain\n"
                                    "account bob\nconnect smtp 2525 plain\n")
    r = lint("-q", str(tmp_path))
    assert r.returncode == 2
    assert (f"{tmp_path}/a.scn:4:5: unknown key 'usrname' in [imap] (did you mean "
            "'username'?)") in r.stderr
    assert f"{tmp_path}/a.scn:5:9: no account 'zed' in profile 'generic'" in r.stderr
    assert f"{tmp_path}/b.scn:3:9: no profile named 'nosuch'" in r.stderr
    assert "c.scn" not in r.stderr
