"""`mailrig certs`: run the command, then check what it made with tools that are not ours:
`openssl verify`, `openssl x509`, Python's ssl module (strict X.509 checks) and curl.

The binary comes from the `mailrig` fixture (conftest.py).
Run from anywhere: /usr/bin/python3 -m pytest tests/py/test_certs.py
"""
import http.server
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ICLOUD = ["imap.mail.me.com", "smtp.mail.me.com", "p00-imap.mail.me.com"]


def run(mailrig, *args, env=None):
    return subprocess.run([mailrig, "certs", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def certs(mailrig, state, *args):
    """Run `mailrig certs` for the iCloud hosts and return its "key value" lines as a dict."""
    hosts = [a for h in ICLOUD for a in ("--host", h)]
    r = run(mailrig, "--state", str(state), "--profile", "icloud", *hosts, *args)
    assert r.returncode == 0, r.stderr
    return dict(line.split(" ", 1) for line in r.stdout.splitlines())


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def pki(mailrig, tmp_path):
    return certs(mailrig, tmp_path / "state")


def test_text_output_is_stable(pki, tmp_path):
    d = str(tmp_path / "state" / "pki" / "ecdsa-p256")
    assert list(pki) == [
        "state-dir", "pki-dir", "key-type", "ca-file", "untrusted-ca-file", "wrong-host.cert",
        "wrong-host.key", "profile", "icloud.names", "icloud.valid.cert", "icloud.valid.key",
        "icloud.untrusted.cert", "icloud.untrusted.key", "icloud.expired.cert",
        "icloud.expired.key"]
    assert pki["pki-dir"] == d
    assert pki["ca-file"] == d + "/ca.crt"
    assert pki["icloud.valid.cert"] == d + "/profiles/icloud/valid.crt"
    assert pki["icloud.names"] == ",".join(ICLOUD + ["localhost", "127.0.0.1", "::1"])


def test_valid_chain_verifies(pki):
    for check in (["-verify_hostname", h] for h in ICLOUD + ["localhost"]):
        r = openssl("verify", "-CAfile", pki["ca-file"], "-purpose", "sslserver", *check,
                    pki["icloud.valid.cert"])
        assert r.returncode == 0 and r.stdout.endswith(": OK\n"), (check, r.stdout, r.stderr)
    for ip in ("127.0.0.1", "::1"):
        r = openssl("verify", "-CAfile", pki["ca-file"], "-verify_ip", ip,
                    pki["icloud.valid.cert"])
        assert r.returncode == 0, r.stderr


def test_subject_alt_names(pki):
    r = openssl("x509", "-noout", "-ext", "subjectAltName", "-in", pki["icloud.valid.cert"])
    assert r.returncode == 0, r.stderr
    san = r.stdout.splitlines()[1].strip().split(", ")
    assert san == ["DNS:imap.mail.me.com", "DNS:smtp.mail.me.com", "DNS:p00-imap.mail.me.com",
                   "DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"]
    r = openssl("x509", "-noout", "-ext", "subjectAltName", "-in", pki["wrong-host.cert"])
    assert "DNS:wrong-host.mailrig.invalid" in r.stdout and "localhost" not in r.stdout
    r = openssl("x509", "-noout", "-subject", "-in", pki["ca-file"])
    assert "mailrig test CA" in r.stdout and "TEST AUTHORITY" in r.stdout


@pytest.mark.parametrize("which, extra, message", [
    ("icloud.untrusted.cert", [], "unable to get local issuer certificate"),
    ("wrong-host.cert", ["-verify_hostname", "imap.mail.me.com"], "hostname mismatch"),
    ("icloud.expired.cert", [], "certificate has expired"),
])
def test_bad_certificates_fail(pki, which, extra, message):
    r = openssl("verify", "-CAfile", pki["ca-file"], *extra, pki[which])
    assert r.returncode != 0
    assert message in r.stdout + r.stderr


def test_untrusted_chain_is_a_real_chain(pki):
    r = openssl("verify", "-CAfile", pki["untrusted-ca-file"], "-verify_hostname",
                "imap.mail.me.com", pki["icloud.untrusted.cert"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_modes(pki):
    assert stat.S_IMODE(os.stat(pki["pki-dir"]).st_mode) == 0o700
    for key in ("icloud.valid.key", "icloud.expired.key", "wrong-host.key"):
        assert stat.S_IMODE(os.stat(pki[key]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pki["icloud.valid.cert"]).st_mode) == 0o644


def test_reuse_and_regenerate(mailrig, tmp_path):
    state = tmp_path / "state"
    first = certs(mailrig, state)
    before = {k: open(v, "rb").read() for k, v in first.items() if k.endswith((".cert", ".key"))}
    r = run(mailrig, "--state", str(state), "--profile", "icloud",
            *[a for h in ICLOUD for a in ("--host", h)])
    assert r.returncode == 0 and r.stderr == ""
    assert {k: open(first[k], "rb").read() for k in before} == before
    r = run(mailrig, "--state", str(state), "--profile", "icloud", "--host", "p01-imap.mail.me.com")
    assert r.returncode == 0
    assert "generated profiles/icloud/valid.crt: lacks the name p01-imap.mail.me.com" in r.stderr
    assert open(first["icloud.valid.key"], "rb").read() == before["icloud.valid.key"]
    r = run(mailrig, "--state", str(state), "--force")
    assert "generated ca.crt: forced" in r.stderr
    assert open(first["ca-file"], "rb").read() != before.get("ca-file", b"")


def test_json(mailrig, pki, tmp_path):
    hosts = [a for h in ICLOUD for a in ("--host", h)]
    r = run(mailrig, "--state", str(tmp_path / "state"), "--json", "--profile", "icloud", *hosts)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["ca_file"] == pki["ca-file"] and j["key_type"] == "ecdsa-p256"
    assert j["generated"] == 0
    (p,) = j["profiles"]
    assert p["name"] == "icloud" and p["names"] == pki["icloud.names"].split(",")
    assert p["valid"] == {"cert": pki["icloud.valid.cert"], "key": pki["icloud.valid.key"]}
    assert p["expired"]["cert"] == pki["icloud.expired.cert"]
    assert j["wrong_host"]["names"] == ["wrong-host.mailrig.invalid"]


def test_rsa(mailrig, tmp_path):
    pki = certs(mailrig, tmp_path / "state", "--key-type", "rsa")
    assert pki["key-type"] == "rsa-2048" and pki["pki-dir"].endswith("/pki/rsa-2048")
    r = openssl("x509", "-noout", "-text", "-in", pki["icloud.valid.cert"])
    assert "rsaEncryption" in r.stdout and "(2048 bit)" in r.stdout
    r = openssl("verify", "-CAfile", pki["ca-file"], "-verify_hostname", "smtp.mail.me.com",
                pki["icloud.valid.cert"])
    assert r.returncode == 0


def test_default_state_dir(mailrig, tmp_path):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "xdg"))
    r = run(mailrig, env=env)
    assert r.returncode == 0, r.stderr
    assert f"state-dir {tmp_path}/xdg/mailrig\n" in r.stdout
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    env.pop("XDG_STATE_HOME", None)
    r = run(mailrig, env=env)
    assert f"state-dir {tmp_path}/home/.local/state/mailrig\n" in r.stdout


def test_errors_and_exit_codes(mailrig, tmp_path):
    r = run(mailrig, "--state", str(tmp_path), "--host", "exa mple.com")
    assert r.returncode == 2
    assert r.stderr == ("mailrig certs: profile default: host name 'exa mple.com': byte 0x20 "
                        "is not allowed (letters, digits, '-' and '.' only)\n")
    r = run(mailrig, "--state", str(tmp_path), "--profile", "../x")
    assert r.returncode == 2 and "profile name '../x'" in r.stderr
    r = run(mailrig, "--bogus")
    assert r.returncode == 2 and "'--bogus'" in r.stderr
    (tmp_path / "file").write_text("")
    r = run(mailrig, "--state", str(tmp_path / "file"))
    assert r.returncode == 3
    assert r.stderr == f"mailrig certs: {tmp_path}/file: mkdir: Not a directory\n"
    r = run(mailrig, "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: mailrig certs")


# ---------------------------------------------------------------------------------------------
# Real clients against a server that uses the certificates.

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class _Server:
    """An HTTPS server on a free loopback port serving one certificate."""

    def __init__(self, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                            do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(pki):
    servers = []

    def start(variant):
        cert, key = (pki["wrong-host.cert"], pki["wrong-host.key"]) if variant == "wrong-host" \
            else (pki[f"icloud.{variant}.cert"], pki[f"icloud.{variant}.key"])
        servers.append(_Server(cert, key))
        return servers[-1].port

    yield start
    for s in servers:
        s.close()


def python_client(ca, port, host):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # the default from Python 3.13 on
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            return tls.version()


@pytest.mark.parametrize("variant, message", [
    ("valid", None),
    ("untrusted", "unable to get local issuer certificate"),
    ("wrong-host", "Hostname mismatch"),
    ("expired", "certificate has expired"),
])
def test_python_ssl_client(pki, serve, variant, message):
    port = serve(variant)
    if message is None:
        assert python_client(pki["ca-file"], port, "imap.mail.me.com") in ("TLSv1.2", "TLSv1.3")
        return
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        python_client(pki["ca-file"], port, "imap.mail.me.com")
    assert message in str(e.value)


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
@pytest.mark.parametrize("variant, status", [("valid", 0), ("untrusted", 60),
                                             ("wrong-host", 60), ("expired", 60)])
def test_curl_client(pki, serve, variant, status):
    port = serve(variant)
    r = subprocess.run(["curl", "-sS", "--cacert", pki["ca-file"], "--resolve",
                        f"smtp.mail.me.com:{port}:127.0.0.1",
                        f"https://smtp.mail.me.com:{port}/"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == status, r.stderr
    if status == 0:
        assert r.stdout == "ok"
