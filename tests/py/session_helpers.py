"""Helpers for the SMTP and POP3 session tests (test_smtp.py, test_pop3.py).

- `templates(mailrig, profile, section)`: the reply templates of a profile as `mailrig profile
  show` prints them, and `reply_re(template, **values)`: a regular expression matching every
  expansion of it (per-connection values such as {fqdn}, {iso_ts}, {hex16} as patterns, context
  values given by the test), so replies are checked byte for byte against the profile.
- `no_imap(*sets)`: closes the IMAP listeners when this build has no IMAP session yet.
- `check_no_secrets(srv, profile)`: fails if a transcript holds any account's password, app
  password or token, plain or base64-encoded.
- `keep_seeds(srv, profile)`: with MAILRIG_SEED_DIR set, copy the transcripts there (per
  profile) for ci/session-seeds, which turns them into fuzz seeds.
"""
import base64
import functools
import os
import pathlib
import re
import shutil
import subprocess

PATTERNS = {
    "be": r"[A-Za-z0-9.-]+",
    "fqdn": r"[A-Za-z0-9.-]+",
    "fqdn_uc": r"[A-Z0-9.-]+",
    "b64_fqdn": r"[A-Za-z0-9+/=]*",
    "hex16": r"[0-9A-F]{16}",
    "date": r"[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
    "iso_ts": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
    "client_ip": r"[0-9a-fA-F.:]+",
    "host": r"[A-Za-z0-9.-]+",
    "size_limit": r"\d+",
}


@functools.lru_cache(maxsize=None)
def _show(mailrig, profile, sets=()):
    args = [mailrig, "profile", "show", profile]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def templates(mailrig, profile, section, sets=()):
    """{key: value} of one section of `mailrig profile show` (continuation lines joined)."""
    out, cur, key = {}, None, None
    for line in _show(mailrig, profile, tuple(sets)).splitlines():
        if line.startswith("["):
            cur = line.strip("[]")
            key = None
            continue
        if cur != section:
            continue
        if line.startswith((" ", "\t")) and key:
            out[key] += " " + line.strip()
            continue
        if " = " in line or line.endswith(" ="):
            key, _, value = line.partition(" =")
            key = key.strip()
            out[key] = value[1:] if value.startswith(" ") else value
    return out


def reply_re(template, **values):
    """A regex that fullmatches every expansion of template; values fill context placeholders
    ({user}, {from}, {text}...), anything else unknown matches any text."""
    parts, pos = [], 0
    for m in re.finditer(r"\{\{|\}\}|\{([a-z0-9_]+)\}", template):
        parts.append(re.escape(template[pos:m.start()]))
        tok = m.group(0)
        if tok == "{{":
            parts.append(re.escape("{"))
        elif tok == "}}":
            parts.append(re.escape("}"))
        else:
            name = m.group(1)
            if name in values:
                parts.append(re.escape(str(values[name])))
            elif name in PATTERNS:
                parts.append(PATTERNS[name])
            else:
                parts.append(".*?")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts))


def assert_reply(line, template, **values):
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.rstrip("\r\n")
    assert reply_re(template, **values).fullmatch(line), f"{line!r} does not match {template!r}"


def smtp_line(err):
    """'code text' of an smtplib exception or (code, msg) tuple."""
    code, msg = (err.smtp_code, err.smtp_error) if hasattr(err, "smtp_code") else err
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return f"{code} {msg}"


def has_imap_session(mailrig):
    """Whether this build serves IMAP (the IMAP session is written on another branch)."""
    return _imap_probe(mailrig)


@functools.lru_cache(maxsize=None)
def _imap_probe(mailrig):
    import signal
    import tempfile
    import time
    with tempfile.TemporaryDirectory() as d:
        ports = pathlib.Path(d) / "ports.json"
        closed = sum((["--set", f"listener.{p}.mode=closed"] for p in (465, 587, 25, 110, 995, 143)), [])
        p = subprocess.Popen([mailrig, "serve", "--profile", "generic", "--port-base", "0", "--quiet",
                              "--state", str(pathlib.Path(d) / "state"), "--ports-file", str(ports),
                              *closed], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not ports.exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        ok = ports.exists()
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
        else:
            p.wait()
        return ok


def no_imap(mailrig, *sets):
    """sets, plus closing the IMAP listeners when there is no IMAP session in this build."""
    if _imap_probe(mailrig):
        return list(sets)
    return list(sets) + ["listener.993.mode=closed", "listener.143.mode=closed"]


def secrets(srv):
    out = []
    for a in srv.info["accounts"]:
        for k in ("password", "app_password", "oauth_token"):
            if a.get(k):
                out.append(a[k])
    return out


def check_no_secrets(srv):
    text = srv.transcripts()
    for s in secrets(srv):
        assert s not in text, f"a transcript holds the secret {s!r}"
        for a in srv.info["accounts"]:
            for blob in (f"\0{a['email']}\0{s}", f"{a['email']}\0{a['email']}\0{s}",
                         f"user={a['email']}\x01auth=Bearer {s}\x01\x01", s):
                b64 = base64.b64encode(blob.encode()).decode()
                assert b64 not in text, f"a transcript holds the secret {s!r} in base64"


def keep_seeds(srv):
    dest = os.environ.get("MAILRIG_SEED_DIR")
    if not dest:
        return
    d = pathlib.Path(dest) / srv.profile
    d.mkdir(parents=True, exist_ok=True)
    srv.transcripts()  # wait until every connection has closed
    for f in srv.transcript_dir.glob("*.log"):
        name = f"{srv.workdir.parent.name}-{srv.workdir.name}-{f.name}"
        shutil.copy(f, d / name)


import pytest  # noqa: E402


@pytest.fixture
def mock(serve, mailrig):
    """Like `serve`, with IMAP closed when there is no IMAP session in this build; after the
    test every transcript is checked for secrets (and kept as fuzz seeds on request)."""
    started = []

    def start(profile="generic", *sets, **kw):
        srv = serve(profile, *no_imap(mailrig, *sets), **kw)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        if srv.proc is not None:
            check_no_secrets(srv)
            keep_seeds(srv)
