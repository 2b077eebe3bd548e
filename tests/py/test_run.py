"""`mailrig run` and `mailrig list` as processes: exit statuses, the report, JUnit (validated
against tests/py/data/junit.xsd and loaded by junitparser), JSON, progress on a pty and off it,
tags, catalogue names, validation before anything runs, timeouts, crashes, signals.

Most tests use build/asan/bin/mailrig-fakerun: the real run/list commands with a fake
interpreter driven by `var fake="..."` lines in the scenarios (tests/fakerun/fakerun.c). The
shipped mailrig is tested for what it does with the interpreter it has.
"""
import json
import os
import pathlib
import pty
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from mailrig_server import mailrig_binary

ROOT = pathlib.Path(__file__).resolve().parents[2]
XSD = pathlib.Path(__file__).resolve().parent / "data" / "junit.xsd"
GENERIC_PASSWORD = "alice-password-1"   # profiles/generic.ini [account.alice]


@pytest.fixture(scope="session")
def fakerun():
    env = os.environ.get("MAILRIG_FAKERUN")
    if env:
        return env
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/asan/bin/mailrig-fakerun"], check=True)
    return str(ROOT / "build" / "asan" / "bin" / "mailrig-fakerun")


def scn(directory, name, fake="pass", role="client", profile="generic", tags=("fake",),
        extra="", describe=None, header=""):
    """Write DIR/NAME.scn: a valid scenario whose fake run does `fake`."""
    lines = [f"scenario {name}"]
    if describe:
        lines.append(f'describe "{describe}"')
    if tags:
        lines.append("tags " + " ".join(tags))
    if profile:
        lines.append(f"profile {profile}")
    lines.append(f"role {role}")
    if header:
        lines.append(header)
    lines.append(f'var fake="{fake}"')
    if role == "client":
        lines.append("connect imap 993 implicit-tls")
    else:
        lines.append("serve")
    lines.append(extra)
    path = pathlib.Path(directory) / f"{name}.scn"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run(binary, *args, cwd=None, env=None, timeout=60):
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.update(env or {})
    return subprocess.run([binary, "run", *map(str, args)], cwd=cwd or ROOT, env=e,
                          capture_output=True, text=True, timeout=timeout)


def totals(stdout):
    m = re.search(r"^(\d+) scenarios?: (\d+) passed, (\d+) failed, (\d+) errors?, "
                  r"(\d+) skipped \([\d.]+ s\)$", stdout, re.M)
    assert m, stdout
    return tuple(int(x) for x in m.groups())


# ---- verdicts and exit statuses --------------------------------------------------------------

def test_all_pass(fakerun, tmp_path):
    scn(tmp_path, "a")
    scn(tmp_path, "b", describe="second")
    work = tmp_path / "work"
    r = run(fakerun, "--work", work, tmp_path)
    assert r.returncode == 0, r.stderr
    assert totals(r.stdout) == (2, 2, 0, 0, 0)
    assert re.search(r"^a +client +generic +PASS +\d+\.\d\ds$", r.stdout, re.M)
    assert f"transcripts and logs: {work}" in r.stdout
    assert (work / "a" / "transcript.log").is_file()
    assert "---" not in r.stdout   # no failure sections


def test_failure_report(fakerun, tmp_path):
    f = scn(tmp_path, "bad", fake="fail checks-fail", extra='var lines="60"\ncheck strict-syntax')
    r = run(fakerun, "--work", tmp_path / "w", f)
    assert r.returncode == 1
    out = r.stdout
    assert f"    at {f}:5:1: var fake=\"fail checks-fail\"\n" in out
    assert '       fake: expected "a1 OK*", got "a1 NO [AUTHENTICATIONFAILED] nope"\n' in out
    assert (f"    check strict-syntax failed ({f}:8:1): fake: strict-syntax saw the peer "
            "misbehave in conn 1\n") in out
    section = out[out.index("--- bad: FAIL"):]
    assert f"transcript: {tmp_path}/w/bad/transcript.log (last 40 of 60 lines)" in section
    shown = [l for l in section.splitlines() if l.startswith("  | ")]
    assert len(shown) == 40
    assert shown[0].endswith("transcript line 21 <&> \"quoted\"")
    assert shown[-1].endswith("transcript line 60 <&> \"quoted\"")
    assert totals(out) == (1, 0, 1, 0, 0)


@pytest.mark.parametrize("fake,message", [
    ("error", "fake: 127.0.0.1 port in use"),
    ("abort", "the worker died of signal 6 (Aborted)"),
    ("kill", "the worker died of signal 9 (Killed)"),
    ("exit7", "the worker exited with status 7 without a result"),
])
def test_errors_exit_3(fakerun, tmp_path, fake, message):
    scn(tmp_path, "env", fake=fake)
    r = run(fakerun, "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert re.search(r"^env +client +generic +ERROR ", r.stdout, re.M)
    assert f"    {message}\n" in r.stdout
    assert totals(r.stdout) == (1, 0, 0, 1, 0)


def test_failure_outranks_error(fakerun, tmp_path):
    scn(tmp_path, "a", fake="error")
    scn(tmp_path, "b", fake="fail")
    scn(tmp_path, "c")
    r = run(fakerun, "-j", "3", "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 1
    assert totals(r.stdout) == (3, 1, 1, 1, 0)


def test_hung_scenario_is_killed(fakerun, tmp_path):
    scn(tmp_path, "stuck", fake="hang")
    t0 = time.monotonic()
    r = run(fakerun, "--timeout", "1s", "--work", tmp_path / "w", tmp_path)
    took = time.monotonic() - t0
    assert r.returncode == 3
    assert ("did not finish within its total timeout of 1.0 s and 0.3 s of grace: killed"
            in r.stdout)
    assert took < 6


def test_leftover_processes_are_killed(fakerun, tmp_path):
    scn(tmp_path, "orphan", fake="orphan")
    r = run(fakerun, "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 0, r.stdout
    pid = int((tmp_path / "w" / "orphan" / "orphan.pid").read_text())
    for _ in range(100):
        try:
            state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.01)
    pytest.fail(f"process {pid} started by the scenario is still running")


def test_parallel_runs_at_once(fakerun, tmp_path):
    for n in "abc":
        scn(tmp_path, n, fake="sleep=800")
    t0 = time.monotonic()
    r = run(fakerun, "-j", "3", "--work", tmp_path / "w1", tmp_path)
    parallel = time.monotonic() - t0
    assert r.returncode == 0
    t0 = time.monotonic()
    r = run(fakerun, "-j", "1", "--work", tmp_path / "w2", tmp_path)
    serial = time.monotonic() - t0
    assert r.returncode == 0
    assert serial >= 2.4
    assert parallel < serial - 1.0, (parallel, serial)


def test_j2_and_j0(fakerun, tmp_path):
    for n in "abcd":
        scn(tmp_path, n, fake="sleep=100")
    for j in ("2", "0"):
        r = run(fakerun, "-j", j, "--work", tmp_path / f"w{j}", "--json", tmp_path / f"{j}.json",
                tmp_path)
        assert r.returncode == 0
        opts = json.loads((tmp_path / f"{j}.json").read_text())["options"]
        assert opts["jobs"] == (2 if j == "2" else os.cpu_count())


# ---- validation before anything runs ---------------------------------------------------------

def test_syntax_errors_run_nothing(fakerun, tmp_path):
    good = scn(tmp_path, "good")
    broken = sorted((ROOT / "tests" / "scenarios" / "broken").glob("*.scn"))
    assert len(broken) >= 10
    work = tmp_path / "work"
    r = run(fakerun, "--work", work, good, *broken)
    assert r.returncode == 2
    for b in broken:   # every file's diagnostics, as `mailrig lint` prints them
        want = b.with_suffix(".err").read_text().replace("tests/scenarios/broken/",
                                                         f"{b.parent}/")
        assert want in r.stderr, b.name
    assert f"of {len(broken) + 1} scenario files have errors; nothing was run" in r.stderr
    assert not work.exists()
    assert r.stdout == ""


def test_profile_hooks(fakerun, tmp_path):
    scn(tmp_path, "bad-set", header="set imap.usrname=local")
    scn(tmp_path, "bad-account", header="account  zed")
    scn(tmp_path, "bad-profile", profile="icloudd")
    # a listener built over two lines is judged as a whole
    scn(tmp_path, "good-listener", header="set listener.2525.protocol=smtp\n"
                                          "set listener.2525.mode=plain")
    r = run(fakerun, "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 2
    err = r.stderr
    assert (f"{tmp_path}/bad-set.scn:5:5: unknown key 'usrname' in [imap] (did you mean "
            "'username'?)") in err
    assert (f"{tmp_path}/bad-account.scn:5:10: no account 'zed' in profile 'generic'") in err
    assert f"{tmp_path}/bad-profile.scn:3:9: no profile named 'icloudd'" in err
    assert "good-listener" not in err
    assert "3 of 4 scenario files have errors" in err


def test_incomplete_set_reported_at_its_line(fakerun, tmp_path):
    scn(tmp_path, "half", header="set listener.2525.mode=plain")
    r = run(fakerun, tmp_path)
    assert r.returncode == 2
    assert f"{tmp_path}/half.scn:5:5: [listener.2525] is missing 'protocol'" in r.stderr


def test_duplicate_names(fakerun, tmp_path):
    scn(tmp_path / "x", "same")
    scn(tmp_path / "y", "same")
    r = run(fakerun, tmp_path)
    assert r.returncode == 2
    assert (f"scenario name 'same' is used by {tmp_path}/x/same.scn and {tmp_path}/y/same.scn"
            in r.stderr)


# ---- selection -------------------------------------------------------------------------------

def names_run(stdout):
    return sorted(m.group(1) for m in re.finditer(r"^(\S+) +(?:client|server) +\S+ +[A-Z]+ ",
                                                  stdout, re.M))


def test_tags(fakerun, tmp_path):
    scn(tmp_path, "i1", tags=("icloud", "imap"))
    scn(tmp_path, "i2", tags=("icloud", "smtp", "slow"))
    scn(tmp_path, "e1", tags=("exchange",))
    scn(tmp_path, "n1", tags=())
    cases = {("--tag", "icloud"): ["i1", "i2"],
             ("--tag", "icloud", "--tag", "exchange"): ["e1", "i1", "i2"],
             ("--tag", "icloud,exchange", "--tag", "!slow"): ["e1", "i1"],
             ("--tag", "!slow"): ["e1", "i1", "n1"]}
    for args, want in cases.items():
        r = run(fakerun, *args, "--work", tmp_path / "w", tmp_path)
        assert r.returncode == 0, r.stderr
        assert names_run(r.stdout) == want, args
    r = run(fakerun, "--tag", "nosuch", tmp_path)
    assert r.returncode == 2 and "no scenario among the 4 given has the tags" in r.stderr
    r = run(fakerun, "--tag", "Bad Tag", tmp_path)
    assert r.returncode == 2 and "bad tag 'Bad Tag'" in r.stderr


@pytest.fixture
def data_dir(tmp_path):
    """A data directory with the real profiles and a small catalogue."""
    d = tmp_path / "data"
    (d / "scenarios" / "sub").mkdir(parents=True)
    os.symlink(ROOT / "profiles", d / "profiles")
    scn(d / "scenarios", "alpha", tags=("one",))
    scn(d / "scenarios" / "sub", "beta", tags=("two",))
    (d / "scenarios" / "sub" / "frag.inc").write_text("this is not a scenario\n")
    return d


def test_catalogue_names(fakerun, tmp_path, data_dir):
    env = {"MAILRIG_DATA": str(data_dir)}
    r = run(fakerun, "--work", tmp_path / "w1", env=env)   # no argument: the catalogue
    assert r.returncode == 0, r.stderr
    assert names_run(r.stdout) == ["alpha", "beta"]
    r = run(fakerun, "--work", tmp_path / "w2", "beta", env=env)
    assert r.returncode == 0, r.stderr
    assert names_run(r.stdout) == ["beta"]
    r = run(fakerun, "bata", env=env)
    assert r.returncode == 2
    assert f"no scenario named 'bata' in {data_dir}/scenarios (did you mean 'beta'?)" in r.stderr
    r = run(fakerun, "no/such/file.scn", env=env)
    assert r.returncode == 2 and "no/such/file.scn: cannot read: No such file" in r.stderr
    # the same file twice is run once
    r = run(fakerun, "--work", tmp_path / "w3", "alpha", data_dir / "scenarios", env=env)
    assert r.returncode == 0 and names_run(r.stdout) == ["alpha", "beta"]


def test_empty_catalogue(fakerun, tmp_path):
    (tmp_path / "scenarios").mkdir()
    r = run(fakerun, env={"MAILRIG_DATA": str(tmp_path)})
    assert r.returncode == 2 and "no *.scn files found" in r.stderr


# ---- clients ---------------------------------------------------------------------------------

def test_missing_client_is_skipped(fakerun, tmp_path):
    scn(tmp_path, "needs-client", role="server",
        extra="client missing-client\nexpect-client exit=0")
    scn(tmp_path, "plain")
    r = run(fakerun, "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 0
    assert totals(r.stdout) == (2, 1, 0, 0, 1)   # skipped, not passed
    assert re.search(r"^needs-client +server +generic +SKIP +-$", r.stdout, re.M)
    assert "client 'missing-client' is not installed: missing-client: not found in PATH" in r.stdout
    r = run(fakerun, "--require-clients", "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 3
    assert "is not installed (--require-clients)" in r.stdout
    # --client overrides every client step's adapter
    r = run(fakerun, "--client", "fine-client", "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 0 and totals(r.stdout) == (2, 2, 0, 0, 0)


def test_unusable_adapter_is_an_error(fakerun, tmp_path):
    scn(tmp_path, "broken", role="server", extra="client broken-client\nexpect-client exit=0")
    r = run(fakerun, "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 3
    assert "client 'broken-client' cannot be used: clients/broken-client.ini:3" in r.stdout


def test_adapter_settings_are_checked(fakerun, tmp_path):
    scn(tmp_path, "nope", role="server", extra="client unknown-adapter user=x port=1\nexpect-client exit=0")
    scn(tmp_path, "badset", role="server", extra="client fine-client security=bad\nexpect-client exit=0")
    r = run(fakerun, tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("no client adapter 'unknown-adapter'") == 1   # once, at the name
    assert f"{tmp_path}/nope.scn:7:8: no client adapter 'unknown-adapter'" in r.stderr
    assert f"{tmp_path}/badset.scn:7:20: fine-client: security cannot be 'bad'" in r.stderr
    r = run(fakerun, "--client", "unknown-adapter", tmp_path / "nope.scn")
    assert r.returncode == 2 and "--client unknown-adapter: no client adapter" in r.stderr


def test_external(fakerun, tmp_path):
    scn(tmp_path, "server-side", role="server")
    scn(tmp_path, "client-side")
    r = run(fakerun, "--external", "--port-base", "20000", "--work", tmp_path / "w",
            "--json", tmp_path / "r.json", tmp_path)
    assert r.returncode == 0
    assert "server role: not run with --external" in r.stdout
    opts = json.loads((tmp_path / "r.json").read_text())["options"]
    assert opts["external"] is True and opts["port_base"] == 20000
    r = run(fakerun, "--external", tmp_path)
    assert r.returncode == 2 and "--external and --port-base go together" in r.stderr


# ---- reports ---------------------------------------------------------------------------------

def mixed_set(d):
    scn(d, "ok", describe="fine & <good>")
    scn(d, "bad", fake="fail checks-fail", extra="check no-bare-lf")
    scn(d, "broken", fake="error")
    scn(d, "odd", fake="bytes")
    scn(d, "noprof", profile=None)
    scn(d, "skip", role="server", extra="client missing-client\nexpect-client exit=0")


def test_junit_validates_and_loads(fakerun, tmp_path):
    etree = pytest.importorskip("lxml.etree")
    junitparser = pytest.importorskip("junitparser")
    mixed_set(tmp_path / "s")
    out = tmp_path / "out" / "junit.xml"
    out.parent.mkdir()
    r = run(fakerun, "--profile", "generic", "--work", tmp_path / "w", "--junit", out,
            tmp_path / "s")
    assert r.returncode == 1
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.parse(str(out))
    assert schema.validate(doc), schema.error_log
    assert list(out.parent.iterdir()) == [out]   # written atomically: no temporary left
    xml = junitparser.JUnitXml.fromfile(str(out))
    cases = {c.name: c for suite in xml for c in suite}
    assert set(cases) == {"ok", "bad", "broken", "odd", "noprof", "skip"}
    kinds = {n: [type(x).__name__ for x in c.result] for n, c in cases.items()}
    assert kinds == {"ok": [], "bad": ["Failure"], "broken": ["Error"], "odd": ["Failure"],
                     "noprof": [], "skip": ["Skipped"]}
    assert cases["ok"].classname == "generic"
    assert cases["noprof"].classname == "generic"   # --profile decides
    failure = cases["bad"].result[0]
    assert failure.message.startswith('fake: expected "a1 OK*"')
    assert "check no-bare-lf failed" in failure.text
    assert "transcript: " in failure.text and "transcript line 5 <&>" in failure.text
    assert "\\x01\\xff<tag>&\\x1b[31m" in cases["odd"].result[0].message
    assert cases["skip"].result[0].message.startswith("client 'missing-client'")
    # without --profile, a scenario naming none is grouped by its directory
    r = run(fakerun, "--work", tmp_path / "w2", "--junit", out, tmp_path / "s" / "noprof.scn")
    doc = etree.parse(str(out))
    assert schema.validate(doc), schema.error_log
    assert doc.find(".//testcase").get("classname") == str(tmp_path / "s")


def test_junit_schema_rejects_wrong_files(tmp_path):
    """The validator can fail: documents that break the format are refused."""
    etree = pytest.importorskip("lxml.etree")
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    bad = ['<testsuites><testsuite tests="1"><testcase name="x"/></testsuite></testsuites>',
           '<testsuites><testsuite name="s" tests="1"><testcase/></testsuite></testsuites>',
           '<testsuites><testsuite name="s" tests="1"><testcase name="x" time="fast"/>'
           '</testsuite></testsuites>',
           '<testsuites><testsuite name="s" tests="1"><testcase name="x"><failure/><error/>'
           '</testcase></testsuite></testsuites>']
    for text in bad:
        assert not schema.validate(etree.fromstring(text)), text


def test_json_shape(fakerun, tmp_path):
    mixed_set(tmp_path / "s")
    out = tmp_path / "r.json"
    r = run(fakerun, "-j", "2", "--tag", "fake", "--timeout", "20s", "--work", tmp_path / "w",
            "--json", out, tmp_path / "s")
    assert r.returncode == 1
    doc = json.loads(out.read_text())
    assert set(doc) == {"options", "totals", "exit_status", "scenarios"}
    assert doc["exit_status"] == 1
    assert doc["options"]["args"] == [str(tmp_path / "s")]
    assert doc["options"]["tags"] == ["fake"]
    assert doc["options"]["timeout_seconds"] == 20
    assert doc["options"]["work_dir"] == str(tmp_path / "w")
    assert doc["totals"] == {**doc["totals"], "scenarios": 6, "passed": 2, "failed": 2,
                             "errors": 1, "skipped": 1}
    by = {s["name"]: s for s in doc["scenarios"]}
    keys = {"name", "file", "role", "profile", "description", "tags", "verdict", "seconds",
            "failed_step", "message", "checks", "work_dir", "transcript", "client_output",
            "worker_log"}
    assert all(set(s) == keys for s in doc["scenarios"])
    bad = by["bad"]
    assert bad["verdict"] == "fail" and bad["seconds"] > 0
    assert bad["failed_step"] == {"index": 0, "file": str(tmp_path / "s" / "bad.scn"), "line": 5,
                                  "col": 1, "text": 'var fake="fail checks-fail"'}
    assert bad["checks"] == [{"name": "no-bare-lf", "passed": False,
                              "reason": "fake: no-bare-lf saw the peer misbehave in conn 1",
                              "file": str(tmp_path / "s" / "bad.scn"), "line": 7, "col": 1}]
    assert bad["transcript"]["path"] == str(tmp_path / "w" / "bad" / "transcript.log")
    assert bad["transcript"]["lines"] == 5
    assert by["ok"]["description"] == "fine & <good>"
    assert by["ok"]["failed_step"] is None and by["ok"]["message"] == ""
    assert by["skip"]["verdict"] == "skipped" and by["skip"]["seconds"] == 0
    assert by["noprof"]["profile"] == "-"
    assert by["broken"]["verdict"] == "error"


def test_secrets_are_redacted(fakerun, tmp_path):
    scn(tmp_path, "leaky", extra=f'var leak="LOGIN alice {GENERIC_PASSWORD}"')
    out = tmp_path / "r"
    r = run(fakerun, "--work", tmp_path / "w", "--json", f"{out}.json", "--junit", f"{out}.xml",
            tmp_path)
    assert r.returncode == 1
    for text in (r.stdout, r.stderr, (tmp_path / "r.json").read_text(),
                 (tmp_path / "r.xml").read_text()):
        assert GENERIC_PASSWORD not in text
        assert "LOGIN alice &lt;redacted&gt;" in text or "LOGIN alice <redacted>" in text


def test_report_files_need_their_directory(fakerun, tmp_path):
    scn(tmp_path, "a")
    r = run(fakerun, "--junit", tmp_path / "nope" / "j.xml", tmp_path)
    assert r.returncode == 2
    assert f"--junit {tmp_path}/nope/j.xml: the directory {tmp_path}/nope does not exist" in r.stderr


# ---- progress --------------------------------------------------------------------------------

def run_on_pty(argv, env=None, timeout=30):
    """Run argv with stdin, stdout and stderr on a pseudo-terminal; return (status, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, {**os.environ, **(env or {})})
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def test_progress_on_a_terminal(fakerun, tmp_path):
    scn(tmp_path, "first", fake="sleep=300")
    scn(tmp_path, "second", fake="fail")
    status, out = run_on_pty([fakerun, "run", "--work", str(tmp_path / "w"), str(tmp_path)],
                             env={"COLUMNS": "80"})
    assert status == 1
    assert "[1/2] running first (0 passed, 0 failed)" in out
    assert "\r\x1b[K" in out                       # the live line is redrawn in place
    assert "[2/2] FAIL  second (" in out           # failures stay on screen
    assert "[1/2] PASS" not in out                 # passes only in the table
    assert "\x1b[1;31mFAIL\x1b[0m" in out          # the table is coloured on a terminal
    status, out = run_on_pty([fakerun, "run", "--work", str(tmp_path / "w"), str(tmp_path)],
                             env={"NO_COLOR": "1"})
    assert "\x1b[1;31m" not in out


def test_progress_in_a_log(fakerun, tmp_path):
    scn(tmp_path, "first")
    scn(tmp_path, "second", fake="fail")
    r = run(fakerun, "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 1
    assert "\r" not in r.stderr and "\x1b" not in r.stderr + r.stdout
    lines = r.stderr.splitlines()
    assert lines[0].startswith("[1/2] PASS  first (")
    assert lines[1].startswith("[2/2] FAIL  second (") and "fake: expected" in lines[1]


def test_verbose_trace(fakerun, tmp_path):
    scn(tmp_path, "a")
    scn(tmp_path, "b")
    r = run(fakerun, "-v", "-j", "2", "--work", tmp_path / "w", tmp_path)
    assert r.returncode == 0
    assert "--- trace of a\nfake: a step 0 var\nfake: a step 1 connect\n" in r.stderr
    assert "--- trace of b\n" in r.stderr
    r = run(fakerun, "--verbose", "--work", tmp_path / "w", tmp_path)   # -j 1: live
    assert "fake: a step 0 var\n" in r.stderr and "--- trace of" not in r.stderr


def test_interrupted_run_still_reports(fakerun, tmp_path):
    scn(tmp_path, "a", fake="hang")
    scn(tmp_path, "b")
    out = tmp_path / "j.xml"
    p = subprocess.Popen([fakerun, "run", "--work", str(tmp_path / "w"), "--junit", str(out),
                          str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=20)
    assert p.returncode == 130
    assert "interrupted (signal 2): killed" in stdout
    assert "not run: the run was interrupted" in stdout
    assert out.is_file()


# ---- usage -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--frob"], "unknown option '--frob'"),
    (["-j", "x"], "-j x: give a number"),
    (["-j", "300"], "-j 300: give a number"),
    (["--timeout", "5 s"], "--timeout 5 s:"),
    (["--timeout", "2h"], "--timeout 2h:"),
    (["--port-base", "70000", "--external"], "--port-base 70000"),
    (["--profile", "nosuch"], "--profile nosuch: no profile named 'nosuch'"),
])
def test_usage_errors(fakerun, args, message):
    r = run(fakerun, *args, "scenarios/generic")
    assert r.returncode == 2, r.stderr
    assert message in r.stderr


def test_missing_values(fakerun):
    for opt in ("--tag", "--junit", "-j"):
        r = run(fakerun, opt)
        assert r.returncode == 2 and f"'{opt}' needs a value" in r.stderr


def test_help(fakerun):
    r = run(fakerun, "--help")
    assert r.returncode == 0
    for opt in ("-j, --jobs N", "--tag T", "--client NAME", "--profile NAME", "--external",
                "--port-base N", "--timeout D", "--junit FILE", "--json FILE", "--work DIR",
                "--state DIR", "--require-clients", "--verbose", "Exit status"):
        assert opt in r.stdout


# ---- mailrig list ----------------------------------------------------------------------------

def list_(binary, *args, env=None):
    e = {**os.environ, **(env or {})}
    return subprocess.run([binary, "list", *map(str, args)], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=60)


def test_list(fakerun, data_dir):
    env = {"MAILRIG_DATA": str(data_dir)}
    r = list_(fakerun, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == ["NAME", "ROLE", "PROFILE", "TAGS"]
    assert re.search(r"^alpha +client +generic +one\n    " + re.escape(str(data_dir)), r.stdout,
                     re.M)
    assert r.stdout.endswith("2 scenarios\n")
    r = list_(fakerun, "--json", "--tag", "two", env=env)
    assert r.returncode == 0
    assert json.loads(r.stdout) == [{"name": "beta", "role": "client", "profile": "generic",
                                     "tags": ["two"], "description": None,
                                     "file": str(data_dir / "scenarios" / "sub" / "beta.scn")}]


def test_list_reports_broken_files(fakerun, tmp_path):
    scn(tmp_path, "fine")
    (tmp_path / "broken.scn").write_text("scenario broken\nrole client\nsend \"x\"\n")
    r = list_(fakerun, tmp_path)
    assert r.returncode == 2
    assert f"{tmp_path}/broken.scn:3:1: 'send' needs a connection" in r.stderr
    assert "fine" in r.stdout and "1 scenario\n" in r.stdout


def test_list_catalogue_with_the_real_binary():
    r = list_(mailrig_binary(), "scenarios")
    assert r.returncode == 0, r.stderr
    for name in ("icloud-imap-full-address", "exchange-imap-not-signed-in",
                 "smtp-starttls-injection"):
        assert name in r.stdout


# ---- the shipped binary ----------------------------------------------------------------------

def test_real_binary_runs_scenarios(tmp_path):
    """The shipped mailrig runs scenarios against the real mocks and clients (a part of the
    catalogue: test_catalogue.py runs all of it)."""
    r = run(mailrig_binary(), "--work", tmp_path / "w", "--junit", tmp_path / "j.xml",
            "scenarios/generic", timeout=300)
    # Every client there is installed by ci/deps clients and every protocol has its
    # session: all of them must run and pass, none skipped.
    assert r.returncode == 0, r.stdout + r.stderr
    c = totals(r.stdout)
    n = len(list((ROOT / "scenarios" / "generic").glob("*.scn")))
    assert c == (n, n, 0, 0, 0), r.stdout
    from lxml import etree
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(etree.parse(str(tmp_path / "j.xml"))), schema.error_log


def test_real_binary_syntax_errors():
    r = run(mailrig_binary(), "tests/scenarios/broken/unknown-step.scn")
    assert r.returncode == 2
    assert "tests/scenarios/broken/unknown-step.scn:" in r.stderr and "nothing was run" in r.stderr
