"""`mailrig probe HOST` against the mocks (`mailrig serve --port-base 0`; the ports file gives
the mapping): what each listener is, the recommended settings per profile, the mismatch
signals, the loopback-only rule and the timeout of a silent port."""
import json
import subprocess

import pytest

# the system trust store (Debian ca-certificates): it does not know the mailrig test CA
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


def probe(mailrig, *args, timeout=60):
    return subprocess.run([mailrig, "probe", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def probe_json(mailrig, srv, *args, server_name=None):
    extra = ["--server-name", server_name] if server_name else []
    r = probe(mailrig, "127.0.0.1", "--json", "--ports-file", str(srv.ports_file),
              "--ca-file", srv.ca_file, *extra, *args)
    assert r.returncode in (0, 1), r.stderr
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return json.loads(r.stdout)


def modes(res):
    return {p["provider_port"]: p["mode"] for p in res["ports"]}


def recommended(res):
    return {proto: (r["provider_port"], r["security"]) if r else None
            for proto, r in res["recommended"].items()}


def attempt(res, port, start):
    for a in res["attempts"]:
        if a["provider_port"] == port and a["start"] == start:
            return a
    raise KeyError((port, start))


def codes(res):
    return {(s["code"], s["provider_port"]) for s in res["signals"]}


def test_icloud(mailrig, serve):
    srv = serve("icloud")
    res = probe_json(mailrig, srv, server_name="imap.mail.me.com")
    assert modes(res) == {993: "implicit-tls", 143: "closed", 465: "implicit-tls",
                          587: "starttls", 25: "starttls", 995: "closed", 110: "closed"}
    assert recommended(res) == {"imap": (993, "implicit"), "smtp": (587, "starttls"),
                                "pop3": None}
    imap = attempt(res, 993, "tls")
    assert imap["tls"]["ok"] and imap["tls"]["verify"] == "ok" and imap["tls"]["host_match"]
    assert imap["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert "imap.mail.me.com" in imap["tls"]["subject"]
    assert imap["greeting"].startswith("* OK [CAPABILITY XAPPLEPUSHSERVICE")
    assert imap["after_tls"]["auth"] == ["ATOKEN", "PLAIN"]
    sub = attempt(res, 587, "plain")
    assert sub["before_tls"]["auth"] == [] and sub["before_tls"]["starttls"]
    assert sub["plaintext_login"] is False
    assert sub["starttls"] == "ok" and sub["tls"]["ok"]
    assert "PLAIN" in sub["after_tls"]["auth"] and "LOGIN" in sub["after_tls"]["auth"]
    assert attempt(res, 587, "tls")["outcome"] == "plaintext"
    assert attempt(res, 995, "tls")["outcome"] == "refused"
    c = codes(res)
    assert ("plaintext-answer-to-tls", 587) in c
    assert ("no-auth-on-25", 25) in c
    assert ("no-service", 0) in c
    text = {(s["code"], s["provider_port"]): s["text"] for s in res["signals"]}
    assert text[("plaintext-answer-to-tls", 587)].startswith(
        "587 answered a ClientHello with a plaintext greeting")
    no_auth = text[("no-auth-on-25", 25)]
    assert "port 25 offers no AUTH" in no_auth and "use 587 (STARTTLS)" in no_auth
    assert not {code for code, _ in text} & {"certificate-untrusted", "certificate-name"}


def test_exchange(mailrig, serve):
    srv = serve("exchange")
    res = probe_json(mailrig, srv, server_name="outlook.office365.com")
    assert modes(res) == {993: "implicit-tls", 143: "starttls", 465: "closed",
                          587: "starttls", 25: "starttls", 995: "implicit-tls", 110: "starttls"}
    assert recommended(res) == {"imap": (993, "implicit"), "smtp": (587, "starttls"),
                                "pop3": (995, "implicit")}
    sub = attempt(res, 587, "plain")
    assert sub["after_tls"]["auth"] == ["LOGIN", "XOAUTH2"]
    assert sub["before_tls"]["auth"] == []
    settings = {(s["provider_port"], s["security"]): s for s in res["settings"]}
    assert not settings[(465, "implicit")]["connects"]
    assert settings[(465, "implicit")]["why"] == "connection refused"


def test_generic_modes_and_mismatches(mailrig, serve):
    """A silent 143, implicit TLS on 587 and a plaintext-only 110, each named for what it is."""
    srv = serve("generic", "listener.143.mode=silent", "listener.587.mode=implicit-tls",
                "listener.110.mode=plain")
    res = probe_json(mailrig, srv, "--timeout", "1s")
    assert modes(res) == {993: "implicit-tls", 143: "silent", 465: "implicit-tls",
                          587: "implicit-tls", 25: "starttls", 995: "implicit-tls", 110: "plain"}
    assert recommended(res) == {"imap": (993, "implicit"), "smtp": (465, "implicit"),
                                "pop3": (995, "implicit")}
    c = codes(res)
    assert ("silent", 143) in c
    assert ("implicit-tls-on-plaintext-port", 587) in c
    assert ("plaintext-answer-to-tls", 110) in c
    settings = {(s["provider_port"], s["security"]): s for s in res["settings"]}
    assert "expects TLS from the first byte" in settings[(587, "starttls")]["why"]
    assert settings[(110, "starttls")]["why"] == "STARTTLS not offered"


def test_silent_port_times_out_within_the_timeout(mailrig, serve):
    srv = serve("icloud", "listener.143.mode=silent")
    res = probe_json(mailrig, srv, "--timeout", "700ms")
    assert res["timeout_ms"] == 700
    for start in ("plain", "tls"):
        a = attempt(res, 143, start)
        assert a["outcome"] == "timeout" and a["greeting"] is None
        assert a["elapsed_ms"] >= 700  # it did wait for the whole timeout (a lower bound only)
    settings = {(s["provider_port"], s["security"]): s for s in res["settings"]}
    assert settings[(143, "starttls")]["why"].startswith("no answer in 0.7 s")


def test_no_credentials_are_sent(mailrig, serve):
    srv = serve("generic", "listener.143.mode=plain", "imap.login=always")
    res = probe_json(mailrig, srv)
    # LOGIN works in clear on this 143: said, not tried
    assert attempt(res, 143, "plain")["plaintext_login"] is True
    assert ("auth-before-tls", 143) in codes(res)
    transcripts = srv.transcripts()
    client_lines = [l.split(" C: ", 1)[1] for l in transcripts.splitlines() if " C: " in l]
    assert client_lines, transcripts
    for line in client_lines:
        word = line.split()[1 if line.startswith("p") else 0].upper() if line.split() else ""
        assert word not in ("LOGIN", "AUTHENTICATE", "AUTH", "USER", "PASS"), line
    assert " event auth-" not in transcripts


def test_certificate_problems_are_signalled(mailrig, serve):
    srv = serve("generic")
    r = probe(mailrig, "127.0.0.1", "--json", "--ports-file", str(srv.ports_file),
              "--server-name", "imap.wrong.example", "--ca-file", SYSTEM_CAS)
    res = json.loads(r.stdout)
    text = {s["code"]: s["text"] for s in res["signals"]}
    # --ca-file overrides the ports file's CA: the system store does not know the test CA
    assert "does not verify" in text["certificate-untrusted"]
    assert "does not name imap.wrong.example" in text["certificate-name"]
    # still usable once the CA is trusted: the recommendation says so
    assert res["recommended"]["imap"]["certificate_problem"] is True


def test_ports_file_brings_its_test_ca(mailrig, serve):
    srv = serve("icloud")
    r = probe(mailrig, "127.0.0.1", "--json", "--ports-file", str(srv.ports_file))
    res = json.loads(r.stdout)
    codes = {s["code"] for s in res["signals"]}
    assert "certificate-untrusted" not in codes, res["signals"]
    assert res["recommended"]["imap"]["certificate_problem"] is False


def test_human_table(mailrig, serve):
    srv = serve("icloud")
    r = probe(mailrig, "localhost", "--ports-file", str(srv.ports_file), "--ca-file", srv.ca_file)
    assert r.returncode == 0, r.stderr
    assert "Recommended\n  imap 993 SSL/TLS\n  smtp 587 STARTTLS\n  pop3 none\n" in r.stdout
    assert "587 answered a ClientHello with a plaintext greeting" in r.stdout


def test_nothing_usable_exits_1(mailrig, serve):
    srv = serve("icloud", *[f"listener.{p}.mode=closed" for p in (993, 587, 465, 25)])
    r = probe(mailrig, "127.0.0.1", "--ports-file", str(srv.ports_file))
    assert r.returncode == 1, r.stdout + r.stderr


def test_port_map_and_base(mailrig, serve):
    srv = serve("icloud")
    imap = srv.port("imap", 993)
    r = probe(mailrig, "127.0.0.1", "--json", "--ca-file", srv.ca_file,
              "--port-base", "1", "--port-map", f"993={imap}", "--timeout", "500ms")
    res = json.loads(r.stdout)
    assert attempt(res, 993, "tls")["port"] == imap
    assert attempt(res, 993, "tls")["outcome"] == "tls"
    assert attempt(res, 587, "plain")["port"] == 588  # base + provider port


def test_ipv6_loopback(mailrig, serve):
    srv = serve("exchange", listen="::1")
    for host in ("::1", "[::1]"):
        r = probe(mailrig, host, "--json", "--ports-file", str(srv.ports_file), "--ca-file",
                  srv.ca_file)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        assert recommended(res) == {"imap": (993, "implicit"), "smtp": (587, "starttls"),
                                    "pop3": (995, "implicit")}
        assert attempt(res, 993, "tls")["tls"]["host_match"]  # the certificate has ::1


def test_unreadable_ca_file_is_an_environment_error(mailrig, tmp_path):
    r = probe(mailrig, "127.0.0.1", "--ca-file", str(tmp_path / "missing.crt"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "missing.crt" in r.stderr


@pytest.mark.parametrize("host", ["imap.mail.me.com", "10.0.0.1", "0.0.0.0", "192.168.1.1",
                                  "::ffff:10.0.0.1", "2001:db8::1", "127.0.0.1.nip.io", ""])
def test_non_loopback_host_is_refused(mailrig, host):
    r = probe(mailrig, host)
    assert r.returncode == 2
    assert r.stdout == ""
    if host:
        assert f"refusing to probe '{host}'" in r.stderr
        assert "never contacts a real provider" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["127.0.0.1", "--port-map", "993"], "--port-map: '993' is not PROVIDER=LOCAL"),
    (["127.0.0.1", "--port-map", "994=1"], "994 is not a port probe tries"),
    (["127.0.0.1", "--port-base", "x"], "--port-base x: expected a number 0..65000"),
    (["127.0.0.1", "--timeout", "forever"], "--timeout forever"),
    (["127.0.0.1", "--ports-file", "/nonexistent/ports.json"], "/nonexistent/ports.json"),
    (["127.0.0.1", "::1"], "unexpected argument '::1'"),
    ([], "which host?"),
])
def test_usage_errors(mailrig, args, message):
    r = probe(mailrig, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr


def test_help(mailrig):
    r = probe(mailrig, "--help")
    assert r.returncode == 0 and "--port-map LIST" in r.stdout and "loopback" not in r.stderr
