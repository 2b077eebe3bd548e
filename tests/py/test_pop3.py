"""The POP3 session through real clients: Python poplib, curl (pop3s://, pop3:// with STLS),
openssl s_client -starttls pop3, fetchmail, and raw sockets (STLS injection).

Every listener mode of every shipped profile (iCloud has no POP: its ports refuse), the
documented Exchange replies byte for byte against the profile's templates, the account
states, the maildrop lock, and the UPDATE state (DELE then QUIT expunges).
"""
import base64
import poplib
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from session_helpers import assert_reply, mock, templates  # noqa: F401


def ctx_for(srv):
    return ssl.create_default_context(cafile=srv.ca_file)


def T(mailrig, profile, key):
    return templates(mailrig, profile, "pop3")[key]


def pop3s(srv, port=995):
    return poplib.POP3_SSL("127.0.0.1", srv.port("pop3", port), context=ctx_for(srv), timeout=10)


def err_text(e):
    msg = e.args[0]
    return msg.decode() if isinstance(msg, bytes) else str(msg)


def read_until(sock, marker):
    buf = b""
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def test_generic_995_maildrop(mock, mailrig):
    srv = mock("generic")
    alice = srv.account("alice")
    p = pop3s(srv)
    assert p.getwelcome() == b"+OK POP3 server ready"
    caps = p.capa()
    assert "USER" in caps and caps["SASL"] == ["PLAIN", "LOGIN", "CRAM-MD5"] and "STLS" not in caps
    p.user(alice["email"])
    resp = p.pass_(alice["password"])
    count, size = p.stat()
    assert_reply(resp, T(mailrig, "generic", "pass_ok"), user=alice["email"], n=count, size=size)
    assert count == 6
    resp, listing, _ = p.list()
    assert len(listing) == count and sum(int(l.split()[1]) for l in listing) == size
    resp, uids, _ = p.uidl()
    assert len(set(u.split()[1] for u in uids)) == count
    resp, lines, octets = p.retr(1)
    assert resp == f"+OK {listing[0].split()[1].decode()} octets".encode()
    assert octets >= int(listing[0].split()[1])
    resp, top, _ = p.top(2, 0)
    assert b"" in top and top.index(b"") == len(top) - 1      # the header and its empty line only
    p.dele(1)
    with pytest.raises(poplib.error_proto) as e:
        p.retr(1)
    assert_reply(err_text(e.value), T(mailrig, "generic", "no_such_message"))
    p.rset()
    p.dele(2)
    p.quit()
    p = pop3s(srv)
    p.user(alice["email"])
    p.pass_(alice["password"])
    assert p.stat()[0] == count - 1
    p.quit()
    assert "event pop3-update deleted=1" in srv.transcripts()


def test_generic_110_stls(mock, mailrig):
    srv = mock("generic")
    bob = srv.account("bob")
    p = poplib.POP3("127.0.0.1", srv.port("pop3", 110), timeout=10)
    caps = p.capa()
    assert "STLS" in caps and "USER" not in caps and "SASL" not in caps
    with pytest.raises(poplib.error_proto) as e:
        p.user(bob["email"])
    assert_reply(err_text(e.value), T(mailrig, "generic", "login_disabled"))
    p.stls(context=ctx_for(srv))
    caps = p.capa()
    assert "USER" in caps and "STLS" not in caps
    p.user("robert@example.test")
    p.pass_(bob["password"])
    assert p.stat()[0] == 6
    p.quit()
    assert "event command-needs-tls command=USER" in srv.transcripts()


def test_stls_injection(mock):
    srv = mock("generic")
    sock = socket.create_connection(("127.0.0.1", srv.port("pop3", 110)), timeout=10)
    read_until(sock, b"\r\n")
    sock.sendall(b"STLS\r\nUSER injected\r\n")
    assert read_until(sock, b"\r\n") == b"+OK Begin TLS negotiation\r\n"
    tls = ctx_for(srv).wrap_socket(sock, server_hostname="pop.example.test")
    tls.sendall(b"NOOP\r\n")
    assert read_until(tls, b"\r\n") == b"-ERR Command not valid in this state\r\n"
    tls.sendall(b"QUIT\r\n")
    read_until(tls, b"\r\n")
    tls.close()
    assert "event starttls-discarded-plaintext bytes=15" in srv.transcripts()


def test_sasl_plain_and_maildrop_lock(mock, mailrig):
    srv = mock("generic")
    alice = srv.account("alice")
    p = pop3s(srv)
    blob = base64.b64encode(f"\0{alice['email']}\0{alice['password']}".encode()).decode()
    assert_reply(p._shortcmd("AUTH PLAIN " + blob), T(mailrig, "generic", "auth_ok"))
    q = pop3s(srv)
    q.user(alice["email"])
    with pytest.raises(poplib.error_proto) as e:
        q.pass_(alice["password"])
    assert_reply(err_text(e.value), T(mailrig, "generic", "in_use"))
    p.quit()
    q.user(alice["email"])
    q.pass_(alice["password"])      # free again
    q.quit()


def test_exchange_995(mock, mailrig):
    srv = mock("exchange")
    tony = srv.account("tony")
    p = pop3s(srv)
    greeting = p.getwelcome().decode()
    assert_reply(greeting, T(mailrig, "exchange", "greeting"))
    fqdn = base64.b64decode(greeting.rsplit("[", 1)[1].rstrip("]")).decode("utf-16-le")
    assert fqdn.endswith(".prod.outlook.com")
    caps = p.capa()
    assert caps["SASL"] == ["PLAIN", "XOAUTH2"] and "USER" in caps
    p.user(tony["email"])
    assert_reply(p.pass_(tony["password"]), T(mailrig, "exchange", "pass_ok"))
    p.stat()
    p.quit()


@pytest.mark.parametrize("account, password", [
    ("pat", None),       # pop-disabled (protocols-disabled)
    ("ben", None),       # basic-auth-disabled
    ("nina", None),      # not-signed-in
    ("tony", "wrong"),   # a bad password
    ("tony@", None),     # the name part instead of the full address
])
def test_exchange_failures(mock, mailrig, account, password):
    srv = mock("exchange")
    a = srv.account(account.rstrip("@"))
    user = a["email"].split("@")[0] if account.endswith("@") else a["email"]
    p = pop3s(srv)
    p.user(user)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(password or a["password"])
    assert err_text(e.value) == "-ERR Logon failure: unknown user name or bad password."
    assert_reply(err_text(e.value), T(mailrig, "exchange", "auth_failed"))
    p.quit()


def test_exchange_xoauth2_two_step_only(mock, mailrig):
    srv = mock("exchange")
    tony = srv.account("tony")
    blob = base64.b64encode(f"user={tony['email']}\x01auth=Bearer {tony['oauth_token']}\x01\x01".encode()).decode()
    p = pop3s(srv)
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH XOAUTH2 " + blob)
    assert err_text(e.value) == "-ERR Authentication failure: unknown user name or bad password."
    p._putcmd("AUTH XOAUTH2")
    assert p._getline()[0] == b"+ "
    assert p._shortcmd(blob) == b"+OK User successfully authenticated."
    p.quit()
    assert "event initial-response-refused mech=XOAUTH2" in srv.transcripts()


def test_exchange_110_stls(mock, mailrig):
    srv = mock("exchange")
    p = poplib.POP3("127.0.0.1", srv.port("pop3", 110), timeout=10)
    with pytest.raises(poplib.error_proto) as e:
        p.user("tony@contoso.com")
    assert err_text(e.value) == "-ERR Command is not valid in this state."
    p.stls(context=ctx_for(srv))
    p.user("tony@contoso.com")
    p.pass_(srv.account("tony")["password"])
    p.quit()


def test_icloud_has_no_pop(mock):
    srv = mock("icloud")
    for port in (995, 110):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port("pop3", port)), timeout=5)


def test_smtp_delivery_seen_by_pop3(mock):
    srv = mock("exchange")
    tony, nina = srv.account("tony"), srv.account("nina")
    pat = srv.account("pat")
    s = smtplib.SMTP("127.0.0.1", srv.port("smtp", 587), timeout=10)
    s.starttls(context=ctx_for(srv))
    s.login(tony["email"], tony["password"])
    s.sendmail(tony["email"], [pat["email"], "tony@contoso.com"], "From: tony@contoso.com\r\nSubject: to self\r\n\r\nx\r\n")
    s.quit()
    p = pop3s(srv)
    p.user(tony["email"])
    p.pass_(tony["password"])
    n = p.stat()[0]
    assert b"Subject: to self" in b"\r\n".join(p.retr(n)[1])
    p.quit()
    _ = nina


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed (ci/deps clients)")


def test_curl_pop3(mock):
    need("curl")
    srv = mock("generic")
    alice = srv.account("alice")
    user = f"{alice['email']}:{alice['password']}"
    r = subprocess.run(["curl", "-sS", "-v", "--cacert", srv.ca_file, "--user", user,
                        f"pop3s://127.0.0.1:{srv.port('pop3', 995)}/"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("1 ")
    r = subprocess.run(["curl", "-sS", "-v", "--ssl-reqd", "--cacert", srv.ca_file, "--user", user,
                        f"pop3://127.0.0.1:{srv.port('pop3', 110)}/1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "Subject:" in r.stdout and "> STLS" in r.stderr


def test_openssl_s_client_starttls_pop3(mock):
    need("openssl")
    srv = mock("generic")
    r = subprocess.run(["openssl", "s_client", "-starttls", "pop3", "-connect",
                        f"127.0.0.1:{srv.port('pop3', 110)}", "-CAfile", srv.ca_file,
                        "-verify_return_error", "-quiet", "-ign_eof"],
                       input="CAPA\r\nQUIT\r\n", capture_output=True, text=True, timeout=30)
    assert "SASL PLAIN LOGIN CRAM-MD5" in r.stdout and "+OK POP3 server signing off" in r.stdout, r.stdout + r.stderr


def test_fetchmail(mock, tmp_path):
    need("fetchmail")
    srv = mock("generic")
    bob = srv.account("bob")
    out = tmp_path / "mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f"""set no syslog
poll pop.example.test via 127.0.0.1 service {srv.port('pop3', 995)} protocol POP3 auth password
  user '{bob['email']}' password '{bob['password']}' ssl sslcertck sslcertfile '{srv.ca_file}'
  sslcommonname pop.example.test
  keep mda "cat >> {out}"
""")
    rc.chmod(0o600)
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nodetach", "--pidfile", str(tmp_path / "pid")],
                       capture_output=True, text=True, timeout=60, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_text().count("Subject:") >= 6
