"""The scenario interpreter end to end, through tests/tools/run_scn (see its header).

Two kinds of tests:
- scenarios written here, against scripted Python servers (client role, external servers)
  and against the mock with silent/closed listeners: they need nothing beyond this branch;
- a few scenarios of the catalogue (one of each shape; the whole catalogue runs in
  test_catalogue.py), which need what the scenario uses: the mock's protocol
  sessions (branches imapd, smtpd) for the client role and `serve`, the adapters and the
  client programs for `client`, the checks for `check`. An example is skipped only while its
  build lacks one of those modules, with the reason; once main has them it must pass.
"""
import base64
import os
import pathlib
import re
import socket
import subprocess
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "scenarios" / p for p in (
    "icloud/icloud-imap-full-address.scn", "exchange/exchange-imap-not-signed-in.scn",
    "exchange/exchange-smtp-basic-auth-disabled.scn", "generic/generic-pop3-client-curl.scn",
    "clients/smtp-starttls-injection.scn")]


@pytest.fixture(scope="session")
def run_scn():
    env = os.environ.get("MAILRIG_RUN_SCN")
    if env:
        return env
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/asan/bin/run_scn"], check=True)
    return str(ROOT / "build" / "asan" / "bin" / "run_scn")


@pytest.fixture(scope="session")
def features(run_scn):
    out = subprocess.run([run_scn, "--features"], capture_output=True, text=True, check=True).stdout
    return {k: v == "yes" for k, v in (line.split() for line in out.splitlines())}


@pytest.fixture(scope="session")
def sessions(mailrig, pki_state, tmp_path_factory):
    """Which protocols the mock can serve in this build: `mailrig serve` refuses a listener
    whose protocol has no session ("no imap session in this build")."""
    have = {}
    for proto, keep in (("imap", 143), ("smtp", 587), ("pop3", 110)):
        sets = [f"listener.{p}.mode=closed" for p in (993, 143, 587, 465, 25, 110, 995) if p != keep]
        cmd = [mailrig, "serve", "--profile", "generic", "--port-base", "0", "--quiet",
               "--state", str(pki_state)]
        for s in sets:
            cmd += ["--set", s]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        ready = False
        for line in p.stdout:
            if line.strip() == "ready":
                ready = True
                break
        p.terminate()
        p.communicate(timeout=10)
        have[proto] = ready
    return have


def run(run_scn, path, tmp_path, pki_state, *args, timeout=120):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    r = subprocess.run([run_scn, "--work", str(work), "--state", str(pki_state), *args, str(path)],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    out = dict(line.split(" ", 1) if " " in line else (line, "")
               for line in r.stdout.splitlines() if not line.startswith("check "))
    out["checks"] = [line.split(" ", 3)[1:] for line in r.stdout.splitlines()
                     if line.startswith("check ")]
    out["status"] = r.returncode
    out["stderr"] = r.stderr
    t = out.get("transcript")
    out["text"] = pathlib.Path(t).read_text() if t and pathlib.Path(t).exists() else ""
    return out


class ScriptedServer:
    """A one-connection TCP server on loopback: sends/reads per a script in a thread."""

    def __init__(self, script):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.received = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(30)
        conn, _ = self.sock.accept()
        conn.settimeout(10)
        f = conn.makefile("rb")
        try:
            for action in self.script:
                if action is None:
                    self.received.append(f.readline())
                else:
                    conn.sendall(action)
        finally:
            f.close()
            conn.close()
            self.sock.close()

    def join(self):
        self.thread.join(timeout=30)


PLAIN_SMTP = """scenario py-smtp
role client
profile generic
timeout step=3s total=20s
var plain="\\x00{account.email}\\x00{account.password}"
connect smtp 587 plain
expect-reply 220 "220 *"
send "EHLO client.test"
expect-reply 250 "250-STARTTLS" not "250?AUTH*"
send "AUTH PLAIN {base64:plain}"
expect-reply 235
send "QUIT"
expect-reply 221
expect-closed
"""


def test_client_role_against_a_scripted_server(run_scn, tmp_path, pki_state):
    srv = ScriptedServer([b"220 mx.test ESMTP\r\n", None,
                          b"250-mx.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n", None,
                          b"235 2.7.0 ok\r\n", None, b"221 bye\r\n"])
    scn = tmp_path / "t.scn"
    scn.write_text(PLAIN_SMTP)
    out = run(run_scn, scn, tmp_path, pki_state, "--external", "--port-base", str(srv.port - 587))
    srv.join()
    assert out["verdict"] == "pass", out
    assert out["status"] == 0
    want = base64.b64encode(b"\0alice@example.test\0alice-password-1")
    assert srv.received[1] == b"AUTH PLAIN " + want + b"\r\n"
    assert "C: AUTH PLAIN <redacted>" in out["text"]
    assert "alice-password-1" not in out["text"] and want.decode() not in out["text"]
    assert re.search(r"^\d+\.\d{3} conn 1 open 127\.0\.0\.1:\d+ mode=plain proto=smtp port=587 "
                     r"peer=127\.0\.0\.1:\d+ mailrig=client$", out["text"], re.M)
    assert "conn 1 close peer-closed" in out["text"]


def test_a_failing_step_says_what_it_expected_and_got(run_scn, tmp_path, pki_state):
    srv = ScriptedServer([b"220 mx.test ESMTP\r\n", None, b"250-mx.test\r\n250 AUTH PLAIN\r\n"])
    scn = tmp_path / "t.scn"
    scn.write_text(PLAIN_SMTP)
    out = run(run_scn, scn, tmp_path, pki_state, "--external", "--port-base", str(srv.port - 587))
    srv.join()
    assert out["status"] == 1
    assert out["verdict"] == "fail"
    assert out["step"] == "4"   # the var line is step 0
    assert out["message"] == ('expected a 250 reply with a line matching "250-STARTTLS", '
                              'got "250-mx.test" (and more lines, none matching)')


def test_a_malformed_reply_fails_even_when_it_matches(run_scn, tmp_path, pki_state):
    srv = ScriptedServer([b"220 mx.test ESMTP\r\n", None, b"250-mx.test\r\n250-STARTTLS\n250 X\r\n"])
    scn = tmp_path / "t.scn"
    scn.write_text(PLAIN_SMTP.replace('expect-reply 250 "250-STARTTLS" not "250?AUTH*"',
                                      'expect "250-*" "250-STARTTLS" "250 X"'))
    out = run(run_scn, scn, tmp_path, pki_state, "--external", "--port-base", str(srv.port - 587))
    srv.join()
    assert out["verdict"] == "fail"
    assert out["message"].startswith("strict: SMTP reply at byte")
    assert "bare LF" in out["message"]


SILENT = "\n".join(f"set listener.{p}.mode={'silent' if p == 993 else 'closed'}"
                   for p in (993, 143, 587, 465, 25, 110, 995))


def test_client_role_with_the_profile_mock(run_scn, tmp_path, pki_state):
    scn = tmp_path / "t.scn"
    scn.write_text(f"""scenario py-mock
role client
profile generic
{SILENT}
connect imap 993 plain
expect-nothing 200ms
close
connect pop3 110 plain
expect-connect refused
""")
    out = run(run_scn, scn, tmp_path, pki_state, "-v")
    assert out["verdict"] == "pass", out
    assert "t.scn:14: connect pop3 110 plain -> ok" in out["stderr"]
    assert "conn 2 close connect-refused" in out["text"]


def test_a_scenario_that_does_not_parse_is_status_2(run_scn, tmp_path, pki_state):
    scn = tmp_path / "t.scn"
    scn.write_text("scenario x\nrole client\nexpct \"x\"\n")
    out = run(run_scn, scn, tmp_path, pki_state)
    assert out["status"] == 2
    assert "t.scn:3:1: unknown step 'expct'" in out["stderr"]


def needs(path, features, sessions):
    """What an example needs that this build may lack, as skip reasons."""
    text = path.read_text()
    role = re.search(r"^role\s+(\w+)", text, re.M).group(1)
    missing = []
    steps = text + "".join((path.parent / inc).read_text()
                           for inc in re.findall(r'^include\s+"([^"]+)"', text, re.M))
    protos = set(re.findall(r"^(?:connect|serve)\s+(imap|smtp|pop3)", steps, re.M))
    if re.search(r"^serve\s*$", text, re.M):
        protos |= {"imap", "smtp", "pop3"}
    if role == "client" or re.search(r"^serve\b", text, re.M):
        for p in sorted(protos):
            if not sessions.get(p):
                missing.append(f"the mock's {p} session (branches imapd/smtpd)")
    if re.search(r"^client\s", text, re.M) and not features["adapters"]:
        missing.append("the adapters (branch adapters)")
    if re.search(r"^check\s", text, re.M) and not features["checks"]:
        missing.append("the checks (branch checks)")
    return missing


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example(path, run_scn, features, sessions, tmp_path, pki_state):
    missing = needs(path, features, sessions)
    if missing:
        pytest.skip("needs " + ", ".join(missing))
    out = run(run_scn, path, tmp_path, pki_state, "-v", timeout=180)
    assert out["verdict"] == "pass", f"{out['message']}\n{out['stderr']}\n{out['text']}"
    assert all(c[1] == "pass" for c in out["checks"]), out["checks"]
