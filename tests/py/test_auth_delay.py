"""auth_delay_ms: a session waits before an authentication failure reply (Exchange answers a
refused SMTP AUTH about 5 s after the password), on the event loop's timer, reading nothing
meanwhile. Asserted on the order of events and with lower bounds only: the reply comes after
the delay, a command pipelined behind the failure is read only after the reply has gone out,
and other connections are served while one waits."""
import base64
import re
import socket
import ssl
import time

import pytest

from session_helpers import mock  # noqa: F401

BAD = {
    "smtp": (465, b"EHLO client.example\r\n", b"250 ",
             b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0wrong") + b"\r\nNOOP\r\n",
             "535 ", "250 "),
    "imap": (993, b"", b"",
             b"a1 LOGIN alice@example.test wrong\r\na2 NOOP\r\n",
             "a1 NO ", "a2 OK"),
    "pop3": (995, b"", b"",
             b"USER alice@example.test\r\nPASS wrong\r\nCAPA\r\n",
             "-ERR ", "+OK"),
}


def tls_conn(srv, proto, port):
    ctx = ssl.create_default_context(cafile=srv.ca_file)
    sock = socket.create_connection(("127.0.0.1", srv.port(proto, port)), timeout=30)
    return ctx.wrap_socket(sock, server_hostname="localhost")


def read_until(sock, pattern):
    buf = b""
    while not re.search(pattern, buf):
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed; got {buf!r}")
        buf += chunk
    return buf


def records(transcript):
    """(time, text) of every record, in file order."""
    out = []
    for line in transcript.splitlines():
        m = re.match(r"(\d+\.\d+) conn \d+ (.*)", line)
        if m:
            out.append((float(m.group(1)), m.group(2)))
    return out


@pytest.mark.parametrize("proto", ["smtp", "imap", "pop3"])
def test_failure_reply_waits_and_input_waits_with_it(mock, proto):
    port, hello, hello_end, bad, fail, after = BAD[proto]
    srv = mock("generic", f"{proto}.auth_delay_ms=300")
    s = tls_conn(srv, proto, port)
    read_until(s, rb"\r\n")  # greeting
    if hello:
        s.sendall(hello)
        read_until(s, rb"(^|\n)" + re.escape(hello_end) + rb".*\r\n")
    if proto == "pop3":
        s.sendall(b"USER alice@example.test\r\n")
        read_until(s, rb"\+OK.*\r\n")
        bad = bad.split(b"\r\n", 1)[1]
    t0 = time.monotonic()
    s.sendall(bad)  # the failing credentials and, pipelined behind them, a NOOP (POP3: CAPA)
    got = read_until(s, rb"(^|\n)" + re.escape(after.encode()) + rb".*\r\n").decode()
    elapsed = time.monotonic() - t0
    s.close()
    assert got.index(fail) < got.index(after)
    assert elapsed >= 0.3  # lower bound only
    recs = records(srv.transcripts())
    texts = [t for _, t in recs]
    delayed = next(i for i, t in enumerate(texts) if t.startswith("event reply-delayed ms=300"))
    reply = next(i for i, t in enumerate(texts) if t.startswith("S: " + fail))
    word = "CAPA" if proto == "pop3" else "NOOP"
    noop = next(i for i, t in enumerate(texts) if t.startswith("C: ") and word in t)
    # the session read the next command only once the delayed reply had gone out
    assert delayed < reply < noop, texts
    assert recs[reply][0] - recs[delayed][0] >= 0.3


def test_other_connections_are_served_during_a_delay(mock):
    """One connection waits (10 minutes: it never gets its reply in this test) while another
    logs in and works; then the server stops cleanly with the timer still pending."""
    srv = mock("generic", "smtp.auth_delay_ms=600000")
    waiting = tls_conn(srv, "smtp", 465)
    read_until(waiting, rb"\r\n")
    waiting.sendall(b"EHLO a.example\r\n")
    read_until(waiting, rb"(^|\n)250 .*\r\n")
    waiting.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0wrong") + b"\r\n")
    other = tls_conn(srv, "smtp", 465)
    read_until(other, rb"\r\n")
    other.sendall(b"EHLO b.example\r\nAUTH PLAIN " +
                  base64.b64encode(b"\0alice@example.test\0alice-password-1") + b"\r\n")
    assert b"235 " in read_until(other, rb"(^|\n)235 .*\r\n")
    other.sendall(b"QUIT\r\n")
    read_until(other, rb"221 .*\r\n")
    other.close()
    # the first connection's server side saw the AUTH and is holding the reply
    deadline = time.monotonic() + 30  # the connection log (stderr) is flushed per event
    while "event reply-delayed ms=600000" not in srv.stderr():
        assert time.monotonic() < deadline, srv.stderr()
        time.sleep(0.02)
    waiting.setblocking(False)
    with pytest.raises((BlockingIOError, ssl.SSLWantReadError)):
        waiting.recv(1)  # nothing yet: the reply is held
    waiting.close()
    srv.stop()  # SIGTERM with a delay timer pending: exits 0, nothing from the sanitizers


def test_close_after_a_delayed_failure(mock):
    """iCloud closes after a failed login: the close waits for the held reply, which arrives
    whole before the connection ends."""
    srv = mock("icloud", "imap.auth_delay_ms=300")
    emily = srv.account("emily")
    s = tls_conn(srv, "imap", 993)
    read_until(s, rb"\r\n")
    t0 = time.monotonic()
    s.sendall(f'a1 LOGIN emilyparker "{emily["password"]}"\r\n'.encode())
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    elapsed = time.monotonic() - t0
    s.close()
    assert got.decode().startswith("a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n"), got
    assert elapsed >= 0.3
    t = srv.transcripts()
    assert "event reply-delayed ms=300" in t and " close auth-failed" in t
