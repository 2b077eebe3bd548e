"""`mailrig reproduce` as a process: for each documented failure, the user's settings run
against the provider's mock fail with the provider's reply (shown in the transcript), and the
corrected settings succeed (exit 0); correct settings give "nothing to reproduce" (exit 1);
account states reproduce the possible causes; a real client through its adapter; usage errors;
no credential in the output.

The binary: see mailrig_server.mailrig_binary. Run: /usr/bin/python3 -m pytest tests/py/test_reproduce.py
"""
import shutil
import subprocess

import pytest

from mailrig_server import mailrig_binary
from test_diagnose import (EXCHANGE_IN, EXCHANGE_OUT, EXCH, ICLOUD, ICLOUD_IN, ICLOUD_OUT, settings_text,
                           with_)

# The profiles' test secrets: none may appear in any output.
SECRETS = ("Apple-ID-passw0rd", "abcd-efgh-ijkl-mnop", "Contoso-pass-1", "tony-oauth-token", "J0hn-apple-id")


def reproduce(tmp_path, top, incoming, outgoing, *extra):
    f = tmp_path / "settings.ini"
    f.write_text(settings_text(top, incoming, outgoing))
    r = subprocess.run([mailrig_binary(), "reproduce", "--settings", str(f), "--stacked", *extra],
                       capture_output=True, text=True, timeout=120)
    for s in SECRETS:
        assert s not in r.stdout + r.stderr, s
    return r


def section(out, name):
    """The part of the output about one server, up to the next server or the result."""
    start = out.index(f"== {name} ==")
    ends = [i for i in (out.find("\n== ", start + 1), out.find("\nresult:", start)) if i > 0]
    return out[start:min(ends)]


def as_entered(sec):
    return sec[sec.index("--- as entered"):sec.index("--- corrected")]


# (name, top, incoming, outgoing, server, the provider's reply in the as-entered transcript or the
#  failure line)
CASES = [
    ("icloud account password", ICLOUD, with_(ICLOUD_IN, password="account"), None, "incoming",
     "S: a1 NO [AUTHENTICATIONFAILED] Authentication failed"),
    ("icloud smtp port 25", ICLOUD, None, with_(ICLOUD_OUT, port="25", security="none"), "outgoing",
     "S: 503 5.5.1 Error: authentication not enabled"),
    ("icloud smtp name part", ICLOUD, None, with_(ICLOUD_OUT, username="emilyparker"), "outgoing",
     "S: 535 5.7.8 Error: authentication failed: authentication failure"),
    ("icloud no POP", ICLOUD, with_(ICLOUD_IN, protocol="pop3", server="pop.mail.me.com", port="995"), None,
     "incoming", "got connection refused"),
    ("icloud imap 143", ICLOUD, with_(ICLOUD_IN, port="143", security="STARTTLS"), None, "incoming",
     "got connection refused"),
    ("icloud SSL/TLS on 587", dict(ICLOUD, client="thunderbird"), None, with_(ICLOUD_OUT, security="SSL/TLS"),
     "outgoing", "wrong version number"),
    ("icloud SSL on 587, client unknown", ICLOUD, None, with_(ICLOUD_OUT, security="SSL"), "outgoing",
     "wrong version number"),
    ("icloud wrong imap server", ICLOUD, with_(ICLOUD_IN, server="imap.icloud.com"), None, "incoming",
     "hostname-mismatch"),
    ("icloud oauth2", ICLOUD, with_(ICLOUD_IN, auth="OAuth2"), None, "incoming",
     "S: a1 NO [AUTHENTICATIONFAILED] Authentication failed"),
    ("icloud smtp without authentication", ICLOUD, None, with_(ICLOUD_OUT, auth="none"), "outgoing",
     "S: 530 5.7.0 Authentication required"),
    ("exchange name part", EXCH, with_(EXCHANGE_IN, username="tony"), None, "incoming", "S: a1 NO LOGIN failed."),
    ("exchange SPA", dict(EXCH, client="outlook"), with_(EXCHANGE_IN, auth="SPA"), None, "incoming",
     "S: a1 NO AUTHENTICATE failed."),
    ("exchange SPA smtp", dict(EXCH, client="outlook"), None, with_(EXCHANGE_OUT, auth="SPA"), "outgoing",
     "S: 504 5.7.4 Unrecognized authentication type"),
    ("exchange imap 143 without TLS", dict(EXCH, client="outlook"), with_(EXCHANGE_IN, port="143", security="None"),
     None, "incoming", "S: a1 BAD Command received in Invalid state."),
    ("exchange SSL/TLS on 587", dict(EXCH, client="k9"), None, with_(EXCHANGE_OUT, security="SSL/TLS"), "outgoing",
     "wrong version number"),
    ("exchange SSL on 143", dict(EXCH, client="outlook"), with_(EXCHANGE_IN, port="143", security="SSL"), None,
     "incoming", "wrong version number"),
    ("icloud plaintext on 993", ICLOUD, with_(ICLOUD_IN, security="none"), None, "incoming",
     "expected * OK, got nothing within the step timeout"),
    ("exchange app password", EXCH, None, with_(EXCHANGE_OUT, password="app-specific"), "outgoing",
     "S: 535 5.7.3 Authentication unsuccessful"),
    ("exchange smtp 465", EXCH, None, with_(EXCHANGE_OUT, port="465", security="SSL/TLS"), "outgoing",
     "got connection refused"),
]


@pytest.mark.parametrize("name,top,incoming,outgoing,server,reply", CASES, ids=[c[0] for c in CASES])
def test_documented_failure_reproduces(tmp_path, name, top, incoming, outgoing, server, reply):
    r = reproduce(tmp_path, top, incoming, outgoing)
    assert r.returncode == 0, r.stdout + r.stderr
    sec = section(r.stdout, server)
    assert reply in sec, sec
    assert "as entered: FAILED at scenario line" in sec
    assert "corrected:  succeeded" in sec
    assert "findings (mailrig diagnose):" in sec
    assert "result: the failure reproduced; the corrected settings succeed" in r.stdout


@pytest.mark.parametrize("provider", ["icloud", "exchange"])
def test_correct_settings_have_nothing_to_reproduce(tmp_path, provider):
    top, i, o = (ICLOUD, ICLOUD_IN, ICLOUD_OUT) if provider == "icloud" else (EXCH, EXCHANGE_IN, EXCHANGE_OUT)
    r = reproduce(tmp_path, top, i, o)
    assert r.returncode == 1, r.stdout
    assert f"result: nothing to reproduce: the settings work against the {provider} mock" in r.stdout
    assert r.stdout.count("as entered: succeeded") == 2
    assert "S: a2 OK" in r.stdout or "S: a2 OK [READ-WRITE]" in r.stdout  # the mailbox opened
    assert "S: 250 2.0.0" in r.stdout                                         # the message was taken


ACCOUNT_STATES = [
    ("not-signed-in", "incoming", "S: a2 BAD User is authenticated but not connected.", "exchange-sign-in-web-first"),
    ("protocols-disabled", "incoming", "S: a1 NO LOGIN failed.", "exchange-pop-imap-disabled"),
    ("basic-auth-disabled", "outgoing", "S: 535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
     "exchange-basic-auth-disabled"),
    ("smtp-auth-disabled", "outgoing", "SmtpClientAuthentication is disabled for the Tenant", "exchange-smtp-auth-disabled"),
]


@pytest.mark.parametrize("state,server,reply,cause", ACCOUNT_STATES, ids=[s[0] for s in ACCOUNT_STATES])
def test_account_state_reproduces_a_possible_cause(tmp_path, state, server, reply, cause):
    r = reproduce(tmp_path, EXCH, EXCHANGE_IN, EXCHANGE_OUT, "--account-state", state)
    assert r.returncode == 0, r.stdout + r.stderr
    sec = section(r.stdout, server)
    assert reply in as_entered(sec), sec
    assert f"{cause} (possible cause, made real by --account-state)" in sec
    assert "corrected:  succeeded" in sec
    if state == "basic-auth-disabled":  # the fix is OAuth2, the account stays as it is
        assert "AUTH XOAUTH2 <redacted>" in sec and "S: 235 2.7.0 Authentication successful" in sec


def test_side_by_side(tmp_path):
    f = tmp_path / "s.ini"
    f.write_text(settings_text(ICLOUD, with_(ICLOUD_IN, password="account"), None))
    r = subprocess.run([mailrig_binary(), "reproduce", "--settings", str(f), "--side-by-side"],
                       capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if "as entered" in line and "| corrected" in line)
    assert row.index("|") == (200 - 3) // 2 + 1
    assert any("NO [AUTHENTICATIONFAILED]" in line and "| " in line for line in r.stdout.splitlines())


def test_scenarios_and_work_dir_are_kept(tmp_path):
    work = tmp_path / "work"
    r = reproduce(tmp_path, ICLOUD, with_(ICLOUD_IN, password="account"), None, "--work", str(work),
                  "--show-scenarios")
    assert r.returncode == 0
    scn = (work / "incoming-as-entered.scn").read_text()
    assert "profile  icloud" in scn and "{account.password}" in scn and "connect  imap 993 implicit-tls" in scn
    assert "{account.app_password}" in (work / "incoming-corrected.scn").read_text()
    assert "--- scenario incoming as-entered" in r.stdout
    lint = subprocess.run([mailrig_binary(), "lint", str(work / "incoming-as-entered.scn")], capture_output=True,
                          text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.skipif(not shutil.which("msmtp"), reason="msmtp not installed")
def test_real_client_through_its_adapter(tmp_path):
    r = reproduce(tmp_path, ICLOUD, ICLOUD_IN, with_(ICLOUD_OUT, port="25", security="none"), "--client", "msmtp")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "client: msmtp" in r.stdout
    assert "== incoming ==" not in r.stdout  # msmtp speaks SMTP only
    sec = section(r.stdout, "outgoing")
    assert "expected the client to exit with status 0" in sec
    assert "the server does not support authentication" in sec  # msmtp's own words
    assert "corrected:  succeeded" in sec


@pytest.mark.parametrize("args,message", [
    (["--account-state", "sleepy"], "--account-state 'sleepy' (accepted: ok, not-signed-in"),
    (["--client", "nosuchclient"], "--client nosuchclient: no adapter clients/nosuchclient.ini"),
    (["--provider", "nosuch"], "no profile 'nosuch'"),
    (["--clinet", "x"], "did you mean --client?"),
])
def test_usage_errors(tmp_path, args, message):
    f = tmp_path / "s.ini"
    f.write_text(settings_text(ICLOUD, ICLOUD_IN, None))
    r = subprocess.run([mailrig_binary(), "reproduce", "--settings", str(f), *args], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr


def test_unknown_provider_needs_one(tmp_path):
    r = reproduce(tmp_path, {"email": "bob@example.org"}, {"server": "mail.example.org", "port": "993"}, None)
    assert r.returncode == 2
    assert "give --provider NAME" in r.stderr


def test_help():
    r = subprocess.run([mailrig_binary(), "reproduce", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for word in ("--account-state", "--client ADAPTER", "--ui-client", "Exit status: 0 the failure reproduced"):
        assert word in r.stdout


def test_fix_that_fails_too_says_so(tmp_path):
    """With IMAP closed on every port (a --set), no correction can work: exit 1, and why."""
    r = reproduce(tmp_path, ICLOUD, ICLOUD_IN, None, "--set", "listener.993.mode=closed")
    assert r.returncode == 1, r.stdout
    assert "result: the failure reproduced, but the corrected settings fail too" in r.stdout
    assert "corrected:  FAILED at scenario line" in r.stdout and "connection refused" in r.stdout


def test_json(tmp_path):
    import json
    r = reproduce(tmp_path, ICLOUD, with_(ICLOUD_IN, password="account"), ICLOUD_OUT, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)  # stdout is the document only
    assert set(d) == {"provider", "account", "client", "account_state", "servers", "findings", "result", "message"}
    assert d["provider"] == "icloud" and d["account"] == "emily" and d["client"] is None
    assert d["result"] == "reproduced"
    incoming, outgoing = d["servers"]
    assert incoming["server"] == "incoming"
    assert incoming["as_entered"]["verdict"] == "fail" and incoming["as_entered"]["failed_line"] > 0
    assert "a1 NO [AUTHENTICATIONFAILED]" in incoming["as_entered"]["message"]
    assert any("C: a1 LOGIN" in line and "<redacted>" in line for line in incoming["as_entered"]["transcript"])
    assert incoming["corrected"]["verdict"] == "pass"
    assert outgoing["as_entered"]["verdict"] == "pass" and outgoing["corrected"] is None
    assert {"id": "icloud-app-specific-password", "severity": "error", "server": "incoming",
            "kind": "setting"} in d["findings"]
    assert "reproduce: provider icloud" in r.stderr
