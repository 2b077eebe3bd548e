"""`mailrig diagnose --log` and `mailrig replay`: logs produced here by real clients (curl -v,
msmtp --debug, openssl s_client, Python imaplib/smtplib) against `mailrig serve` in the
failure situations of the finding catalogue, hand-written Thunderbird logs, garbled input,
and replay round trips. Every output is checked for the credentials the clients used."""
import base64
import json
import os
import pathlib
import random
import select
import shutil
import socket
import subprocess
import sys
import time

import pytest

DATA = pathlib.Path(__file__).resolve().parent / "data" / "logs"


def free_base():
    """A port base B with B+25 .. B+995 free (the mock binds provider port P at B+P)."""
    for _ in range(50):
        base = random.randrange(20000, 60000, 1000)
        ok = True
        for p in (25, 110, 143, 465, 587, 993, 995):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", base + p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return base
    pytest.skip("no free port base")


@pytest.fixture
def mock(serve):
    def start(profile, *sets):
        base = free_base()
        srv = serve(profile, *sets, port_base=base)
        srv.base = base
        return srv
    return start


def secrets_of(srv):
    out = []
    for a in srv.info["accounts"]:
        for k in ("password", "app_password", "oauth_token"):
            if a.get(k):
                out.append(a[k])
    return out


def assert_no_secret(text, secrets):
    for s in secrets:
        assert s not in text, f"credential {s!r} in output"
        assert base64.b64encode(s.encode()).decode().rstrip("=") not in text


def diagnose(mailrig, log, *args, secrets=()):
    r = subprocess.run([mailrig, "diagnose", "--log", str(log), *args], capture_output=True, text=True,
                       timeout=60)
    j = subprocess.run([mailrig, "diagnose", "--log", str(log), "--json", *args], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode in (0, 1), r.stderr
    assert_no_secret(r.stdout + r.stderr + j.stdout + j.stderr, secrets)
    doc = json.loads(j.stdout)
    return r, doc


def finding_ids(doc):
    ids = []

    def walk(x):
        if isinstance(x, dict):
            if "id" in x and isinstance(x["id"], str) and ("severity" in x or "title" in x):
                ids.append(x["id"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(doc)
    return ids


def run_client(cmd, tmp_path, name, stdin=None, timeout=30):
    p = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=timeout)
    log = tmp_path / name
    log.write_text(p.stdout + p.stderr)
    return log


# ---- curl -v ---------------------------------------------------------------------------------------

def test_curl_icloud_imap_full_address_apple_id_password(mailrig, mock, tmp_path):
    srv = mock("icloud")
    log = run_client(["curl", "-v", "--cacert", srv.info["ca_file"], "-u",
                      "emilyparker@icloud.com:Apple-ID-passw0rd",
                      f"imaps://127.0.0.1:{srv.base + 993}/INBOX"], tmp_path, "curl.log")
    assert "Apple-ID-passw0rd" not in log.read_text()  # curl sends AUTHENTICATE PLAIN base64
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    ids = finding_ids(doc)
    assert "icloud-imap-username-full" in ids and "icloud-app-specific-password" in ids
    assert "AUTHENTICATIONFAILED" in r.stdout


def test_curl_implicit_tls_on_icloud_587(mailrig, mock, tmp_path):
    srv = mock("icloud")
    log = run_client(["curl", "-v", "--cacert", srv.info["ca_file"], "-u", "emilyparker@icloud.com:abcd-efgh-ijkl-mnop",
                      "--mail-from", "emilyparker@icloud.com", "--mail-rcpt", "x@example.com", "-T", "/dev/null",
                      f"smtps://127.0.0.1:{srv.base + 587}"], tmp_path, "curl.log")
    assert "wrong version number" in log.read_text() or "SSL" in log.read_text()
    # the handshake fails before any greeting: nothing in the log names the provider
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), "--provider", "icloud",
                      secrets=secrets_of(srv))
    assert "icloud-smtp-ssl-on-587" in finding_ids(doc)
    assert r.returncode == 1


def test_curl_connection_refused_icloud_pop(mailrig, mock, tmp_path):
    srv = mock("icloud")
    log = run_client(["curl", "-v", "--cacert", srv.info["ca_file"], "-u", "emilyparker@icloud.com:x",
                      f"pop3s://127.0.0.1:{srv.base + 995}/"], tmp_path, "curl.log")
    assert "refused" in log.read_text().lower()
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), "--provider", "icloud")
    assert "icloud-no-pop" in finding_ids(doc)


def test_curl_plaintext_to_exchange_993_times_out(mailrig, mock, tmp_path):
    srv = mock("exchange")
    # the client's own time-out ends the attempt; nothing here measures time
    log = run_client(["curl", "-v", "--max-time", "2", "-u", "tony@contoso.com:Contoso-pass-1",
                      f"imap://127.0.0.1:{srv.base + 993}/"], tmp_path, "curl.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), "--provider", "exchange",
                      secrets=secrets_of(srv))
    assert "exchange-no-ssl-on-993-995" in finding_ids(doc)  # the catalogue row for Exchange


def test_curl_untrusted_certificate_is_cannot_tell(mailrig, mock, tmp_path):
    srv = mock("icloud")
    log = run_client(["curl", "-v", "-u", "emilyparker:abcd-efgh-ijkl-mnop",
                      f"imaps://127.0.0.1:{srv.base + 993}/"], tmp_path, "curl.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), "--provider", "icloud",
                      secrets=secrets_of(srv))
    assert "certificate" in json.dumps(doc["cannot_tell"])
    assert r.returncode == 0  # not presented as a settings error


# ---- msmtp --debug ----------------------------------------------------------------------------------

@pytest.mark.skipif(not shutil.which("msmtp"), reason="msmtp not installed")
def test_msmtp_icloud_port_25(mailrig, mock, tmp_path):
    srv = mock("icloud")
    log = run_client(["msmtp", "--debug", "--host=127.0.0.1", f"--port={srv.base + 25}", "--tls=on",
                      "--tls-starttls=on", f"--tls-trust-file={srv.info['ca_file']}", "--tls-certcheck=off",
                      "--auth=on", "--user=emilyparker@icloud.com", "--passwordeval=echo abcd-efgh-ijkl-mnop",
                      "--from=emilyparker@icloud.com", "x@example.com"], tmp_path, "msmtp.log",
                     stdin="Subject: t\n\nhi\n")
    assert "abcd-efgh-ijkl-mnop" in log.read_text()  # msmtp echoes passwordeval: must not leak
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    assert "icloud-smtp-port-25" in finding_ids(doc)


# ---- openssl s_client ----------------------------------------------------------------------------

def s_client_session(cmd, lines, expect_after):
    """Run s_client, writing each line after the previous reply arrived; a terminal-like log."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    deadline = time.monotonic() + 10

    def read_until(token):
        nonlocal out
        while token not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([p.stdout], [], [], 0.2)
            if not ready:
                if p.poll() is not None:
                    break
                continue
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
    read_until(expect_after[0])
    for line, token in zip(lines, expect_after[1:] + [None]):
        try:
            p.stdin.write(line.encode() + b"\n")  # -crlf adds the CR
            p.stdin.flush()
        except (BrokenPipeError, ValueError):
            break
        if token:
            read_until(token)
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    read_until(b"\0never")  # the rest, until s_client exits or the deadline
    if p.poll() is None:
        p.kill()
    p.wait()
    p.stdout.close()
    return "$ " + " ".join(cmd) + "\n" + out.decode(errors="replace")


def test_openssl_exchange_basic_auth_disabled(mailrig, mock, tmp_path):
    srv = mock("exchange")
    port = srv.base + 587
    user = base64.b64encode(b"ben@contoso.com").decode()
    pw = base64.b64encode(b"Contoso-pass-2").decode()
    text = s_client_session(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", "smtp",
                             "-CAfile", srv.info["ca_file"], "-crlf", "-ign_eof"],
                            ["EHLO client.test", "AUTH LOGIN", user, pw, "QUIT"],
                            [b"Verify return code", b"AUTH LOGIN", b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6", b"535", b"221"])
    log = tmp_path / "s_client.log"
    log.write_text(text)
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    assert "exchange-basic-auth-disabled" in finding_ids(doc), r.stdout


def test_openssl_plaintext_probe_of_implicit_port_is_handshake_failure(mailrig, mock, tmp_path):
    srv = mock("icloud")
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.base + 587}",
                        "-CAfile", srv.info["ca_file"]], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=20)
    log = tmp_path / "s_client.log"
    log.write_text(f"$ openssl s_client -connect 127.0.0.1:{srv.base + 587}\n" + p.stdout + p.stderr)
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), "--provider", "icloud")
    assert "icloud-smtp-ssl-on-587" in finding_ids(doc)


# ---- Python imaplib / smtplib ---------------------------------------------------------------------

def py_log(script, tmp_path, name):
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    log = tmp_path / name
    log.write_text(p.stdout + p.stderr)
    return log


def test_imaplib_icloud_full_address(mailrig, mock, tmp_path):
    srv = mock("icloud")
    log = py_log(f"""
import imaplib, ssl
imaplib.Debug = 4
ctx = ssl.create_default_context(cafile={srv.info['ca_file']!r}); ctx.check_hostname = False
m = imaplib.IMAP4_SSL('127.0.0.1', {srv.base + 993}, ssl_context=ctx)
m.login('emilyparker@icloud.com', 'Apple-ID-passw0rd')
""", tmp_path, "imaplib.log")
    assert "Apple-ID-passw0rd" in log.read_text()  # imaplib prints LOGIN in full
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    printed = subprocess.run([mailrig, "replay", str(log), "--print"], capture_output=True, text=True, timeout=30)
    scn = tmp_path / "x.scn"
    subprocess.run([mailrig, "replay", str(log), "--to-scenario", str(scn), "--profile", "icloud"],
                   capture_output=True, timeout=30)
    assert_no_secret(printed.stdout + printed.stderr + scn.read_text(), secrets_of(srv))
    assert "LOGIN emilyparker@icloud.com <redacted>" in printed.stdout
    assert "icloud-imap-username-full" in finding_ids(doc)
    assert "plaintext-password" not in finding_ids(doc)  # IMAP4_SSL: the port says TLS


def test_smtplib_exchange_smtp_auth_disabled(mailrig, mock, tmp_path):
    srv = mock("exchange")
    log = py_log(f"""
import smtplib, ssl
s = smtplib.SMTP()
s._host = 'smtp.test'  # the name starttls() sends as SNI
s.set_debuglevel(1)
s.connect('127.0.0.1', {srv.base + 587})
s.ehlo(); s.starttls(context=ssl._create_unverified_context()); s.ehlo()
s.login('sam@contoso.com', 'Contoso-pass-5')
""", tmp_path, "smtplib.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    assert "exchange-smtp-auth-disabled" in finding_ids(doc), r.stdout


def test_smtplib_icloud_name_part_for_smtp(mailrig, mock, tmp_path):
    srv = mock("icloud")
    log = py_log(f"""
import smtplib, ssl
s = smtplib.SMTP()
s._host = 'smtp.test'  # the name starttls() sends as SNI
s.set_debuglevel(1)
s.connect('127.0.0.1', {srv.base + 587})
s.ehlo(); s.starttls(context=ssl._create_unverified_context()); s.ehlo()
s.login('emilyparker', 'abcd-efgh-ijkl-mnop')
""", tmp_path, "smtplib.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    assert "icloud-smtp-username-full-address" in finding_ids(doc), r.stdout


def test_imaplib_exchange_login_before_starttls(mailrig, mock, tmp_path):
    srv = mock("exchange")
    log = py_log(f"""
import imaplib
imaplib.Debug = 4
m = imaplib.IMAP4('127.0.0.1', {srv.base + 143})
m.login('tony@contoso.com', 'Contoso-pass-1')
""", tmp_path, "imaplib.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    assert "exchange-no-tls" in finding_ids(doc), r.stdout


def test_imaplib_exchange_not_signed_in(mailrig, mock, tmp_path):
    srv = mock("exchange")
    log = py_log(f"""
import imaplib, ssl
imaplib.Debug = 4
m = imaplib.IMAP4_SSL('127.0.0.1', {srv.base + 993}, ssl_context=ssl._create_unverified_context())
m.login('nina@contoso.com', 'Contoso-pass-3')
m.select('INBOX')
""", tmp_path, "imaplib.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    assert "exchange-sign-in-web-first" in finding_ids(doc), r.stdout


def test_smtplib_exchange_ntlm_then_name_part(mailrig, mock, tmp_path):
    srv = mock("exchange")
    log = py_log(f"""
import smtplib, ssl
s = smtplib.SMTP()
s._host = 'smtp.test'
s.set_debuglevel(1)
s.connect('127.0.0.1', {srv.base + 587})
s.ehlo(); s.starttls(context=ssl._create_unverified_context()); s.ehlo()
s.docmd('AUTH NTLM', 'TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==')  # what an SPA client sends
s.login('tony', 'Contoso-pass-1')
""", tmp_path, "smtplib.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    ids = finding_ids(doc)
    assert "exchange-spa" in ids and "exchange-username-full-address" in ids, r.stdout
    assert "TlRMTVNTUAAB" not in r.stdout  # an NTLM message is hidden whole


# ---- mailrig's own transcripts ---------------------------------------------------------------------

def test_transcript_of_the_mock(mailrig, mock, tmp_path):
    srv = mock("icloud")
    subprocess.run(["curl", "-s", "--cacert", srv.info["ca_file"], "-u", "emilyparker@icloud.com:Apple-ID-passw0rd",
                    f"imaps://127.0.0.1:{srv.base + 993}/INBOX"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 10
    files = []
    while time.monotonic() < deadline and not files:
        files = sorted(srv.transcript_dir.glob("*imap*"))
        time.sleep(0.05)
    assert files
    r, doc = diagnose(mailrig, files[0], secrets=secrets_of(srv))
    assert "icloud-imap-username-full" in finding_ids(doc)


# ---- Thunderbird (hand-written) ---------------------------------------------------------------------

def test_thunderbird_icloud_imap(mailrig):
    r, doc = diagnose(mailrig, DATA / "thunderbird-icloud-imap.log")
    assert "icloud-app-specific-password" in finding_ids(doc)
    assert "user name" in r.stdout  # the login command was hidden by Thunderbird: cannot tell


def test_thunderbird_exchange_smtp_basic_auth(mailrig):
    r, doc = diagnose(mailrig, DATA / "thunderbird-exchange-smtp.log")
    assert "exchange-basic-auth-disabled" in finding_ids(doc)
    assert "smtp.office365.com" in r.stdout


# ---- cannot tell ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"hello world\nthis is not a log\n", bytes(range(256)) * 4])
def test_garbled_input_cannot_tell(mailrig, tmp_path, content):
    log = tmp_path / "garbled.log"
    log.write_bytes(content)
    r = subprocess.run([mailrig, "diagnose", "--log", str(log)], capture_output=True, text=True, timeout=30)
    assert r.returncode in (0, 1), r.stderr
    assert "cannot tell" in r.stdout
    assert "log format" in r.stdout


def test_unknown_log_format_name(mailrig, tmp_path):
    log = tmp_path / "x.log"
    log.write_text("x\n")
    r = subprocess.run([mailrig, "diagnose", "--log", str(log), "--log-format", "outlook"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "thunderbird" in r.stderr


# ---- replay ------------------------------------------------------------------------------------------------

POP_SETS = ("pop3.login=always", "listener.110.mode=plain")


def poplib_session(port):
    out = subprocess.run([sys.executable, "-c", f"""
import poplib
p = poplib.POP3('127.0.0.1', {port}, timeout=10)
print(p.getwelcome()[:3])
print(p.user('alice@example.test')[:3])
print(p.pass_('alice-password-1')[:3])
print(p.stat()[0] >= 0)
print(p.quit()[:3])
"""], capture_output=True, text=True, timeout=30)
    return out.stdout, out.returncode


def record_pop(mock):
    srv = mock("generic", *POP_SETS)
    got, rc = poplib_session(srv.base + 110)
    assert rc == 0, got
    deadline = time.monotonic() + 10
    files = []
    while time.monotonic() < deadline and not files:
        files = sorted(srv.transcript_dir.glob("*pop3*"))
        time.sleep(0.05)
    return srv, files[0], got


def test_replay_as_server_round_trip(mailrig, mock, tmp_path):
    srv, transcript, first = record_pop(mock)
    assert "alice-password-1" not in transcript.read_text()
    p = subprocess.Popen([mailrig, "replay", str(transcript), "--as", "server"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("listening 127.0.0.1:")
    port = int(line.strip().rsplit(":", 1)[1])
    again, rc = poplib_session(port)
    _, err = p.communicate(timeout=30)
    assert rc == 0 and again == first
    assert p.returncode == 0, err


def test_replay_as_client_round_trip(mailrig, mock, tmp_path):
    srv, transcript, _ = record_pop(mock)
    r = subprocess.run([mailrig, "replay", str(transcript), "--as", "client", f"127.0.0.1:{srv.base + 110}",
                        "--password", "alice-password-1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([mailrig, "replay", str(transcript), "--as", "client", f"127.0.0.1:{srv.base + 110}",
                        "--password", "wrong"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "expected" in r.stderr


def test_replay_client_refuses_non_loopback(mailrig, tmp_path):
    r = subprocess.run([mailrig, "replay", str(DATA / "thunderbird-exchange-smtp.log"), "--as", "client",
                        "192.0.2.1:25"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "loopback" in r.stderr


def test_to_scenario_lint_and_run(mailrig, mock, tmp_path):
    srv, transcript, _ = record_pop(mock)
    scn = tmp_path / "replayed.scn"
    r = subprocess.run([mailrig, "replay", str(transcript), "--to-scenario", str(scn), "--profile", "generic",
                        *sum((["--set", s] for s in POP_SETS), [])], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    text = scn.read_text()
    assert "alice-password-1" not in text and "{account.password}" in text
    lint = subprocess.run([mailrig, "lint", str(scn)], capture_output=True, text=True, timeout=30)
    assert lint.returncode == 0, lint.stderr + text
    run = subprocess.run([mailrig, "run", str(scn)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr + text


def test_to_scenario_from_a_client_log_lints(mailrig, tmp_path):
    scn = tmp_path / "tb.scn"
    r = subprocess.run([mailrig, "replay", str(DATA / "thunderbird-exchange-smtp.log"), "--to-scenario", str(scn),
                        "--profile", "exchange"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lint = subprocess.run([mailrig, "lint", str(scn)], capture_output=True, text=True, timeout=30)
    assert lint.returncode == 0, lint.stderr + scn.read_text()


def test_print_any_log_as_transcript(mailrig):
    r = subprocess.run([mailrig, "replay", str(DATA / "thunderbird-icloud-imap.log"), "--print"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert "conn 1 open imap.mail.me.com" in r.stdout and "C: <redacted>" in r.stdout


SMTP_SETS = ("listener.587.mode=plain", "smtp.mechs_plain=PLAIN LOGIN")


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_replay_as_client_fills_sasl_credentials(mailrig, mock, tmp_path, mech):
    srv = mock("generic", *SMTP_SETS)
    p = subprocess.run([sys.executable, "-c", f"""
import smtplib
s = smtplib.SMTP('127.0.0.1', {srv.base + 587}, timeout=10)
s.ehlo()
s.auth({mech!r} == 'PLAIN' and 'plain' or 'login', s.auth_plain if {mech!r} == 'PLAIN' else s.auth_login)
s.quit()
""".replace("s.auth(", "s.user, s.password = 'alice@example.test', 'alice-password-1'\ns.auth(")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + 10
    files = []
    while time.monotonic() < deadline and not files:
        files = sorted(srv.transcript_dir.glob("*smtp*"))
        time.sleep(0.05)
    transcript = files[0]
    assert "alice-password-1" not in transcript.read_text()
    ok = subprocess.run([mailrig, "replay", str(transcript), "--as", "client", f"127.0.0.1:{srv.base + 587}",
                         "--password", "alice-password-1"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([mailrig, "replay", str(transcript), "--as", "client", f"127.0.0.1:{srv.base + 587}",
                          "--password", "not-it"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "535" in bad.stderr


def test_to_scenario_server_role_lints(mailrig, mock, tmp_path):
    srv = mock("generic", *SMTP_SETS)
    p = subprocess.run(["msmtp", "--host=127.0.0.1", f"--port={srv.base + 587}", "--tls=off", "--auth=plain",
                        "--user=alice@example.test", "--passwordeval=echo alice-password-1",
                        "--from=alice@example.test", "alice@example.test"],
                       input="Subject: t\n\nhi\n", capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + 10
    files = []
    while time.monotonic() < deadline and not files:
        files = sorted(srv.transcript_dir.glob("*smtp*"))
        time.sleep(0.05)
    scn = tmp_path / "server.scn"
    client = ("msmtp server=smtp.example.test port=587 security=none auth=plain user={account.email} "
              "password={account.password} from={account.email} to={account.email}")
    r = subprocess.run([mailrig, "replay", str(files[0]), "--to-scenario", str(scn), "--role", "server",
                        "--client", client], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    text = scn.read_text()
    assert "role     server" in text and 'expect   "AUTH*"' in text and "alice-password-1" not in text
    lint = subprocess.run([mailrig, "lint", str(scn)], capture_output=True, text=True, timeout=30)
    assert lint.returncode == 0, lint.stderr + text


# ---- more catalogue rows, each from a real client's log -------------------------------------------------

SMTPLIB_AFTER_STARTTLS = """
import smtplib, ssl, sys
s = smtplib.SMTP()
s._host = 'smtp.test'
s.set_debuglevel(1)
s.connect('127.0.0.1', {port})
s.ehlo(); s.starttls(context=ssl._create_unverified_context()); s.ehlo()
{action}
"""

SMTPLIB_CASES = [
    # provider, provider port, what the client does, expected finding
    ("icloud", 587, "s.sendmail('emilyparker@icloud.com', ['x@example.com'], 'Subject: t\\r\\n\\r\\nhi\\r\\n')",
     "icloud-smtp-auth-required"),
    ("icloud", 587, "s.docmd('AUTH XOAUTH2', 'dXNlcj1lbWlseXBhcmtlckBpY2xvdWQuY29tAWF1dGg9QmVhcmVyIHRvay0xMjMBAQ==')",
     "icloud-oauth2"),
    ("exchange", 25, "s.login('tony@contoso.com', 'Contoso-pass-1')", "exchange-smtp-port-25"),
]


@pytest.mark.parametrize("profile,port,action,expected", SMTPLIB_CASES, ids=[c[3] for c in SMTPLIB_CASES])
def test_smtplib_catalogue_rows(mailrig, mock, tmp_path, profile, port, action, expected):
    srv = mock(profile)
    log = py_log(SMTPLIB_AFTER_STARTTLS.format(port=srv.base + port, action=action), tmp_path, "smtplib.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv) + ["tok-123"])
    assert expected in finding_ids(doc), r.stdout


@pytest.mark.skipif(not shutil.which("msmtp"), reason="msmtp not installed")
def test_msmtp_starttls_on_icloud_465(mailrig, mock, tmp_path):
    srv = mock("icloud")
    # msmtp waits for a plaintext greeting on the implicit-TLS port until its own time-out
    log = run_client(["msmtp", "--debug", "--host=127.0.0.1", f"--port={srv.base + 465}", "--tls=on",
                      "--tls-starttls=on", f"--tls-trust-file={srv.info['ca_file']}", "--timeout=2",
                      "--auth=on", "--user=emilyparker@icloud.com", "--passwordeval=echo abcd-efgh-ijkl-mnop",
                      "--from=emilyparker@icloud.com", "x@example.com"], tmp_path, "msmtp.log",
                     stdin="Subject: t\n\nhi\n")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), "--provider", "icloud",
                      secrets=secrets_of(srv))
    assert "icloud-smtp-starttls-on-465" in finding_ids(doc)


def test_curl_implicit_tls_on_exchange_143(mailrig, mock, tmp_path):
    srv = mock("exchange")
    log = run_client(["curl", "-v", "--cacert", srv.info["ca_file"], "-u", "tony@contoso.com:Contoso-pass-1",
                      f"imaps://127.0.0.1:{srv.base + 143}/"], tmp_path, "curl.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), "--provider", "exchange",
                      secrets=secrets_of(srv))
    assert "exchange-ssl-on-143-110" in finding_ids(doc)


IMAP_CLIENT = """
import imaplib, ssl
ctx = ssl.create_default_context(cafile={ca!r}); ctx.check_hostname = False
m = imaplib.IMAP4_SSL('127.0.0.1', {port}, ssl_context=ctx, timeout=10)
print(m.login('emilyparker', 'abcd-efgh-ijkl-mnop')[0])
print(m.select('INBOX')[0])
print(m.logout()[0])
"""

SMTP_CLIENT = """
import smtplib, ssl
ctx = ssl.create_default_context(cafile={ca!r}); ctx.check_hostname = False
s = smtplib.SMTP('127.0.0.1', {port}, timeout=10)
print(s.ehlo()[0], s.starttls(context=ctx)[0], s.ehlo()[0])
print(s.login('alice@example.test', 'alice-password-1')[0])
print(s.quit()[0])
"""


def first_transcript(srv, proto):
    deadline = time.monotonic() + 10
    files = []
    while time.monotonic() < deadline and not files:
        files = sorted(srv.transcript_dir.glob(f"*{proto}*"))
        time.sleep(0.05)
    return files[0]


@pytest.mark.parametrize("profile,proto,port,script", [
    ("icloud", "imap", 993, IMAP_CLIENT),          # implicit TLS from the start
    ("generic", "smtp", 587, SMTP_CLIENT),         # TLS after STARTTLS
])
def test_replay_tls_round_trip(mailrig, mock, tmp_path, profile, proto, port, script):
    srv = mock(profile)
    first = subprocess.run([sys.executable, "-c", script.format(ca=srv.info["ca_file"], port=srv.base + port)],
                           capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stderr
    transcript = first_transcript(srv, proto)
    # --as client against the mock: the same replies, TLS where the recording had it
    pw = "abcd-efgh-ijkl-mnop" if profile == "icloud" else "alice-password-1"
    r = subprocess.run([mailrig, "replay", str(transcript), "--as", "client", f"127.0.0.1:{srv.base + port}",
                        "--password", pw], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # --as server: the same client gets the same answers from the replay
    p = subprocess.Popen([mailrig, "replay", str(transcript), "--as", "server", "--state", str(srv.state_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ca = p.stdout.readline().strip()
    assert ca.startswith("ca_file=")
    listening = p.stdout.readline().strip()
    again = subprocess.run([sys.executable, "-c", script.format(ca=ca[8:], port=int(listening.rsplit(":", 1)[1]))],
                           capture_output=True, text=True, timeout=30)
    _, err = p.communicate(timeout=30)
    assert again.returncode == 0 and again.stdout == first.stdout, again.stderr + err
    assert p.returncode == 0, err


def test_curl_wrong_server_name_from_the_log(mailrig, mock, tmp_path):
    """The log shows the name the user typed; diagnose judges it like a setting."""
    srv = mock("icloud")
    port = srv.base + 993
    log = run_client(["curl", "-v", "-k", "--resolve", f"imap.icloud.com:{port}:127.0.0.1", "-u",
                      "emilyparker:abcd-efgh-ijkl-mnop", f"imaps://imap.icloud.com:{port}/INBOX"], tmp_path, "curl.log")
    r, doc = diagnose(mailrig, log, "--log-port-base", str(srv.base), secrets=secrets_of(srv))
    assert "icloud-imap-server-name" in finding_ids(doc), r.stdout
    assert "imap.icloud.com" in r.stdout


@pytest.mark.parametrize("sample,args,expected", [
    ("thunderbird-exchange-smtp-ssl-on-587.log", (), "exchange-smtp-ssl-on-587"),
    ("thunderbird-icloud-pop-refused.log", ("--provider", "icloud"), "icloud-no-pop"),
])
def test_thunderbird_transport_failures(mailrig, sample, args, expected):
    r, doc = diagnose(mailrig, DATA / sample, *args)
    assert expected in finding_ids(doc), r.stdout
