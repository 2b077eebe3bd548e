"""The SMTP session through real clients: Python smtplib, curl, openssl s_client, swaks, msmtp,
and raw sockets for what no client does on purpose (pipelined STARTTLS injection, BDAT).

Every listener mode of every shipped profile; the documented replies byte for byte against
the profile's templates (`mailrig profile show`); delivery into the store (read back through
POP3, and IMAP once this build has it); the Maildir spool holding the message before the 250.
"""
import base64
import email
import hmac
import os
import pathlib
import poplib
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from session_helpers import (assert_reply, has_imap_session, mock, smtp_line,  # noqa: F401
                             templates)

MSG = "From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello from the SMTP tests.\r\n.leading dot\r\n"


def ctx_for(srv):
    return ssl.create_default_context(cafile=srv.ca_file)


def T(mailrig, profile, key, section="smtp"):
    return templates(mailrig, profile, section)[key]


def starttls_client(srv, port=587, name="client.example"):
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp", port), local_hostname=name, timeout=10)
    s.ehlo()
    s.starttls(context=ctx_for(srv))
    s.ehlo()
    return s


def auth_plain(s, user, password):
    """One AUTH PLAIN (smtplib.login would try every advertised mechanism in turn, and each
    failure counts against the server's max_auth_failures)."""
    s.user, s.password = user, password
    return s.auth("PLAIN", s.auth_plain)


def pop3_messages(srv, user, password, port=995):
    p = poplib.POP3_SSL("127.0.0.1", srv.port("pop3", port), context=ctx_for(srv), timeout=10)
    p.user(user)
    p.pass_(password)
    msgs = [b"\r\n".join(p.retr(i + 1)[1]) for i in range(len(p.list()[1]))]
    p.quit()
    return msgs


def raw(port, data=b"", timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def read_until(sock, marker, limit=1 << 20):
    buf = b""
    while marker not in buf and len(buf) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


# ---- generic: the standards-clean host --------------------------------------------------------

@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_generic_587_starttls_auth_and_delivery(mock, mailrig, mech):
    srv = mock("generic")
    alice, bob = srv.account("alice"), srv.account("bob")
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp", 587), local_hostname="client.example", timeout=10)
    code, msg = s.ehlo()
    assert code == 250 and b"STARTTLS" in msg and b"AUTH" not in msg
    with pytest.raises(smtplib.SMTPNotSupportedError):
        s.login(alice["email"], alice["password"])
    s.starttls(context=ctx_for(srv))
    code, msg = s.ehlo()
    assert b"AUTH PLAIN LOGIN CRAM-MD5" in msg and b"STARTTLS" not in msg
    s.user, s.password = alice["email"], alice["password"]
    method = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech]
    code, msg = s.auth(mech, method, initial_response_ok=(mech != "LOGIN"))
    assert code == 235
    body = MSG.format(frm=alice["email"], to=bob["email"], subject=f"via {mech}")
    assert s.sendmail(alice["email"], [bob["email"], "someone@elsewhere.test"], body) == {}
    s.quit()
    msgs = pop3_messages(srv, bob["email"], bob["password"])
    got = [m for m in msgs if f"Subject: via {mech}".encode() in m]
    assert len(got) == 1
    m = got[0]
    assert m.startswith(b"Return-Path: <alice@example.test>\r\nReceived: from client.example ([127.0.0.1])")
    assert b"with ESMTPSA id" in m and m.endswith(b"\r\n.leading dot")
    t = srv.transcripts()
    assert f"event auth-ok mech={mech} user=alice@example.test form=full expected=full tls=1" in t


def test_generic_465_implicit_tls(mock):
    srv = mock("generic")
    bob = srv.account("bob")
    with smtplib.SMTP_SSL("127.0.0.1", srv.port("smtp", 465), context=ctx_for(srv), timeout=10) as s:
        s.login("robert@example.test", bob["password"])   # an alias is the full form too
        s.sendmail("robert@example.test", ["alice@example.test"], "Subject: alias\r\n\r\nx\r\n")
    assert "tls ok" in srv.transcripts()


def test_generic_25_mx(mock, mailrig):
    srv = mock("generic")
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp", 25), timeout=10)
    code, msg = s.ehlo("mx.sender.test")
    assert b"AUTH" not in msg
    code, msg = s.docmd("AUTH", "PLAIN")
    assert_reply(f"{code} {msg.decode()}", T(mailrig, "generic", "auth_not_offered"))
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        s.sendmail("bounce@sender.test", ["friend@elsewhere.test"], "Subject: relay\r\n\r\nx\r\n")
    code, msg = e.value.recipients["friend@elsewhere.test"]
    assert_reply(smtp_line((code, msg)), T(mailrig, "generic", "relay_denied"), to="friend@elsewhere.test")
    assert s.sendmail("", ["alice@example.test"], "Subject: mx\r\n\r\nx\r\n") == {}
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        s.sendmail("", ["nobody@example.test"], "Subject: mx\r\n\r\nx\r\n")
    assert_reply(smtp_line(e.value.recipients["nobody@example.test"]), T(mailrig, "generic", "rcpt_unknown"),
                 to="nobody@example.test")
    s.quit()


def test_unauthenticated_submission_refused(mock, mailrig):
    srv = mock("generic")
    s = starttls_client(srv)
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail("alice@example.test", ["bob@example.test"], "x")
    assert_reply(smtp_line(e.value), T(mailrig, "generic", "auth_required"))
    s.quit()


def test_spool_fsynced_before_250(mock, tmp_path):
    spool = tmp_path / "spool"
    srv = mock("generic", spool=spool)
    alice = srv.account("alice")
    s = starttls_client(srv)
    s.login(alice["email"], alice["password"])
    before = set((spool / "bob").rglob("*"))
    s.mail(alice["email"])
    s.rcpt("bob@example.test")
    code, _ = s.data("Subject: durable\r\n\r\nkept\r\n")
    assert code == 250
    # the reply has come: the message file must already be in bob's Maildir
    new = [p for p in set((spool / "bob").rglob("*")) - before
           if p.is_file() and p.parent.name in ("new", "cur")]
    assert len(new) == 1 and b"Subject: durable" in new[0].read_bytes()
    s.quit()


def test_imap_sees_delivery(mock, mailrig):
    if not has_imap_session(mailrig):
        pytest.skip("no IMAP session in this build yet (checked through POP3 and the store instead)")
    import imaplib
    srv = mock("generic")
    alice, bob = srv.account("alice"), srv.account("bob")
    s = starttls_client(srv)
    s.login(alice["email"], alice["password"])
    s.sendmail(alice["email"], [bob["email"]], "Subject: for imap\r\n\r\nx\r\n")
    s.quit()
    im = imaplib.IMAP4_SSL("127.0.0.1", srv.port("imap", 993), ssl_context=ctx_for(srv))
    im.login(bob["username"]["imap"], bob["password"])
    im.select("INBOX")
    typ, data = im.search(None, "SUBJECT", '"for imap"')
    assert typ == "OK" and data[0].split()
    im.logout()


# ---- iCloud ------------------------------------------------------------------------------------

def test_icloud_587_starttls_then_full_address_and_app_password(mock, mailrig):
    srv = mock("icloud")
    emily = srv.account("emily")
    failed = T(mailrig, "icloud", "auth_failed")
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp", 587), timeout=10)
    code, msg = s.ehlo()
    assert b"AUTH" not in msg and b"STARTTLS" in msg
    code, msg = s.docmd("AUTH", "PLAIN " + base64.b64encode(
        f"\0{emily['email']}\0{emily['app_password']}".encode()).decode())
    assert_reply(f"{code} {msg.decode()}", T(mailrig, "icloud", "auth_needs_tls"))
    s.starttls(context=ctx_for(srv))
    code, msg = s.ehlo()
    assert b"AUTH PLAIN LOGIN ATOKEN" in msg
    # the name part is refused (SMTP wants the full address)
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        auth_plain(s, "emilyparker", emily["app_password"])
    assert_reply(smtp_line(e.value), failed)
    # the Apple ID password is refused (app-specific passwords only)
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        auth_plain(s, emily["email"], emily["password"])
    assert_reply(smtp_line(e.value), failed)
    auth_plain(s, emily["email"], emily["app_password"])
    assert s.sendmail(emily["email"], ["johnappleseed@icloud.com"], "Subject: hi John\r\n\r\nx\r\n") == {}
    s.quit()
    t = srv.transcripts()
    assert "event auth-wrong-username-form mech=PLAIN user=emilyparker form=local expected=full" in t
    assert "event auth-wrong-password-kind mech=PLAIN user=emilyparker@icloud.com" in t


def test_icloud_465_and_25(mock, mailrig):
    srv = mock("icloud")
    emily = srv.account("emily")
    with smtplib.SMTP_SSL("127.0.0.1", srv.port("smtp", 465), context=ctx_for(srv), timeout=10) as s:
        s.login(emily["email"], emily["app_password"])
        s.sendmail("emilyparker@me.com", ["johnappleseed@icloud.com"], "Subject: alias\r\n\r\nx\r\n")
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp", 25), timeout=10)
    s.ehlo()
    s.starttls(context=ssl.create_default_context(cafile=srv.ca_file))
    code, msg = s.ehlo()
    assert b"AUTH" not in msg
    code, msg = s.docmd("AUTH", "LOGIN")
    assert_reply(f"{code} {msg.decode()}", T(mailrig, "icloud", "auth_not_offered"))
    assert s.sendmail("someone@gmail.test", ["emilyparker@icloud.com"], "Subject: inbound\r\n\r\nx\r\n") == {}
    s.quit()


def test_icloud_sender_check(mock, mailrig):
    srv = mock("icloud")
    emily = srv.account("emily")
    s = starttls_client(srv)
    s.login(emily["email"], emily["app_password"])
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail("johnappleseed@icloud.com", ["emilyparker@icloud.com"], "x")
    assert_reply(smtp_line(e.value), T(mailrig, "icloud", "sender_denied"))
    s.quit()


# ---- Exchange Online ------------------------------------------------------------------------------

def test_exchange_banner_ehlo_and_submission(mock, mailrig):
    srv = mock("exchange")
    tony = srv.account("tony")
    sock = socket.create_connection(("127.0.0.1", srv.port("smtp", 587)), timeout=10)
    banner = read_until(sock, b"\r\n").decode()
    assert_reply(banner, T(mailrig, "exchange", "greeting"))
    sock.close()
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp", 587), timeout=10)
    code, msg = s.ehlo("client")
    assert msg.split(b"\n")[1:] == [b"SIZE 157286400", b"PIPELINING", b"DSN", b"ENHANCEDSTATUSCODES",
                                     b"STARTTLS", b"8BITMIME", b"BINARYMIME", b"CHUNKING", b"SMTPUTF8"]
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail(tony["email"], ["ben@contoso.com"], "x")
    assert_reply(smtp_line(e.value), T(mailrig, "exchange", "auth_required"))
    code, msg = s.docmd("BOGUS", "command")
    assert_reply(f"{code} {msg.decode()}", T(mailrig, "exchange", "unknown_command"), text="BOGUS command")
    s.starttls(context=ctx_for(srv))
    # a command before EHLO after TLS
    code, msg = s.docmd("MAIL", "FROM:<tony@contoso.com>")
    assert_reply(f"{code} {msg.decode()}", T(mailrig, "exchange", "need_hello"))
    code, msg = s.ehlo("client")
    assert msg.split(b"\n")[1:] == [b"SIZE 157286400", b"PIPELINING", b"DSN", b"ENHANCEDSTATUSCODES",
                                     b"AUTH LOGIN XOAUTH2", b"8BITMIME", b"BINARYMIME", b"CHUNKING", b"SMTPUTF8"]
    # AUTH PLAIN and NTLM (Secure Password Authentication) are not offered
    for mech in ("PLAIN", "NTLM"):
        code, msg = s.docmd("AUTH", mech)
        assert_reply(f"{code} {msg.decode()}", T(mailrig, "exchange", "auth_mech_unsupported"))
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login("tony", tony["password"])      # the name part is not the user name here
    assert_reply(smtp_line(e.value), T(mailrig, "exchange", "auth_failed"))
    code, msg = s.docmd("AUTH", "LOGIN")
    assert (code, msg) == (334, b"VXNlcm5hbWU6")
    code, msg = s.docmd("*")
    assert_reply(f"{code} {msg.decode()}", T(mailrig, "exchange", "auth_cancelled"))
    s.login(tony["email"], tony["password"])   # smtplib picks LOGIN, user name as initial response
    assert s.sendmail(tony["email"], ["nina@contoso.com"], "From: tony@contoso.com\r\n\r\nhi\r\n") == {}
    s.quit()
    t = srv.transcripts()
    assert "S: 334 VXNlcm5hbWU6" in t and "S: 334 UGFzc3dvcmQ6" in t
    assert "event auth-cancelled mech=LOGIN" in t and "event auth-ok mech=LOGIN user=tony@contoso.com" in t


@pytest.mark.parametrize("account, key", [
    ("ben", "auth_basic_disabled"),      # basic-auth-disabled: 535 5.7.139 basic authentication
    ("sam", "auth_smtp_disabled"),       # smtp-auth-disabled: 535 5.7.139 SmtpClientAuthentication
    ("nina", "auth_failed"),             # not-signed-in: 535 5.7.3
])
def test_exchange_account_states(mock, mailrig, account, key):
    srv = mock("exchange")
    a = srv.account(account)
    s = starttls_client(srv)
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login(a["email"], a["password"])
    assert_reply(smtp_line(e.value), T(mailrig, "exchange", key))
    s.close()


def test_exchange_xoauth2_and_sender_check(mock, mailrig):
    srv = mock("exchange")
    ben = srv.account("ben")
    token = base64.b64encode(f"user={ben['email']}\x01auth=Bearer {ben['oauth_token']}\x01\x01".encode()).decode()
    s = starttls_client(srv)
    code, msg = s.docmd("AUTH", "XOAUTH2")
    assert (code, msg) == (334, b"")
    code, msg = s.docmd("eA==")          # not XOAUTH2
    assert_reply(f"{code} {msg.decode()}", T(mailrig, "exchange", "auth_bad_blob"))
    code, msg = s.docmd("AUTH", "XOAUTH2 " + token)  # one step
    assert code == 235
    s.mail(ben["email"])
    s.rcpt("tony@contoso.com")
    code, msg = s.data("From: Tony <tony@contoso.com>\r\nSubject: spoof\r\n\r\nx\r\n")
    assert_reply(f"{code} {msg.decode()}", T(mailrig, "exchange", "sender_denied"),
                 email=ben["email"], **{"from": "tony@contoso.com"})
    s.quit()


# ---- STARTTLS injection, pipelining, BDAT (raw sockets) ---------------------------------------------

@pytest.mark.parametrize("vulnerable", [False, True])
def test_starttls_injection(mock, vulnerable):
    sets = ["tls.starttls_vulnerable=yes"] if vulnerable else []
    srv = mock("generic", *sets)
    sock = socket.create_connection(("127.0.0.1", srv.port("smtp", 587)), timeout=10)
    read_until(sock, b"\r\n")
    sock.sendall(b"EHLO c\r\n")
    read_until(sock, b"250 SMTPUTF8\r\n")
    sock.sendall(b"STARTTLS\r\nEHLO injected\r\n")    # one write: the EHLO is pipelined plaintext
    assert read_until(sock, b"\r\n").startswith(b"220 ")
    tls = ctx_for(srv).wrap_socket(sock, server_hostname="smtp.example.test")
    if vulnerable:
        out = read_until(tls, b"250 SMTPUTF8\r\n")
        assert b"greets injected" in out
    tls.sendall(b"NOOP\r\n")
    out = read_until(tls, b"\r\n")
    if not vulnerable:
        assert out == b"250 2.0.0 OK\r\n"
    tls.sendall(b"QUIT\r\n")
    read_until(tls, b"\r\n")
    tls.close()
    t = srv.transcripts()
    if vulnerable:
        assert "event starttls-plaintext-kept bytes=15" in t and "starttls-plaintext-accepted" in t
    else:
        assert "event starttls-discarded-plaintext bytes=15" in t and "injected" not in t.split("tls ok")[1]


def test_pipelining_and_bdat(mock):
    srv = mock("generic")
    sock = socket.create_connection(("127.0.0.1", srv.port("smtp", 25)), timeout=10)
    read_until(sock, b"\r\n")
    sock.sendall(b"EHLO c\r\nMAIL FROM:<x@sender.test>\r\nRCPT TO:<alice@example.test>\r\n"
                 b"RCPT TO:<ghost@example.test>\r\nDATA\r\nSubject: piped\r\n\r\nbody\r\n.\r\n"
                 b"MAIL FROM:<x@sender.test> BODY=BINARYMIME\r\nRCPT TO:<bob@example.test>\r\n"
                 b"BDAT 15\r\nSubject: bdat\r\nBDAT 9 LAST\r\n\r\nchunk\r\nQUIT\r\n")
    out = read_until(sock, b"221 ").decode()
    codes = [l[:3] for l in out.split("\r\n") if l and l[3:4] == " "]
    assert codes == ["250", "250", "250", "550", "354", "250", "250", "250", "250", "250", "221"]
    assert "250 2.0.0 15 octets received" in out and "Message accepted (24 octets)" in out
    sock.close()
    bob = srv.account("bob")
    msgs = pop3_messages(srv, bob["email"], bob["password"])
    assert any(m.endswith(b"Subject: bdat\r\n\r\nchunk") for m in msgs)


def test_line_too_long_and_error_limit(mock, mailrig):
    srv = mock("generic", "smtp.max_errors=3")
    sock = socket.create_connection(("127.0.0.1", srv.port("smtp", 25)), timeout=10)
    read_until(sock, b"\r\n")
    sock.sendall(b"NOOP " + b"x" * 2000 + b"\r\n")
    assert read_until(sock, b"\r\n").decode().rstrip() == T(mailrig, "generic", "line_too_long")
    sock.sendall(b"FOO\r\nBAR\r\n")
    out = read_until(sock, b"Too many errors")
    out += read_until(sock, b"\r\n") if not out.endswith(b"\r\n") else b""
    assert b"421 4.7.0 smtp.example.test Too many errors, closing transmission channel\r\n" in out
    assert sock.recv(100) == b""
    sock.close()
    assert "event line-too-long limit=510" in srv.transcripts()


# ---- other real clients -----------------------------------------------------------------------------

def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (ci/deps clients)")


def test_curl_smtp_starttls_and_smtps(mock, tmp_path):
    need("curl")
    srv = mock("generic")
    alice = srv.account("alice")
    mail = tmp_path / "mail.txt"
    mail.write_text("From: alice@example.test\r\nTo: bob@example.test\r\nSubject: curl\r\n\r\nvia curl\r\n")
    for url in (f"smtp://127.0.0.1:{srv.port('smtp', 587)}", f"smtps://127.0.0.1:{srv.port('smtp', 465)}"):
        r = subprocess.run(["curl", "-sS", "-v", "--ssl-reqd", "--cacert", srv.ca_file, url,
                            "--user", f"{alice['email']}:{alice['password']}",
                            "--mail-from", alice["email"], "--mail-rcpt", "bob@example.test",
                            "-T", str(mail)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert "< 250 2.0.0 Message accepted" in r.stderr


def test_openssl_s_client_starttls(mock):
    need("openssl")
    srv = mock("generic")
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        f"127.0.0.1:{srv.port('smtp', 587)}", "-CAfile", srv.ca_file,
                        "-verify_return_error", "-quiet", "-ign_eof"],
                       input="EHLO c\r\nQUIT\r\n", capture_output=True, text=True, timeout=30)
    assert "250-AUTH PLAIN LOGIN CRAM-MD5" in r.stdout and "221 2.0.0" in r.stdout, r.stdout + r.stderr


def test_swaks(mock):
    need("swaks")
    srv = mock("generic")
    alice = srv.account("alice")
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{srv.port('smtp', 587)}", "--tls",
                        "--tls-ca-path", srv.ca_file, "--tls-verify",
                        "--auth", "PLAIN", "--auth-user", alice["email"], "--auth-password", alice["password"],
                        "--from", alice["email"], "--to", "bob@example.test"],
                       capture_output=True, text=True, timeout=60)
    if "requires Net::SSLeay" in r.stdout + r.stderr:
        pytest.skip("swaks has no TLS here (libnet-ssleay-perl)")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<~  250 2.0.0 Message accepted" in r.stdout and "<~  235 2.7.0 Authentication successful" in r.stdout


def test_msmtp(mock, tmp_path):
    need("msmtp")
    srv = mock("exchange")
    tony = srv.account("tony")
    conf = tmp_path / "msmtprc"
    conf.write_text(f"""defaults
tls on
tls_starttls on
tls_trust_file {srv.ca_file}
account exchange
host 127.0.0.1
port {srv.port('smtp', 587)}
auth on
user {tony['email']}
passwordeval echo {tony['password']}
from {tony['email']}
account default : exchange
""")
    conf.chmod(0o600)
    r = subprocess.run(["msmtp", "-C", str(conf), "nina@contoso.com"],
                       input=f"From: {tony['email']}\nSubject: msmtp\n\nhello\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # the sender check (data) takes it; the wrong password gets Exchange's reply
    conf.write_text(conf.read_text().replace(f"passwordeval echo {tony['password']}", "passwordeval echo wrong"))
    r = subprocess.run(["msmtp", "-C", str(conf), "nina@contoso.com"], input="Subject: x\n\nx\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "535 5.7.3 Authentication unsuccessful" in r.stderr


# ---- listener modes: the mistakes clients make with ports ----------------------------------------------

@pytest.mark.parametrize("profile", ["icloud", "exchange"])
def test_implicit_tls_sent_to_587(mock, profile):
    """The most common setup mistake: the client starts TLS on the STARTTLS port and gets the
    plaintext banner (OpenSSL: wrong version number), as PROVIDERS.md records."""
    srv = mock(profile)
    raw_sock = socket.create_connection(("127.0.0.1", srv.port("smtp", 587)), timeout=10)
    with pytest.raises(ssl.SSLError) as e:
        ctx_for(srv).wrap_socket(raw_sock, server_hostname="smtp.example.test")
    assert "WRONG_VERSION_NUMBER" in str(e.value).upper() or "wrong version" in str(e.value)
    raw_sock.close()
    assert "event tls-handshake-on-starttls-port" in srv.transcripts()


def test_plaintext_sent_to_465(mock):
    srv = mock("generic")
    s = socket.create_connection(("127.0.0.1", srv.port("smtp", 465)), timeout=10)
    s.sendall(b"EHLO c\r\n")
    try:
        assert s.recv(100) == b""      # generic: plaintext = close (unread bytes may make it a reset)
    except ConnectionResetError:
        pass
    s.close()
    assert "event plaintext-on-implicit-tls-port answer=close" in srv.transcripts()


def test_exchange_25_and_465(mock, mailrig):
    srv = mock("exchange")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port("smtp", 465)), timeout=5)
    # smtp.office365.com:25 is the same service as 587 (auth = yes there)
    tony = srv.account("tony")
    s = starttls_client(srv, port=25)
    s.login(tony["email"], tony["password"])
    assert s.sendmail(tony["email"], ["nina@contoso.com"], "From: tony@contoso.com\r\n\r\nx\r\n") == {}
    s.quit()


def test_transcripts_hold_no_credentials(mock):
    """Every mechanism, success and failure, both protocols: no password or token, plain or in
    base64, reaches a transcript (the mock fixture checks the same after every test)."""
    from session_helpers import check_no_secrets
    srv = mock("generic", "smtp.mechs_tls=PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
               "pop3.mechs_tls=PLAIN LOGIN XOAUTH2")
    alice = srv.account("alice")
    for pw in (alice["password"], "wrong-one"):
        s = starttls_client(srv)
        s.user, s.password = alice["email"], pw
        for mech, fn in (("PLAIN", s.auth_plain), ("LOGIN", s.auth_login)):
            for ir in (True, False):
                try:
                    s.auth(mech, fn, initial_response_ok=ir)
                    s.rset()
                    s.close()
                    s = starttls_client(srv)
                    s.user, s.password = alice["email"], pw
                except smtplib.SMTPAuthenticationError:
                    pass
        s.close()
    s = starttls_client(srv)
    x = base64.b64encode(f"user={alice['email']}\x01auth=Bearer {alice['oauth_token']}\x01\x01".encode()).decode()
    assert s.docmd("AUTH", "XOAUTH2 " + x)[0] == 235
    s.close()
    p = poplib.POP3_SSL("127.0.0.1", srv.port("pop3", 995), context=ctx_for(srv))
    p.user(alice["email"])
    p.pass_(alice["password"])
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", srv.port("pop3", 995), context=ctx_for(srv))
    p._putcmd("AUTH XOAUTH2")
    p._getline()
    p._shortcmd(x)
    p.quit()
    check_no_secrets(srv)
    t = srv.transcripts()
    assert "C: PASS <redacted>" in t and t.count("event auth-ok") >= 4
