"""`mailrig serve` as a process: options, ports file, errors, clean shutdown.

Protocol behaviour (what each listener says) is tested per protocol in test_imap.py,
test_smtp.py and test_pop3.py; this file covers the command itself.
"""
import json
import socket
import subprocess

import pytest

from mailrig_server import MailrigServer

ALL_CLOSED = [f"listener.{p}.mode=closed" for p in (993, 143, 587, 465, 25, 110, 995)]


def run_serve(mailrig, *args, timeout=30):
    return subprocess.run([mailrig, "serve", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_help(mailrig):
    r = run_serve(mailrig, "--help")
    assert r.returncode == 0
    assert "--port-base N" in r.stdout and "--ports-file FILE" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--port-base", "x"], "--port-base x: expected a number 0..65000"),
    (["--port-base", "70000"], "--port-base 70000: expected a number 0..65000"),
    (["--listen", "localhost"], "--listen localhost: not a numeric IPv4 or IPv6 address"),
    (["--seed", "-3"], "--seed -3: expected a non-negative number"),
    (["extra"], "unexpected argument 'extra'"),
    (["--profile", "nosuch"], "nosuch"),
    (["--set", "imap.usrname=full"], "usrname"),
])
def test_usage_errors(mailrig, args, message):
    r = run_serve(mailrig, *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr


def test_ports_file_and_summary(serve):
    srv = serve("exchange", *ALL_CLOSED)
    info = srv.info
    assert info["profile"] == "exchange"
    assert info["ca_file"].endswith("ca.crt")
    ports = {(l["protocol"], l["provider_port"]) for l in info["listeners"]}
    assert ("imap", 993) in ports and ("smtp", 587) in ports and ("pop3", 995) in ports
    for l in info["listeners"]:
        assert l["host"] == "127.0.0.1" and l["tls"] == "closed" and 1024 <= l["port"] <= 65535
    tony = srv.account("tony")
    assert tony["email"] == "tony@contoso.com"
    assert tony["username"] == {"imap": "tony@contoso.com", "smtp": "tony@contoso.com",
                                "pop3": "tony@contoso.com"}
    assert tony["state"] == "ok" and tony["password"]
    assert srv.account("ben")["state"] == "basic-auth-disabled"
    out = (srv.workdir / "serve.stdout").read_text()
    assert "listener protocol=imap provider_port=993 host=127.0.0.1 port=%d tls=closed" % \
        srv.port("imap", 993) in out
    assert out.rstrip().endswith("ready")


def test_closed_listener_refuses(serve):
    srv = serve("icloud", *ALL_CLOSED)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port("imap", 993)), timeout=5)


def test_port_in_use_is_an_environment_error(mailrig, tmp_path, pki_state):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    base = blocker.getsockname()[1] - 993
    if base < 1:
        pytest.fail("ephemeral port too low to derive a base")  # cannot happen on Linux
    r = run_serve(mailrig, "--profile", "icloud", "--state", str(pki_state),
                  "--port-base", str(base), *[a for s in ALL_CLOSED for a in ("--set", s)])
    blocker.close()
    assert r.returncode == 3, r.stderr
    assert "Address already in use" in r.stderr


def test_ports_file_removed_on_exit(tmp_path, pki_state, mailrig):
    srv = MailrigServer("generic", ALL_CLOSED, workdir=tmp_path, state_dir=pki_state,
                        binary=mailrig)
    srv.start()
    assert srv.ports_file.exists()
    json.loads(srv.ports_file.read_text())
    srv.stop()
    assert not srv.ports_file.exists()
