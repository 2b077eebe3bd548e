"""The IMAP session of the mock providers, end to end: Python's imaplib, curl, openssl
s_client and raw sockets against `mailrig serve`.

Replies the profiles fix are compared byte for byte with the profile's template as the
profile files say them (profiles/*.ini; the cited ones are PROVIDERS.md's literal texts).
"""
import base64
import hashlib
import hmac
import imaplib
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

# Other protocols' listeners are closed so these tests need only the IMAP session.
IMAP_ONLY = ("listener.587.mode=closed", "listener.465.mode=closed", "listener.25.mode=closed",
             "listener.110.mode=closed", "listener.995.mode=closed")

SECRETS = ["abcd-efgh-ijkl-mnop", "Apple-ID-passw0rd", "wxyz-qrst-uvab-cdef", "Contoso-pass-1",
           "Contoso-pass-2", "Contoso-pass-3", "Contoso-pass-4", "tony-oauth-token",
           "ben-oauth-token", "nina-oauth-token", "alice-password-1", "alice-oauth-token",
           "bob-password-2"]


STARTED = []


def start(serve, profile, *sets, **kw):
    srv = serve(profile, *IMAP_ONLY, *sets, **kw)
    STARTED.append(srv)
    return srv


@pytest.fixture(autouse=True)
def no_secret_in_transcripts():
    """After every test: no test password or token in any transcript its servers wrote."""
    STARTED.clear()
    yield
    for srv in STARTED:
        for path in sorted(srv.transcript_dir.glob("*.log")):
            text = path.read_text(errors="replace")
            for secret in SECRETS:
                assert secret not in text, f"{secret} in {path}"


class Raw:
    """A line-oriented IMAP client over a raw socket, optionally TLS."""

    def __init__(self, srv, port, tls=False):
        self.srv = srv
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            self.wrap()
        self.buf = b""

    def wrap(self):
        ctx = ssl.create_default_context(cafile=self.srv.ca_file)
        ctx.check_hostname = False
        self.sock = ctx.wrap_socket(self.sock)

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until(self, tag):
        """Lines up to and including the tagged one."""
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + " "):
                return out

    def cmd(self, tag, text):
        self.send(f"{tag} {text}\r\n")
        return self.until(tag)

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(4096)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def imaps(srv, port=993):
    ctx = ssl.create_default_context(cafile=srv.ca_file)
    return imaplib.IMAP4_SSL("127.0.0.1", srv.port("imap", port), ssl_context=ctx)


# ---- iCloud ---------------------------------------------------------------------------------

def test_icloud_app_password_local_part(serve):
    srv = start(serve, "icloud")
    a = srv.account("emily")
    m = imaps(srv)
    assert "AUTH=PLAIN" in m.capabilities and "LOGINDISABLED" not in m.capabilities
    typ, data = m.login(a["username"]["imap"], a["app_password"])
    assert typ == "OK" and data == [f"user {a['username']['imap']} authenticated".encode()]
    typ, boxes = m.list()
    names = [b.decode() for b in boxes]
    assert '(\\Noinferiors \\HasNoChildren) "/" INBOX' in names
    assert '(\\HasNoChildren) "/" "Deleted Messages"' in names
    typ, data = m.select("INBOX")
    assert typ == "OK" and int(data[0]) == 6
    typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE BODYSTRUCTURE ENVELOPE)")
    assert typ == "OK" and len([d for d in data if d]) == 6
    typ, data = m.fetch("2", "(BODY.PEEK[])")
    assert data[0][1].startswith(b"") and b"March product update" in data[0][1]
    assert m.logout()[0] == "BYE"
    t = srv.transcripts()
    assert "event auth-ok mech=LOGIN user=emilyparker form=local expected=local tls=1" in t


def test_icloud_account_password_fails_and_closes(serve):
    srv = start(serve, "icloud")
    a = srv.account("emily")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    assert r.line().startswith("* OK [CAPABILITY XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR AUTH=ATOKEN AUTH=PLAIN] ")
    assert r.cmd("a1", f'LOGIN emilyparker "{a["password"]}"') == \
        ["a1 NO [AUTHENTICATIONFAILED] Authentication failed"]
    assert r.closed()
    assert "event auth-wrong-password-kind mech=LOGIN user=emilyparker" in srv.transcripts()


def test_icloud_imaplib_failure_reply(serve):
    srv = start(serve, "icloud")
    a = srv.account("emily")
    m = imaps(srv)
    with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\] Authentication failed"):
        m.login(a["username"]["imap"], a["password"])


def test_icloud_full_address_fallback_and_strict_switch(serve):
    srv = start(serve, "icloud")
    a = srv.account("emily")
    m = imaps(srv)
    assert m.login(a["email"], a["app_password"])[0] == "OK"
    m.logout()
    srv2 = start(serve, "icloud", "imap.username=local")
    m = imaps(srv2)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login(a["email"], a["app_password"])
    assert "event auth-wrong-username-form" in srv2.transcripts()


def test_icloud_authenticate_plain_sasl_ir(serve):
    srv = start(serve, "icloud")
    a = srv.account("emily")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    ir = base64.b64encode(f"\0emilyparker\0{a['app_password']}".encode()).decode()
    assert r.cmd("a1", f"AUTHENTICATE PLAIN {ir}") == ["a1 OK user emilyparker authenticated"]
    caps = r.cmd("a2", "CAPABILITY")
    assert caps[0].startswith("* CAPABILITY XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 CONDSTORE ENABLE QRESYNC")
    assert caps[1] == "a2 OK Completed"


def test_icloud_curl(serve, tmp_path):
    srv = start(serve, "icloud")
    a = srv.account("emily")
    port = srv.port("imap", 993)
    out = subprocess.run(["curl", "-sS", "--cacert", srv.ca_file, "--resolve",
                          f"imap.mail.me.com:{port}:127.0.0.1",
                          f"imaps://imap.mail.me.com:{port}/INBOX;UID=1",
                          "-u", f"{a['username']['imap']}:{a['app_password']}"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert b"Welcome to your new mailbox" in out.stdout
    bad = subprocess.run(["curl", "-sS", "--cacert", srv.ca_file, "--resolve",
                          f"imap.mail.me.com:{port}:127.0.0.1", f"imaps://imap.mail.me.com:{port}/",
                          "-u", f"{a['username']['imap']}:{a['password']}"],
                         capture_output=True, timeout=30)
    assert bad.returncode == 67, bad  # CURLE_LOGIN_DENIED
    t = srv.transcripts()
    assert "S: A002 NO [AUTHENTICATIONFAILED] Authentication failed" in t or \
        "NO [AUTHENTICATIONFAILED] Authentication failed" in t


def test_icloud_idle_timeout_bye(serve):
    srv = start(serve, "icloud", "imap.idle_timeout=1")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    assert r.line() == "* BYE Idle timeout"
    assert r.closed()


def test_icloud_too_many_connections(serve):
    srv = start(serve, "icloud", "imap.max_connections=1")
    r1 = Raw(srv, srv.port("imap", 993), tls=True)
    r1.line()
    r2 = Raw(srv, srv.port("imap", 993), tls=True)
    assert r2.line() == "* BYE [UNAVAILABLE] Too many connections"
    assert r2.closed()
    r1.cmd("a", "LOGOUT")


# ---- Exchange -------------------------------------------------------------------------------

def test_exchange_full_address_993(serve):
    srv = start(serve, "exchange")
    a = srv.account("tony")
    m = imaps(srv)
    typ, data = m.login(a["email"], a["password"])
    assert (typ, data) == ("OK", [b"LOGIN completed."])
    assert "MOVE" in m.capabilities or True
    typ, data = m.select("Inbox")
    assert typ == "OK"
    typ, data = m.logout()
    assert data == [b"Microsoft Exchange Server IMAP4 server signing off."]


def test_exchange_name_part_refused_on_993(serve):
    """Exchange wants the full address everywhere: the name part fails like a bad password."""
    srv = start(serve, "exchange")
    a = srv.account("tony")
    m = imaps(srv)
    with pytest.raises(imaplib.IMAP4.error, match="LOGIN failed"):
        m.login(a["email"].split("@")[0], a["password"])
    m.shutdown()
    assert "event auth-wrong-username-form mech=LOGIN user=tony form=local expected=full" in \
        srv.transcripts()


def test_exchange_greeting_bytes(serve):
    srv = start(serve, "exchange")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    g = r.line()
    m = re.fullmatch(r"\* OK The Microsoft Exchange IMAP4 service is ready\. \[([A-Za-z0-9+/=]+)\]", g)
    assert m, g
    fqdn = base64.b64decode(m.group(1)).decode("utf-16-le")
    assert re.fullmatch(r"[A-Z]{2}\dPR\d\dCA\d{4}\.[a-z]{3}prd\d\d\.prod\.outlook\.com", fqdn), fqdn
    assert r.cmd("a1", "LOGOUT") == ["* BYE Microsoft Exchange Server IMAP4 server signing off.",
                                     "a1 OK LOGOUT completed."]


def test_exchange_143_starttls_then_login(serve):
    srv = start(serve, "exchange")
    a = srv.account("tony")
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap", 143))
    assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities
    ctx = ssl.create_default_context(cafile=srv.ca_file)
    ctx.check_hostname = False
    m.starttls(ssl_context=ctx)
    assert "LOGINDISABLED" not in m.capabilities and "STARTTLS" not in m.capabilities
    assert m.login(a["email"], a["password"])[0] == "OK"
    m.logout()


def test_exchange_143_login_before_tls(serve):
    srv = start(serve, "exchange")
    r = Raw(srv, srv.port("imap", 143))
    r.line()
    assert r.cmd("a1", 'LOGIN tony@contoso.com "x"') == ["a1 BAD Command received in Invalid state."]
    r.close()
    t = srv.transcripts()
    assert "event credentials-before-tls mech=LOGIN" in t
    assert "event command-needs-tls command=LOGIN" in t


@pytest.mark.parametrize("name,reply", [("ben", "NO LOGIN failed."), ("pat", "NO LOGIN failed.")])
def test_exchange_account_states_login(serve, name, reply):
    srv = start(serve, "exchange")
    a = srv.account(name)
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    assert r.cmd("a1", f'LOGIN {a["email"]} "{a["password"]}"') == [f"a1 {reply}"]
    r.close()
    t = srv.transcripts()
    outcome = {"ben": "basic-auth-disabled", "pat": "protocol-disabled"}[name]
    assert f"event auth-{outcome} " in t


def test_exchange_basic_auth_disabled_xoauth2_works(serve):
    srv = start(serve, "exchange")
    a = srv.account("ben")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    blob = base64.b64encode(f"user={a['email']}\x01auth=Bearer {a['oauth_token']}\x01\x01".encode()).decode()
    assert r.cmd("a1", f"AUTHENTICATE XOAUTH2 {blob}") == ["a1 OK AUTHENTICATE completed."]
    assert r.cmd("a2", "SELECT Inbox")[-1] == "a2 OK [READ-WRITE] SELECT completed."


def test_exchange_not_signed_in(serve):
    srv = start(serve, "exchange")
    a = srv.account("nina")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    assert r.cmd("a1", f'LOGIN {a["email"]} "{a["password"]}"') == ["a1 OK LOGIN completed."]
    assert r.cmd("a2", "CAPABILITY")[-1] == "a2 OK CAPABILITY completed."
    assert r.cmd("a3", "SELECT INBOX") == ["a3 BAD User is authenticated but not connected."]
    r.send("a4 LIST \"\" *\r\n")
    assert r.line() == "a4 BAD User is authenticated but not connected."
    assert r.line() == "* BYE Connection closed. 14"
    assert r.closed()
    assert "event auth-ok-not-connected " in srv.transcripts()


def test_exchange_imaplib_not_signed_in(serve):
    srv = start(serve, "exchange")
    a = srv.account("nina")
    m = imaps(srv)
    assert m.login(a["email"], a["password"])[0] == "OK"
    with pytest.raises(imaplib.IMAP4.error, match="User is authenticated but not connected"):
        m.select("INBOX")


def test_exchange_line_too_long(serve):
    srv = start(serve, "exchange")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    r.send("a1 NOOP " + "x" * 20000 + "\r\n")
    assert r.line() == "* BAD Command line too long."
    assert r.closed()
    assert "event line-too-long limit=10240" in srv.transcripts()


def test_exchange_literal_too_big(serve):
    srv = start(serve, "exchange", "imap.max_literal=1000")
    a = srv.account("tony")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    r.cmd("a1", f'LOGIN {a["email"]} "{a["password"]}"')
    r.send("a2 APPEND Inbox {5000}\r\n")
    assert r.line() == "a2 NO [TOOBIG] The message is too large."
    assert r.cmd("a3", "NOOP") == ["a3 OK NOOP completed."]


def test_exchange_client_hello_on_143(serve):
    srv = start(serve, "exchange")
    sock = socket.create_connection(("127.0.0.1", srv.port("imap", 143)), timeout=10)
    ctx = ssl.create_default_context(cafile=srv.ca_file)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        ctx.wrap_socket(sock, server_hostname="outlook.office365.com")
    sock.close()
    t = srv.transcripts()
    assert "event tls-handshake-on-starttls-port" in t
    assert "S: * BAD Command Error. 10" in t


def test_exchange_starttls_injection_discarded(serve):
    srv = start(serve, "exchange")
    r = Raw(srv, srv.port("imap", 143))
    r.line()
    r.send("a1 STARTTLS\r\na2 CAPABILITY\r\n")
    assert r.line() == "a1 OK Begin TLS negotiation now."
    r.wrap()
    assert r.cmd("a3", "NOOP") == ["a3 OK NOOP completed."]
    r.cmd("a4", "LOGOUT")
    t = srv.transcripts()
    assert "event starttls-discarded-plaintext bytes=15" in t
    assert "a2 CAPABILITY" not in t


def test_exchange_starttls_injection_kept_when_vulnerable(serve):
    srv = start(serve, "exchange", "tls.starttls_vulnerable=yes")
    r = Raw(srv, srv.port("imap", 143))
    r.line()
    r.send("a1 STARTTLS\r\na2 CAPABILITY\r\n")
    assert r.line() == "a1 OK Begin TLS negotiation now."
    r.wrap()
    lines = r.until("a2")
    assert lines[-1] == "a2 OK CAPABILITY completed."
    r.cmd("a4", "LOGOUT")
    assert "event starttls-plaintext-kept bytes=15" in srv.transcripts()


def test_exchange_openssl_starttls(serve):
    srv = start(serve, "exchange")
    a = srv.account("tony")
    p = subprocess.run(["openssl", "s_client", "-quiet", "-starttls", "imap", "-connect",
                        f"127.0.0.1:{srv.port('imap', 143)}", "-CAfile", srv.ca_file],
                       input=f'a1 LOGIN {a["email"]} "{a["password"]}"\r\na2 LOGOUT\r\n'.encode(),
                       capture_output=True, timeout=30)
    assert b"a1 OK LOGIN completed." in p.stdout, p


# ---- generic: SASL mechanisms and the mailbox commands ----------------------------------------

def test_generic_sasl_mechanisms(serve):
    srv = start(serve, "generic")
    a = srv.account("alice")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    # LOGIN mechanism, two continuation steps
    r.send("a1 AUTHENTICATE LOGIN\r\n")
    assert r.line() == "+ VXNlcm5hbWU6"
    r.send(base64.b64encode(a["email"].encode()).decode() + "\r\n")
    assert r.line() == "+ UGFzc3dvcmQ6"
    r.send(base64.b64encode(b"wrong").decode() + "\r\n")
    assert r.line() == "a1 NO [AUTHENTICATIONFAILED] Authentication failed"
    # cancel
    r.send("a2 AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send("*\r\n")
    assert r.line() == "a2 BAD AUTHENTICATE cancelled"
    # bad base64
    r.send("a3 AUTHENTICATE PLAIN\r\n")
    r.line()
    r.send("!!!\r\n")
    assert r.line() == "a3 BAD Invalid SASL response"
    # CRAM-MD5
    r.send("a4 AUTHENTICATE CRAM-MD5\r\n")
    chal = base64.b64decode(r.line()[2:])
    digest = hmac.new(a["password"].encode(), chal, hashlib.md5).hexdigest()
    r.send(base64.b64encode(f"{a['email']} {digest}".encode()).decode() + "\r\n")
    ok = r.line()
    assert ok.startswith("a4 OK [CAPABILITY IMAP4rev1 ") and ok.endswith("] AUTHENTICATE completed"), ok
    r.close()
    t = srv.transcripts()
    assert "event auth-bad-password mech=LOGIN" in t
    assert "event auth-cancelled mech=PLAIN" in t
    assert "event auth-bad-blob mech=PLAIN" in t
    assert "event auth-ok mech=CRAM-MD5" in t


def test_generic_mech_not_offered(serve):
    srv = start(serve, "generic")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    assert r.cmd("a1", "AUTHENTICATE NTLM") == ["a1 NO Unsupported authentication mechanism"]
    r.close()
    assert "event mech-not-offered mech=NTLM" in srv.transcripts()


def test_generic_strict_violation_served_leniently(serve):
    srv = start(serve, "generic")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    r.send("a1  NOOP\n")
    assert r.line() == "a1 OK NOOP completed"
    r.close()
    assert "event strict-violation rule=command" in srv.transcripts()


def test_generic_unknown_and_bad_state(serve):
    srv = start(serve, "generic")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    assert r.cmd("a1", "FROB") == ["a1 BAD Unknown command"]
    assert r.cmd("a2", "SELECT INBOX") == ["a2 BAD Command not valid in this state"]
    assert r.cmd("a3", "STARTTLS") == ["a3 BAD STARTTLS not available here"]


def logged_in(srv, name="alice"):
    a = srv.account(name)
    m = imaps(srv)
    m.login(a["email"], a["password"])
    return m


def test_generic_mailbox_commands(serve):
    srv = start(serve, "generic")
    m = logged_in(srv)
    assert m.create("Work/Projects")[0] == "OK"
    typ, data = m.list('""', "Work*")
    assert b'(\\HasChildren) "/" Work' in data and b'(\\HasNoChildren) "/" Work/Projects' in data
    typ, data = m.list('""', "%")
    assert any(b"\\Sent" in d and b"Sent" in d for d in data)
    assert m.rename("Work/Projects", "Work/Done")[0] == "OK"
    assert m.subscribe("Work/Done")[0] == "OK"
    typ, data = m.lsub('""', "*")
    assert b'"Work/Done"' in b" ".join(data) or b"Work/Done" in b" ".join(data)
    assert m.unsubscribe("Work/Done")[0] == "OK"
    assert m.delete("Work/Done")[0] == "OK"
    typ, data = m.create("INBOX")
    assert typ == "NO" and data == [b"[ALREADYEXISTS] Mailbox already exists"]
    typ, data = m.select("Nope")
    assert typ == "NO" and data == [b"[NONEXISTENT] Mailbox does not exist"]
    typ, data = m.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
    assert re.match(rb'INBOX \(MESSAGES \d+ RECENT \d+ UIDNEXT \d+ UIDVALIDITY \d+ UNSEEN \d+\)', data[0])
    m.logout()


def test_generic_list_extended(serve):
    srv = start(serve, "generic")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    a = srv.account("alice")
    r.cmd("a1", f'LOGIN {a["email"]} "{a["password"]}"')
    out = r.cmd("a2", 'LIST (SPECIAL-USE) "" * RETURN (SPECIAL-USE STATUS (MESSAGES))')
    assert any(l.startswith('* LIST (\\Sent') for l in out), out
    assert any(l.startswith("* STATUS Sent (MESSAGES ") for l in out), out
    assert not any(" INBOX" in l for l in out if l.startswith("* LIST"))
    assert r.cmd("a3", 'LIST "" ""') == ['* LIST (\\Noselect) "/" ""', "a3 OK LIST completed"]


def test_generic_fetch_search_store_copy_move_expunge(serve):
    srv = start(serve, "generic")
    m = logged_in(srv)
    typ, data = m.select("INBOX")
    n = int(data[0])
    assert n >= 1
    typ, data = m.fetch("1", "(RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])")
    assert typ == "OK" and b"INTERNALDATE" in data[0][0] and b"Subject:" in data[0][1]
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BODY[1])")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0]
    typ, data = m.fetch("1", "FAST")
    assert b"RFC822.SIZE" in data[0] and b"INTERNALDATE" in data[0]
    typ, data = m.fetch("1", "(RFC822.HEADER RFC822.TEXT)")
    assert typ == "OK"
    typ, data = m.search(None, "UNSEEN")
    unseen = data[0].split()
    assert b"1" not in unseen
    typ, data = m.search(None, "OR", "SEEN", "NOT", "SEEN")
    assert len(data[0].split()) == n
    typ, data = m.search(None, "SINCE", "1-Jan-2000", "LARGER", "10")
    assert len(data[0].split()) == n
    typ, data = m.search("UTF-8", "SUBJECT", "zzzz-no-such")
    assert data == [b""]
    typ, data = m.uid("SEARCH", None, "UID", "1:*")
    assert len(data[0].split()) == n
    typ, data = m.store("1", "+FLAGS", "(\\Deleted $Important)")
    assert b"$Important" in data[0] and b"\\Deleted" in data[0]
    typ, data = m.uid("COPY", "1", "Archive")
    assert typ == "OK"
    typ, data = m.uid("MOVE", "2", "Archive")
    assert typ == "OK"
    typ, data = m.expunge()
    assert typ == "OK"
    typ, data = m.select("Archive", readonly=True)
    assert int(data[0]) == 2
    typ, data = m.store("1", "+FLAGS", "(\\Seen)")
    assert typ == "NO"
    m.logout()


def test_generic_append_literals(serve):
    srv = start(serve, "generic")
    a = srv.account("alice")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    r.cmd("a1", f'LOGIN {a["email"]} "{a["password"]}"')
    msg = b"From: a@example.com\r\nSubject: literal plus\r\n\r\nhello\r\n"
    r.send(b"a2 APPEND Drafts (\\Draft) \"05-Mar-2024 10:00:00 +0100\" {%d+}\r\n" % len(msg) + msg + b"\r\n")
    out = r.until("a2")
    assert out[-1].startswith("a2 OK [APPENDUID ") and out[-1].endswith("] APPEND completed"), out
    # a big message, streamed through the framer (over the inline literal limit)
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 200
    r.send(b"a3 APPEND Drafts {%d}\r\n" % len(big))
    assert r.line() == "+ Ready for literal data"
    r.send(big + b"\r\n")
    assert r.until("a3")[-1].startswith("a3 OK [APPENDUID ")
    out = r.cmd("a4", "STATUS Drafts (MESSAGES)")
    assert out[0] == "* STATUS Drafts (MESSAGES 2)"
    r.cmd("a5", "EXAMINE Drafts")
    out = r.cmd("a6", "FETCH 2 (RFC822.SIZE)")
    assert out == [f"* 2 FETCH (RFC822.SIZE {len(big)})", "a6 OK FETCH completed"]
    out = r.cmd("a7", "FETCH 1 (FLAGS INTERNALDATE)")
    assert out[0] == '* 1 FETCH (FLAGS (\\Draft \\Recent) INTERNALDATE " 5-Mar-2024 10:00:00 +0100")', out


def test_idle_push_from_other_session(serve):
    srv = start(serve, "generic")
    a = srv.account("alice")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    r.cmd("a1", f'LOGIN {a["email"]} "{a["password"]}"')
    out = r.cmd("a2", "SELECT INBOX")
    exists = int([l for l in out if l.endswith(" EXISTS")][0].split()[1])
    r.send("a3 IDLE\r\n")
    assert r.line() == "+ idling"
    m = logged_in(srv)
    m.append("INBOX", None, None, b"Subject: pushed\r\n\r\nhi\r\n")
    assert r.line() == f"* {exists + 1} EXISTS"
    assert r.line() == f"* {exists + 1} RECENT"
    m.select("INBOX")
    m.store(str(exists + 1), "+FLAGS", "(\\Seen)")
    assert r.line().startswith(f"* {exists + 1} FETCH (FLAGS (\\Seen")
    m.store(str(exists + 1), "+FLAGS", "(\\Deleted)")
    r.line()
    m.expunge()
    assert r.line() == f"* {exists + 1} EXPUNGE"
    r.send("DONE\r\n")
    assert r.line() == "a3 OK IDLE completed"
    m.logout()


def test_transcripts_hold_no_secrets(serve):
    """Every test above runs in its own server; this one exercises every credential path in one
    and greps its transcripts for every test password and token."""
    srv = start(serve, "exchange")
    tony = srv.account("tony")
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    r.cmd("a1", f'LOGIN {tony["email"]} "{tony["password"]}x"')
    r.send(f'a2 LOGIN {tony["email"]} {{{len(tony["password"])}}}\r\n')
    r.line()
    r.send(tony["password"] + "\r\n")
    r.until("a2")
    r.close()
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    blob = base64.b64encode(f"user={tony['email']}\x01auth=Bearer {tony['oauth_token']}\x01\x01".encode()).decode()
    r.send("a1 AUTHENTICATE XOAUTH2\r\n")
    r.line()
    r.send(blob + "\r\n")
    r.until("a1")
    r.close()
    r = Raw(srv, srv.port("imap", 993), tls=True)
    r.line()
    plain = base64.b64encode(f"\0{tony['email']}\0{tony['password']}".encode()).decode()
    r.cmd("a1", f"AUTHENTICATE PLAIN {plain}")
    r.close()
    r = Raw(srv, srv.port("imap", 143))
    r.line()
    r.cmd("a1", f'LOGIN {tony["email"]} {tony["password"]}')
    r.send(f"a2 LOGIN {tony['email']} \"{tony['password']}\r\n")  # unparsable: still redacted
    r.line()
    r.close()
    t = srv.transcripts()
    for s in SECRETS + [plain, blob]:
        assert s not in t, s
    assert t.count("<redacted>") >= 4


# ---- real clients: mbsync, fetchmail, s-nail --------------------------------------------------

def test_mbsync_full_sync(serve, tmp_path):
    srv = start(serve, "exchange")
    a = srv.account("tony")
    maildir = tmp_path / "mail"
    maildir.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""IMAPAccount tony
Host localhost
Port {srv.port('imap', 993)}
User {a['email']}
Pass {a['password']}
SSLType IMAPS
CertificateFile {srv.ca_file}
AuthMechs LOGIN

IMAPStore remote
Account tony

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
""")
    p = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    files = list((maildir / "INBOX").glob("*/*"))
    assert len(files) == 6, files
    assert any(b"Welcome to your new mailbox" in f.read_bytes() for f in files)
    assert (maildir / "Sent Items").exists()
    # a second run is incremental and must also succeed
    p = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()


def test_fetchmail_full_sync(serve, tmp_path):
    srv = start(serve, "icloud")
    a = srv.account("emily")
    out = tmp_path / "delivered"
    out.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text(f'#!/bin/sh\ncat > "$(mktemp -p {out} msg.XXXXXX)"\n')
    mda.chmod(0o755)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f"""set no syslog
poll 127.0.0.1 with proto IMAP port {srv.port('imap', 993)}
  user "{a['username']['imap']}" there with password "{a['app_password']}" is "me" here
  ssl sslcertck sslcertfile "{srv.ca_file}" sslcommonname "imap.mail.me.com"
  keep fetchall
  mda "{mda}"
""")
    rc.chmod(0o600)
    p = subprocess.run(["fetchmail", "-f", str(rc), "--nodetach", "-v"], capture_output=True,
                       timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, (p.stdout + p.stderr).decode()
    msgs = [f.read_bytes() for f in out.iterdir()]
    assert len(msgs) == 6
    assert any(b"Q3 report (PDF attached)" in m for m in msgs)


def test_snail_reads_inbox(serve, tmp_path):
    srv = start(serve, "generic")
    a = srv.account("alice")
    user = a["email"].replace("@", "%40")
    port = srv.port("imap", 993)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    p = subprocess.run(["s-nail", "-#", "-:/", "-Sv15-compat=yes", f"-Spassword={a['password']}",
                        "-Stls-ca-file=" + srv.ca_file, "-Sheadline=%>%a%m %-18f %s",
                        "-f", f"imaps://{user}@localhost:{port}/INBOX"],
                       input=b"headers\nprint 3\nquit\n", capture_output=True, timeout=60, env=env)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0, out
    assert "Welcome to your new mailbox" in out and "Q3 report (PDF attached)" in out, out
    assert "Maria Garcia" in out, out  # the body of message 3 was printed


def test_neomutt_headless_in_tmux(serve, tmp_path):
    """neomutt is a terminal program: run it in a detached tmux session, read the screen,
    open the first message, and quit."""
    srv = start(serve, "generic")
    a = srv.account("alice")
    port = srv.port("imap", 993)
    rc = tmp_path / "neomuttrc"
    rc.write_text(f'''set folder="imaps://localhost:{port}/"
set spoolfile="+INBOX"
set imap_user="{a['email']}"
set imap_pass="{a['password']}"
set certificate_file="{tmp_path}/certs"
set ssl_ca_certificates_file="{srv.ca_file}"
set header_cache=""
set message_cachedir=""
set mail_check=0
set sort=date
''')
    sess = f"mailrig-neomutt-{port}"

    def screen():
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True,
                              text=True).stdout

    def wait_for(text, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            s = screen()
            if text in s:
                return s
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on the screen:\n{screen()}")

    subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", "160", "-y", "40",
                    f"HOME={tmp_path} neomutt -n -F {rc}"], check=True)
    try:
        s = wait_for("Fwd: Your order has shipped")
        assert "Welcome to your new mailbox" in s and "Msgs:6" in s
        subprocess.run(["tmux", "send-keys", "-t", sess, "Enter"], check=True)
        wait_for("Your mailbox is ready.")
        subprocess.run(["tmux", "send-keys", "-t", sess, "q", "q", "y"], check=True)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
    t = srv.transcripts()
    assert "event auth-ok" in t


# ---- listener modes -----------------------------------------------------------------------------

def test_icloud_143_closed(serve):
    srv = start(serve, "icloud")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port("imap", 143)), timeout=5)


def test_icloud_993_plaintext_gets_alert(serve):
    srv = start(serve, "icloud")
    sock = socket.create_connection(("127.0.0.1", srv.port("imap", 993)), timeout=5)
    sock.sendall(b"a1 CAPABILITY\r\n")
    try:
        data = sock.recv(100)
    except ConnectionResetError:
        data = b""
    assert data[:1] in (b"\x15", b"")  # a TLS alert record, or the close after it
    sock.close()
    assert "event plaintext-on-implicit-tls-port answer=alert" in srv.transcripts()


def test_exchange_993_plaintext_gets_silence(serve):
    srv = start(serve, "exchange")
    sock = socket.create_connection(("127.0.0.1", srv.port("imap", 993)), timeout=1)
    sock.sendall(b"a1 CAPABILITY\r\n")
    with pytest.raises(socket.timeout):
        sock.recv(100)
    sock.close()
    assert "event plaintext-on-implicit-tls-port answer=silence" in srv.transcripts()


def test_generic_143_starttls(serve):
    srv = start(serve, "generic")
    a = srv.account("alice")
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap", 143))
    assert {"STARTTLS", "LOGINDISABLED"} <= set(m.capabilities)
    ctx = ssl.create_default_context(cafile=srv.ca_file)
    ctx.check_hostname = False
    m.starttls(ssl_context=ctx)
    assert "AUTH=CRAM-MD5" in m.capabilities
    assert m.login(a["email"], a["password"])[0] == "OK"
    assert m.logout()[0] == "BYE"


def test_plain_listener_mode(serve):
    srv = start(serve, "generic", "listener.143.mode=plain", "imap.login=always", "imap.mechs_plain=PLAIN")
    a = srv.account("alice")
    r = Raw(srv, srv.port("imap", 143))
    g = r.line()
    assert g.startswith("* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN]"), g
    assert r.cmd("a1", "STARTTLS") == ["a1 BAD STARTTLS not available here"]
    assert r.cmd("a2", f'LOGIN {a["email"]} "{a["password"]}"')[-1].startswith("a2 OK ")
    r.close()
    assert "event credentials-before-tls mech=LOGIN" in srv.transcripts()


def test_silent_listener_mode(serve):
    srv = start(serve, "exchange", "listener.143.mode=silent")
    sock = socket.create_connection(("127.0.0.1", srv.port("imap", 143)), timeout=1)
    with pytest.raises(socket.timeout):
        sock.recv(100)
    sock.close()


def test_exchange_curl_full_address(serve):
    srv = start(serve, "exchange")
    a = srv.account("tony")
    port = srv.port("imap", 993)
    out = subprocess.run(["curl", "-sS", "--cacert", srv.ca_file, "--resolve",
                          f"outlook.office365.com:{port}:127.0.0.1",
                          f"imaps://outlook.office365.com:{port}/Inbox;UID=3/;SECTION=HEADER",
                          "-u", f"{a['email']}:{a['password']}"], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert b"Subject: Q3 report (PDF attached)" in out.stdout
