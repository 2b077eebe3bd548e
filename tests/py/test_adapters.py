"""The shipped client adapters (clients/*.ini), each starting its real client through
`mailrig client` against a small permissive server with implicit TLS: the client must log in,
its password must reach the server, and it must never show on a command line (`ps`) or in the
captured output. Also the careless/careful test clients, timeouts and adapter-file errors."""
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fake_mail_server import FakeServer  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PASSWORD = "S3cret-pw-Zq81"
USER = "emily@example.com"

# adapter -> (protocol, program, extra settings)
ADAPTERS = {
    "curl-imap": ("imap", "curl", []),
    "curl-pop3": ("pop3", "curl", []),
    "curl-smtp": ("smtp", "curl", []),
    "msmtp": ("smtp", "msmtp", []),
    "swaks": ("smtp", "swaks", []),
    "fetchmail": ("pop3", "fetchmail", ["proto=pop3"]),
    "mbsync": ("imap", "mbsync", []),
    "s-nail": ("smtp", "s-nail", []),
    "py-imaplib": ("imap", "python3", []),
    "py-smtplib": ("smtp", "python3", []),
    "py-poplib": ("pop3", "python3", []),
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory, mailrig):
    state = tmp_path_factory.mktemp("adapter-pki")
    out = subprocess.run([mailrig, "certs", "--state", str(state), "--json", "--profile",
                          "default", "--host", "localhost"], capture_output=True, text=True,
                         check=True)
    info = json.loads(out.stdout)
    prof = info["profiles"][0]
    valid = next(c for c in prof["certs"] if c["variant"] == "valid") if "certs" in prof \
        else prof["valid"]
    return info["ca_file"], valid["cert"], valid["key"], info


def run_client(mailrig, name, port, settings, tmp_path, cafile="", timeout="20s",
               clients=None, server_name="localhost"):
    """Run `mailrig client`, watching `ps` while it runs. Returns (rc, facts, ps_hits)."""
    cmd = [mailrig, "client", "--port", str(port), "--server-name", server_name,
           "--timeout", timeout, "--work", str(tmp_path)]
    if cafile:
        cmd += ["--cafile", cafile]
    if clients:
        cmd += ["--clients", str(clients)]
    cmd += [name] + settings
    env = dict(os.environ, MAILRIG_PASSWORD=PASSWORD)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    hits = []
    while p.poll() is None:
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        hits += [l for l in ps.splitlines() if PASSWORD in l]
        time.sleep(0.05)
    out, err = p.communicate()
    facts = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    facts["stderr"] = err
    return p.returncode, facts, hits


def secret_forms():
    plain = base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode().rstrip("=")
    return [PASSWORD, base64.b64encode(PASSWORD.encode()).decode().rstrip("="), plain]


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_adapter_logs_in_without_showing_the_password(name, mailrig, pki, tmp_path):
    proto, program, extra = ADAPTERS[name]
    if not shutil.which(program):
        pytest.skip("%s is not installed (ci/deps clients)" % program)
    ca, cert, key, _ = pki
    srv = FakeServer(proto, cert, key)
    try:
        rc, facts, hits = run_client(mailrig, name, srv.port,
                                     ["security=SSL/TLS", "user=" + USER] + extra, tmp_path,
                                     cafile=ca)
    finally:
        srv.close()
    output = pathlib.Path(facts.get("output", "/nonexistent"))
    shown = output.read_text(errors="replace") if output.exists() else ""
    assert rc == 0, "client failed: %s\n%s\nserver saw:\n%s" % (facts, shown, srv.text())
    assert not hits, "password on a command line: %s" % hits
    for form in secret_forms():
        assert form not in shown, "secret %r in the captured output" % form
    # the password did reach the server, one way or another
    seen = srv.text()
    assert any(f in seen for f in secret_forms()) or \
        any(PASSWORD in base64.b64decode(w + "==").decode("latin-1", "replace")
            for l in srv.lines for w in l[1].split(" ")[-1:] if w and len(w) % 4 != 1
            and all(c.isalnum() or c in "+/=" for c in w)), seen
    # the private directory: 0700, its files 0600, the password file gone
    work = pathlib.Path(facts["workdir"])
    assert oct(work.stat().st_mode & 0o777) == "0o700"
    assert not (work / "password").exists()
    for f in work.iterdir():
        if f.is_file():
            assert f.stat().st_mode & 0o077 == 0, f
            # configuration files (netrc, msmtprc, fetchmailrc...) stay, without the secret
            text = f.read_text(errors="replace")
            for form in secret_forms():
                assert form not in text, "secret %r left in %s" % (form, f)


def test_untrusted_certificate_is_refused(mailrig, pki, tmp_path):
    """A client given the test CA refuses a server whose certificate another CA signed."""
    ca, _, _, info = pki
    prof = info["profiles"][0]
    bad = prof.get("untrusted") or next(c for c in prof["certs"] if c["variant"] == "untrusted")
    srv = FakeServer("imap", bad["cert"], bad["key"])
    try:
        rc, facts, _ = run_client(mailrig, "py-imaplib", srv.port,
                                  ["security=SSL/TLS", "user=" + USER], tmp_path, cafile=ca)
    finally:
        srv.close()
    assert rc == 1 and facts["success"] == "0"
    assert "certificate verify failed" in pathlib.Path(facts["output"]).read_text()
    assert not any("LOGIN" in l for _, l in srv.lines)


def test_careless_and_careful(mailrig, pki, tmp_path):
    ca, cert, key, _ = pki
    clients = ROOT / "tests" / "clients"
    srv = FakeServer("smtp", cert, key)
    try:
        rc, facts, _ = run_client(mailrig, "careful", srv.port,
                                  ["proto=smtp", "security=SSL/TLS", "user=" + USER], tmp_path,
                                  cafile=ca, clients=clients)
        assert rc == 0, pathlib.Path(facts["output"]).read_text()
        rc, facts, _ = run_client(mailrig, "careless", srv.port,
                                  ["proto=smtp", "security=SSL/TLS", "user=" + USER,
                                   "flags=mech-not-offered,wrong-username-form"], tmp_path,
                                  cafile=ca, clients=clients)
    finally:
        srv.close()
    assert any(l.startswith("AUTH NTLM") for _, l in srv.lines), srv.text()


def test_timeout_kills_the_client_and_its_children(mailrig, tmp_path):
    clients = tmp_path / "clients"
    clients.mkdir()
    # A duration no other process on the machine uses, so `ps` finds only ours.
    nap = f"30.{os.getpid()}{int(time.monotonic() * 1000) % 100000}"
    (clients / "sleeper.ini").write_text(
        "[client]\nprogram = sh\nprotocols = imap\nstdin = none\n"
        f"arg = -c\narg = sleep {nap} & sleep {nap}; echo never\n")
    start = time.monotonic()
    rc, facts, _ = run_client(mailrig, "sleeper", 1, [], tmp_path, timeout="300ms",
                              clients=clients)
    assert rc == 1 and facts["timed_out"] == "1"
    assert time.monotonic() - start < 10
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"sleep {nap}" not in ps


def test_adapter_file_errors_name_file_and_line(mailrig, tmp_path):
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / "bad.ini").write_text("[client]\nprogram = true\nprotocols = imap\n"
                                     "arg = --password={password}\n")
    rc, facts, _ = run_client(mailrig, "bad", 1, [], tmp_path, clients=clients)
    assert rc == 2
    assert "bad.ini:4: {password} on the command line" in facts["stderr"]


def test_missing_client_is_an_environment_error(mailrig, tmp_path):
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / "nope.ini").write_text("[client]\nprogram = mailrig-no-such-client\n"
                                      "package = no-such-package\nprotocols = imap\n")
    rc, facts, _ = run_client(mailrig, "nope", 1, [], tmp_path, clients=clients)
    assert rc == 3
    assert "install Debian package no-such-package (ci/deps clients)" in facts["stderr"]
