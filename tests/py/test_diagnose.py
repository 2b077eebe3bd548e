"""`mailrig diagnose` as a process: settings in, findings out (ids, severities, sources), for
every documented failure of both providers and several client vocabularies; correct settings
give no error; settings-file and flag errors with file:line; the JSON shape; the catalogue's
quotes checked against the provider documents they cite.

The binary: see mailrig_server.mailrig_binary. Run: /usr/bin/python3 -m pytest tests/py/test_diagnose.py
"""
import json
import pathlib
import re
import subprocess

import pytest

from mailrig_server import mailrig_binary

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path("/work/shared")

# ---- helpers -------------------------------------------------------------------------------------

ICLOUD_IN = {"protocol": "imap", "server": "imap.mail.me.com", "port": "993", "security": "SSL/TLS",
             "username": "emilyparker", "password": "app-specific", "auth": "normal password"}
ICLOUD_OUT = {"server": "smtp.mail.me.com", "port": "587", "security": "STARTTLS",
              "username": "emilyparker@icloud.com", "password": "app-specific", "auth": "normal password"}
EXCHANGE_IN = {"protocol": "imap", "server": "outlook.office365.com", "port": "993", "security": "SSL/TLS",
               "username": "tony@contoso.com", "password": "account", "auth": "normal password"}
EXCHANGE_OUT = {"server": "smtp.office365.com", "port": "587", "security": "STARTTLS",
                "username": "tony@contoso.com", "password": "account", "auth": "normal password"}


def settings_text(top, incoming, outgoing):
    lines = [f"{k} = {v}" for k, v in top.items()]
    for name, sec in (("incoming", incoming), ("outgoing", outgoing)):
        if sec is not None:
            lines.append(f"[{name}]")
            lines += [f"{k} = {v}" for k, v in sec.items()]
    return "\n".join(lines) + "\n"


def run(*args, stdin=None):
    return subprocess.run([mailrig_binary(), "diagnose", *args], capture_output=True, text=True, timeout=60,
                          input=stdin)


def diagnose(tmp_path, top, incoming, outgoing, *extra):
    f = tmp_path / "settings.ini"
    f.write_text(settings_text(top, incoming, outgoing))
    r = run("--settings", str(f), "--json", *extra)
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    return r, doc


def with_(base, **changes):
    d = dict(base)
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def ids(doc, key="findings"):
    return {(f["id"], f["server"]): f["severity"] for f in doc[key]}


# ---- the table: each documented failure --------------------------------------------------------
#   (name, top, incoming, outgoing, expected {(id, server): severity}, expected source doc, extra args)

ICLOUD = {"email": "emilyparker@icloud.com"}
EXCH = {"email": "tony@contoso.com"}
NO = "provider-docs/icloud-mail-server-settings.no.txt"
MS = "provider-docs/icloud-mail-imap-smtp-settings.ms.txt"
IS = "provider-docs/office365-exchange-pop-imap-clients.is.txt"

CASES = [
    ("icloud imap full address is the fallback", ICLOUD, with_(ICLOUD_IN, username="emilyparker@icloud.com"),
     ICLOUD_OUT, {("icloud-imap-username-full", "incoming"): "info"}, NO, ()),
    ("icloud imap full address, strict profile", ICLOUD, with_(ICLOUD_IN, username="emilyparker@icloud.com"),
     ICLOUD_OUT, {("icloud-imap-username", "incoming"): "error"}, NO, ("--set", "imap.username=local")),
    ("icloud smtp name part", ICLOUD, ICLOUD_IN, with_(ICLOUD_OUT, username="emilyparker"),
     {("icloud-smtp-username-full-address", "outgoing"): "error"}, NO, ()),
    ("icloud account password", ICLOUD, with_(ICLOUD_IN, password="account"), with_(ICLOUD_OUT, password="account"),
     {("icloud-app-specific-password", "incoming"): "error", ("icloud-app-specific-password", "outgoing"): "error"},
     NO, ()),
    ("icloud smtp port 25", ICLOUD, ICLOUD_IN, with_(ICLOUD_OUT, port="25"),
     {("icloud-smtp-port-25", "outgoing"): "error"}, NO, ()),
    ("icloud smtp SSL/TLS on 587 (thunderbird)", dict(ICLOUD, client="thunderbird"), ICLOUD_IN,
     with_(ICLOUD_OUT, security="SSL/TLS"), {("icloud-smtp-ssl-on-587", "outgoing"): "error"}, NO, ()),
    ("icloud smtp SSL on 587 (outlook 2007)", dict(ICLOUD, client="outlook"), ICLOUD_IN,
     with_(ICLOUD_OUT, security="SSL"), {("icloud-smtp-ssl-on-587", "outgoing"): "error"}, MS, ()),
    ("icloud smtp SSL on 587, client unknown", ICLOUD, ICLOUD_IN, with_(ICLOUD_OUT, security="SSL"),
     {("security-ambiguous", "outgoing"): "warning", ("icloud-smtp-ssl-on-587", "outgoing"): "warning"}, None, ()),
    ("icloud no POP", ICLOUD, with_(ICLOUD_IN, protocol="pop3", server="pop.mail.me.com", port="995"), ICLOUD_OUT,
     {("icloud-no-pop", "incoming"): "error"}, NO, ()),
    ("icloud wrong imap server", ICLOUD, with_(ICLOUD_IN, server="imap.icloud.com"), ICLOUD_OUT,
     {("icloud-imap-server-name", "incoming"): "error"}, NO, ()),
    ("icloud wrong smtp server", ICLOUD, ICLOUD_IN, with_(ICLOUD_OUT, server="smtp.icloud.com"),
     {("icloud-smtp-server-name", "outgoing"): "error"}, NO, ()),
    ("icloud imap 143", ICLOUD, with_(ICLOUD_IN, port="143", security="STARTTLS"), ICLOUD_OUT,
     {("icloud-imap-port-143", "incoming"): "error"}, NO, ()),
    ("icloud STARTTLS on 993 (thunderbird)", dict(ICLOUD, client="thunderbird"),
     with_(ICLOUD_IN, security="STARTTLS"), ICLOUD_OUT,
     {("icloud-imap-starttls-on-993", "incoming"): "error"}, NO, ()),
    ("icloud plaintext on 993", ICLOUD, with_(ICLOUD_IN, security="none"), ICLOUD_OUT,
     {("icloud-imap-ssl-required", "incoming"): "error"}, NO, ()),
    ("icloud STARTTLS on 465", dict(ICLOUD, client="thunderbird"), ICLOUD_IN,
     with_(ICLOUD_OUT, port="465", security="STARTTLS"), {("icloud-smtp-starttls-on-465", "outgoing"): "error"}, MS, ()),
    ("exchange SSL on 143 (outlook 2010)", dict(EXCH, client="outlook"), with_(EXCHANGE_IN, port="143", security="SSL"),
     EXCHANGE_OUT, {("exchange-ssl-on-143-110", "incoming"): "error", ("exchange-imap-port-143", "incoming"): "warning"},
     IS, ()),
    ("exchange STARTTLS on 995", EXCH, with_(EXCHANGE_IN, protocol="pop3", port="995", security="STARTTLS"),
     EXCHANGE_OUT, {("exchange-starttls-on-993-995", "incoming"): "error"}, IS, ()),
    ("exchange plaintext on 993", EXCH, with_(EXCHANGE_IN, security="none"), EXCHANGE_OUT,
     {("exchange-no-ssl-on-993-995", "incoming"): "error"}, IS, ()),
    ("icloud oauth2", ICLOUD, with_(ICLOUD_IN, auth="OAuth2"), ICLOUD_OUT,
     {("icloud-oauth2", "incoming"): "error"}, NO, ()),
    ("icloud smtp without authentication", ICLOUD, ICLOUD_IN, with_(ICLOUD_OUT, auth="none"),
     {("icloud-smtp-auth-required", "outgoing"): "error"}, NO, ()),
    ("icloud imap on the smtp port", ICLOUD, with_(ICLOUD_IN, port="587", security="STARTTLS"), ICLOUD_OUT,
     {("protocol-port", "incoming"): "error"}, "RFC 6409", ()),
    ("exchange name part", EXCH, with_(EXCHANGE_IN, username="tony"), with_(EXCHANGE_OUT, username="tony"),
     {("exchange-username-full-address", "incoming"): "error",
      ("exchange-username-full-address", "outgoing"): "error"}, IS, ()),
    ("exchange SPA", dict(EXCH, client="outlook"),
     with_(EXCHANGE_IN, auth="Require logon using Secure Password Authentication (SPA)"), EXCHANGE_OUT,
     {("exchange-spa", "incoming"): "error"}, IS, ()),
    ("exchange NTLM on smtp (thunderbird)", dict(EXCH, client="thunderbird"), EXCHANGE_IN,
     with_(EXCHANGE_OUT, auth="NTLM"), {("exchange-spa", "outgoing"): "error"}, IS, ()),
    ("exchange imap 143 without encryption", dict(EXCH, client="outlook"),
     with_(EXCHANGE_IN, port="143", security="None"), EXCHANGE_OUT,
     {("exchange-no-tls", "incoming"): "error", ("exchange-imap-port-143", "incoming"): "warning"}, IS, ()),
    ("exchange imap 143 with STARTTLS", EXCH, with_(EXCHANGE_IN, port="143", security="STARTTLS"), EXCHANGE_OUT,
     {("exchange-imap-port-143", "incoming"): "warning"}, IS, ()),
    ("exchange pop 110", EXCH, with_(EXCHANGE_IN, protocol="pop3", port="110", security="STARTTLS"), EXCHANGE_OUT,
     {("exchange-pop-port-110", "incoming"): "warning"}, IS, ()),
    ("exchange smtp 25", EXCH, EXCHANGE_IN, with_(EXCHANGE_OUT, port="25"),
     {("exchange-smtp-port-25", "outgoing"): "warning"}, IS, ()),
    ("exchange smtp SSL/TLS on 587", dict(EXCH, client="k9"), EXCHANGE_IN, with_(EXCHANGE_OUT, security="SSL/TLS"),
     {("exchange-smtp-ssl-on-587", "outgoing"): "error"}, IS, ()),
    ("exchange smtp 465", EXCH, EXCHANGE_IN, with_(EXCHANGE_OUT, port="465", security="SSL/TLS"),
     {("port-closed", "outgoing"): "error"}, None, ()),
    ("exchange app password", EXCH, with_(EXCHANGE_IN, password="app-specific"), EXCHANGE_OUT,
     {("exchange-account-password", "incoming"): "error"}, IS, ()),
    ("exchange different user names", EXCH, EXCHANGE_IN, with_(EXCHANGE_OUT, username="TONY@contoso.com.au"),
     {("exchange-same-credentials", "outgoing"): "warning"}, IS, ()),
    ("exchange server name", EXCH, with_(EXCHANGE_IN, server="outlook.office365.com"),
     with_(EXCHANGE_OUT, server="smtp-mail.outlook.com"), {("exchange-server-name", "outgoing"): "warning"}, IS, ()),
    ("outlook Auto on 587", dict(EXCH, client="outlook"), EXCHANGE_IN, with_(EXCHANGE_OUT, security="Auto"),
     {("starttls-optional", "outgoing"): "warning"}, "RFC 8314", ()),
    ("unknown provider, plaintext password", {"email": "bob@example.org"},
     {"server": "mail.example.org", "port": "143", "security": "none", "username": "bob"},
     {"server": "mail.example.org", "port": "587", "security": "none", "auth": "normal password"},
     {("plaintext-password", "incoming"): "warning", ("plaintext-password", "outgoing"): "warning"}, "RFC 8314", ()),
    ("unknown provider, STARTTLS on 993", {"email": "bob@example.org", "client": "evolution"},
     {"server": "mail.example.org", "port": "993", "security": "STARTTLS after connecting"}, None,
     {("tls-starttls-on-implicit-port", "incoming"): "error"}, "RFC 8314", ()),
    ("unknown provider, implicit TLS on 587", {"email": "bob@example.org", "client": "android"}, None,
     {"server": "mail.example.org", "port": "587", "security": "SSL/TLS"},
     {("tls-implicit-on-starttls-port", "outgoing"): "error"}, "RFC 3207", ()),
    ("conflicting provider evidence", {"email": "emilyparker@icloud.com"}, EXCHANGE_IN, None,
     {("provider-conflict", "account"): "warning"}, NO, ()),
]


@pytest.mark.parametrize("name,top,incoming,outgoing,expected,doc,extra", CASES, ids=[c[0] for c in CASES])
def test_documented_failure(tmp_path, name, top, incoming, outgoing, expected, doc, extra):
    r, d = diagnose(tmp_path, top, incoming, outgoing, *extra)
    got = ids(d)
    for key, sev in expected.items():
        assert got.get(key) == sev, f"{key} expected {sev}; got {got}"
    # exit status follows the error findings
    assert r.returncode == (1 if d["summary"]["error"] else 0)
    assert d["summary"]["error"] == sum(1 for f in d["findings"] if f["severity"] == "error")
    if doc:
        wanted = next(f for f in d["findings"] if (f["id"], f["server"]) in expected)
        assert any(s["doc"].startswith(doc) for s in wanted["sources"]), wanted["sources"]
    for f in d["findings"]:
        assert f["title"] and "{" not in f["title"] and "{" not in (f["fix"] or ""), f
        assert "{" not in (f["wire"] or "").replace("{{", ""), f


def test_replies_are_the_profiles(tmp_path):
    """The wire text quotes the provider's exact reply, from the profile's template."""
    _, d = diagnose(tmp_path, ICLOUD, with_(ICLOUD_IN, password="account"), with_(ICLOUD_OUT, port="25"))
    f = {x["id"] + "/" + x["server"]: x for x in d["findings"]}
    assert f["icloud-app-specific-password/incoming"]["reply"] == "A1 NO [AUTHENTICATIONFAILED] Authentication failed"
    assert f["icloud-app-specific-password/incoming"]["reply_key"] == "imap.auth_failed"
    assert f["icloud-smtp-port-25/outgoing"]["reply"] == "503 5.5.1 Error: authentication not enabled"
    _, d = diagnose(tmp_path, dict(EXCH, client="thunderbird"), EXCHANGE_IN, with_(EXCHANGE_OUT, security="SSL/TLS"))
    f = next(x for x in d["findings"] if x["id"] == "exchange-smtp-ssl-on-587")
    assert f["reply"].startswith("220 <be>.outlook.office365.com Microsoft ESMTP MAIL Service ready")
    assert "220 <be>.outlook.office365.com" in f["wire"]
    # a --set override changes the quoted reply: derived from the profile, not written down
    _, d = diagnose(tmp_path, ICLOUD, with_(ICLOUD_IN, password="account"), ICLOUD_OUT,
                    "--set", "imap.auth_failed={tag} NO nope")
    f = next(x for x in d["findings"] if x["id"] == "icloud-app-specific-password")
    assert f["reply"] == "A1 NO nope"


def test_possible_causes_are_apart(tmp_path):
    r, d = diagnose(tmp_path, EXCH, EXCHANGE_IN, EXCHANGE_OUT)
    assert r.returncode == 0 and d["summary"]["error"] == 0
    causes = ids(d, "possible_causes")
    assert set(causes) >= {("exchange-sign-in-web-first", "incoming"), ("exchange-pop-imap-disabled", "incoming"),
                           ("exchange-basic-auth-disabled", "incoming"), ("exchange-basic-auth-disabled", "outgoing"),
                           ("exchange-smtp-auth-disabled", "outgoing")}
    assert not any(f["id"].startswith("exchange-sign-in") for f in d["findings"])
    sign_in = next(f for f in d["possible_causes"] if f["id"] == "exchange-sign-in-web-first")
    assert sign_in["reply"] == "A1 BAD User is authenticated but not connected."
    assert any(s["doc"] == IS and s["line"] == 48 for s in sign_in["sources"])
    basic = next(f for f in d["possible_causes"] if f["id"] == "exchange-basic-auth-disabled" and f["server"] == "outgoing")
    assert "5.7.139" in basic["reply"]
    text = run("--settings", str(tmp_path / "settings.ini")).stdout
    assert "possible causes if the settings are right" in text


CLIENTS_OK = [
    # (client, incoming security, outgoing security on 587)
    ("thunderbird", "SSL/TLS", "STARTTLS"),
    ("apple-mail", "Use SSL", "Use SSL"),
    ("ios-mail", "Use SSL", "Use SSL"),
    ("outlook", "SSL/TLS", "STARTTLS"),
    ("outlook", "SSL", "TLS"),
    ("k9", "SSL/TLS", "STARTTLS"),
    ("android-gmail", "SSL/TLS (Accept all certificates)", "STARTTLS"),
    ("evolution", "TLS on a dedicated port", "STARTTLS after connecting"),
    (None, "SSL/TLS", "STARTTLS"),
]


@pytest.mark.parametrize("client,sec_in,sec_out", CLIENTS_OK)
@pytest.mark.parametrize("provider", ["icloud", "exchange"])
def test_correct_settings_have_no_error(tmp_path, client, sec_in, sec_out, provider):
    top = dict(ICLOUD if provider == "icloud" else EXCH)
    if client:
        top["client"] = client
    base_in, base_out = (ICLOUD_IN, ICLOUD_OUT) if provider == "icloud" else (EXCHANGE_IN, EXCHANGE_OUT)
    r, d = diagnose(tmp_path, top, with_(base_in, security=sec_in, auth=None),
                    with_(base_out, security=sec_out, auth=None))
    assert r.returncode == 0, d["findings"]
    assert d["summary"]["error"] == 0 and d["summary"]["warning"] == 0, d["findings"]
    assert d["provider"] == {**d["provider"], "name": provider, "how": "inferred"}
    if client:
        assert d["settings"]["incoming"]["reading"]["client"] in (client, "generic")


def test_reading_explains_the_clients_meaning(tmp_path):
    """Apple Mail's "Use SSL" on 587 is STARTTLS; Outlook's "SSL" there starts TLS at once."""
    _, d = diagnose(tmp_path, dict(ICLOUD, client="apple-mail"), ICLOUD_IN, with_(ICLOUD_OUT, security="Use SSL"))
    rd = d["settings"]["outgoing"]["reading"]
    assert rd["wire"] == "starttls" and rd["client"] == "apple-mail" and "innerexception" in rd["source"]
    assert rd["at"].endswith(tuple(f"vocabulary.ini:{n}" for n in range(1, 400)))
    _, d = diagnose(tmp_path, dict(ICLOUD, client="outlook"), ICLOUD_IN, with_(ICLOUD_OUT, security="SSL"))
    rd = d["settings"]["outgoing"]["reading"]
    assert rd["wire"] == "implicit-tls" and rd["client"] == "outlook"
    f = next(x for x in d["findings"] if x["id"] == "icloud-smtp-ssl-on-587")
    assert "outlook" in f["detail"] and "implicit TLS" in f["detail"]
    # the fix is in the client's own words
    assert "STARTTLS" in f["fix"]
    _, d = diagnose(tmp_path, dict(ICLOUD, client="apple-mail"), ICLOUD_IN, with_(ICLOUD_OUT, port="25", security="Use SSL"))
    assert ids(d)[("icloud-smtp-port-25", "outgoing")] == "error"


def test_cannot_tell_is_explicit(tmp_path):
    r, d = diagnose(tmp_path, {}, {"server": "mail.example.net"}, None)
    what = {(c["server"], c["what"]) for c in d["cannot_tell"]}
    assert ("account", "provider") in what and ("account", "email") in what
    assert ("incoming", "protocol") in what
    assert ("outgoing", "outgoing") in what
    assert r.returncode == 0 and not d["findings"]


def test_unknown_provider_says_what_was_not_checked(tmp_path):
    _, d = diagnose(tmp_path, {"email": "a@example.org"}, {"server": "imap.example.org", "port": "993",
                                                           "security": "SSL/TLS", "username": "a"}, None)
    why = next(c["why"] for c in d["cannot_tell"] if c["what"] == "provider")
    assert "server names, user name forms and password kinds were not checked" in why
    assert d["provider"]["how"] == "unknown" and d["provider"]["name"] is None


def test_provider_given_and_evidence(tmp_path):
    _, d = diagnose(tmp_path, {"email": "boss@contoso.com", "provider": "exchange"}, EXCHANGE_IN, EXCHANGE_OUT)
    assert d["provider"]["how"] == "given" and d["provider"]["name"] == "exchange"
    _, d = diagnose(tmp_path, {"email": "boss@contoso.com"}, EXCHANGE_IN, EXCHANGE_OUT)
    ev = d["provider"]["evidence"]
    assert d["provider"]["how"] == "inferred" and len(ev) == 2
    assert [e["at"].rsplit("/", 1)[1] for e in ev] == ["settings.ini:4", "settings.ini:11"]
    assert all(e["provider"] == "exchange" for e in ev)
    assert ev[0]["what"].startswith("incoming server outlook.office365.com is the IMAP host of")
    _, d = diagnose(tmp_path, {"email": "emilyparker@mac.com"}, None, None)
    assert d["provider"]["name"] == "icloud" and "mac.com" in d["provider"]["evidence"][0]["what"]


def test_conflict_is_not_resolved(tmp_path):
    _, d = diagnose(tmp_path, {"email": "emilyparker@icloud.com"}, EXCHANGE_IN, ICLOUD_OUT)
    assert d["provider"]["how"] == "conflict" and d["provider"]["name"] is None
    f = next(x for x in d["findings"] if x["id"] == "provider-conflict")
    assert "icloud" in f["detail"] and "exchange" in f["detail"]
    assert not any(x["id"].startswith(("icloud-", "exchange-")) for x in d["findings"])


# ---- flags ----------------------------------------------------------------------------------------

def test_flags_equal_the_file(tmp_path):
    _, from_file = diagnose(tmp_path, ICLOUD, with_(ICLOUD_IN, password="account"), with_(ICLOUD_OUT, port="25"))
    args = ["--json", "--email", "emilyparker@icloud.com"]
    for prefix, sec in (("in", with_(ICLOUD_IN, password="account")), ("out", with_(ICLOUD_OUT, port="25"))):
        for k, v in sec.items():
            args += [f"--{prefix}-{k}={v}"] if k == "security" else [f"--{prefix}-{k}", v]
    r = run(*args)
    assert r.returncode == 1, r.stderr
    assert ids(json.loads(r.stdout)) == ids(from_file)


def test_flags_override_the_file(tmp_path):
    f = tmp_path / "s.ini"
    f.write_text(settings_text(ICLOUD, ICLOUD_IN, with_(ICLOUD_OUT, port="25")))
    assert run("--settings", str(f)).returncode == 1
    r = run("--settings", str(f), "--out-port", "465", "--out-security", "SSL/TLS")
    assert r.returncode == 0, r.stdout


@pytest.mark.parametrize("args,message", [
    ([], "nothing to judge"),
    (["--in-protocl", "imap"], "did you mean --in-protocol?"),
    (["--in-port", "99999"], "--in-port=99999: '99999' is not a port (accepted: 1-65535"),
    (["--in-port"], "--in-port needs a value"),
    (["--in-password", "hunter2secret"], "--in-password=...: password says which password"),
    (["--in-protocol", "smtp"], "accepted: imap, pop3"),
    (["--client", "thunderbrd", "--in-port", "993"], "did you mean 'thunderbird'?"),
    (["--in-security", "SSL-TLS", "--in-port", "993"], "did you mean \"SSL/TLS\"?"),
    (["stray"], "unexpected argument 'stray'"),
    (["--provider", "gmail", "--in-port", "993"], "no profile 'gmail'"),
])
def test_flag_errors(args, message):
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr
    assert "hunter2secret" not in r.stderr + r.stdout


def test_log_slot():
    r = run("--log", "/nonexistent.log")
    assert r.returncode == 2
    assert "log" in r.stderr


def test_help():
    r = run("--help")
    assert r.returncode == 0
    for word in ("--settings", "--in-security", "--out-auth", "--json", "Exit status"):
        assert word in r.stdout


# ---- settings file errors -------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("email = a@icloud.com\n[incoming]\nprotcol = imap\n", "s.ini:3: unknown key 'protcol' in [incoming] (did you mean 'protocol'?"),
    ("emial = a@icloud.com\n", "s.ini:1: unknown key 'emial' at the top level (did you mean 'email'?"),
    ("[incomming]\nport = 993\n", "s.ini:1: unknown section [incomming] (did you mean [incoming]?"),
    ("[incoming]\nport = 0993x\n", "s.ini:2: '0993x' is not a port (accepted: 1-65535"),
    ("[incoming]\nport = 993\nport = 995\n", "s.ini:3: 'port' set twice in this section (first at line 2)"),
    ("[incoming]\npassword = Sup3rSecret\n", "s.ini:2: password says which password was entered"),
    ("[incoming]\nserver = imaps://imap.mail.me.com\n", "s.ini:2: 'imaps://imap.mail.me.com' is not a host name"),
    ("email = not-an-address\n", "s.ini:1: 'not-an-address' is not an email address"),
    ("[outgoing]\nprotocol = imap\n", "s.ini:2: outgoing protocol 'imap' (accepted: smtp)"),
    ("[incoming]\nport 993\n", "s.ini:2: expected 'key = value'"),
    ("port = 993\n", "s.ini:1: 'port' belongs in [incoming] or [outgoing]"),
    ("client = thunderbird\n[incoming]\nport = 993\nsecurity = SSL/TSL\n",
     "s.ini:4: unknown security label \"SSL/TSL\" for thunderbird (did you mean \"SSL/TLS\"?"),
    ("[incoming]\nauth = kerberos please\n", "s.ini:2: unknown authentication label \"kerberos please\""),
    ("[incoming]\nport = \xff\n", "s.ini:2: control characters or invalid UTF-8"),
])
def test_settings_file_errors(tmp_path, text, message):
    f = tmp_path / "s.ini"
    f.write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text else text.replace("\xff", "").encode() + b"")
    if "\xff" in text:
        f.write_bytes(b"[incoming]\nport = \xff\n")
    r = run("--settings", str(f))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert "Sup3rSecret" not in r.stderr
    assert r.stdout == ""


def test_settings_file_missing(tmp_path):
    r = run("--settings", str(tmp_path / "nope.ini"))
    assert r.returncode == 2 and "nope.ini: cannot open" in r.stderr


def test_issue_example_file(tmp_path):
    """The settings file of issue 6, verbatim (comments included)."""
    f = tmp_path / "issue.ini"
    f.write_text("""email = emilyparker@icloud.com
client = thunderbird            ; optional: whose UI vocabulary "security" uses
[incoming]
protocol = imap
server = imap.mail.me.com
port = 993
security = SSL/TLS
username = emilyparker@icloud.com
password = account              ; account | app-specific
auth = normal password          ; normal password | SPA | NTLM | OAuth2
[outgoing]
server = smtp.mail.me.com
port = 25
security = none
username = emilyparker
password = account
auth = normal password
""")
    r = run("--settings", str(f), "--json")
    assert r.returncode == 1
    d = json.loads(r.stdout)
    assert ids(d) == {("icloud-app-specific-password", "incoming"): "error",
                      ("icloud-imap-username-full", "incoming"): "info",
                      ("icloud-smtp-port-25", "outgoing"): "error",
                      ("icloud-smtp-username-full-address", "outgoing"): "error",
                      ("icloud-app-specific-password", "outgoing"): "error"}
    port25 = next(x for x in d["findings"] if x["id"] == "icloud-smtp-port-25")
    assert port25["at"] == f"{f}:13" and port25["field"] == "port"
    assert port25["fix"].startswith("port = 587, security = STARTTLS")
    text = run("--settings", str(f)).stdout
    assert text.index("icloud-app-specific-password") < text.index("icloud-imap-username-full")  # errors first
    assert "Passord: Generer et app-spesifikt passord." in text and "Password: generate" in text


# ---- JSON shape -----------------------------------------------------------------------------------

def test_json_shape(tmp_path):
    _, d = diagnose(tmp_path, ICLOUD, with_(ICLOUD_IN, password="account"), ICLOUD_OUT)
    assert set(d) == {"email", "client", "provider", "settings", "findings", "possible_causes", "cannot_tell",
                      "summary"}
    assert set(d["provider"]) == {"name", "how", "profile", "evidence"}
    assert set(d["summary"]) == {"error", "warning", "info", "possible_causes", "cannot_tell", "dropped"}
    sv = d["settings"]["incoming"]
    assert set(sv) == {"given", "protocol", "protocol_inferred", "server", "port", "security", "reading", "username",
                       "password", "auth_label", "auth"}
    assert sv["port"] == 993 and sv["password"] == "account" and sv["auth"] == "normal"
    for f in d["findings"] + d["possible_causes"]:
        assert set(f) == {"id", "severity", "trigger", "server", "field", "at", "title", "detail", "wire", "reply",
                          "reply_key", "fix", "sources"}
        assert f["severity"] in ("error", "warning", "info")
        for s in f["sources"]:
            assert set(s) == {"doc", "line", "section", "tag", "lang", "quote", "gloss"}


# ---- the catalogue --------------------------------------------------------------------------------

def catalogue():
    r = run("--catalogue")
    assert r.returncode == 0
    return json.loads(r.stdout)


def test_catalogue_ids_are_unique_and_cited():
    rules = catalogue()
    names = [r["id"] for r in rules]
    assert len(names) == len(set(names))
    for r in rules:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r["id"]), r["id"]
        if r["provider"]:
            assert r["sources"], f"{r['id']}: a provider rule cites its documentation"
            assert r["id"].startswith(r["provider"] + "-")


@pytest.mark.skipif(not (SHARED / "provider-docs").is_dir(), reason="provider documents not on this machine")
def test_catalogue_quotes_are_verbatim():
    """Every quoted line of a provider document is on that line, character for character."""
    checked = 0
    for r in catalogue():
        for s in r["sources"]:
            if s["doc"].startswith("provider-docs/") and s["quote"]:
                lines = (SHARED / s["doc"]).read_text(encoding="utf-8").split("\n")
                assert s["quote"] in lines[s["line"] - 1], (r["id"], s["doc"], s["line"], s["quote"])
                # a gloss unless the quote reads the same in English ("Port: 993")
                assert s["gloss"] or s["lang"] == "en" or re.fullmatch(r"Port: \d+", s["quote"]), (r["id"], s)
                checked += 1
            elif s["doc"] == "PROVIDERS.md" and s["quote"]:
                text = (SHARED / "PROVIDERS.md").read_text(encoding="utf-8")
                probe = s["quote"].split("[I:")[0].strip().rstrip(".")[:40]
                assert probe in text, (r["id"], s["quote"])
                checked += 1
    assert checked >= 40
