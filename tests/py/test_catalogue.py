"""The provider-failure catalogue (scenarios/) end to end, with the real mocks and clients.

- the whole catalogue runs with `mailrig run scenarios -j 2 --junit --json` and passes; a
  scenario skipped because its client is missing fails the test when `ci/deps clients`
  installs that client; the JUnit file is validated (XSD) and loaded (junitparser);
- every provider failure of issue 5 is covered, asserted by tags and names, so that deleting
  a scenario fails the test; secrets never reach transcripts, client output or reports;
- the scenarios can fail: with the failure taken out of the mock (a `set` line appended to a
  copy of the scenario), each kind of scenario fails;
- the careless client (tests/clients/careless.py, through generated adapters) run in the
  server-role scenarios is flagged by exactly the checks it violates, per mode, and the
  careful one by none (the sets of failed check names in the JSON report).

The catalogue's wall time with -j 2 is printed (not asserted): see the -s output.
"""
import json
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from mailrig_server import mailrig_binary

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
XSD = pathlib.Path(__file__).resolve().parent / "data" / "junit.xsd"


def run(*args, env=None, timeout=240):
    e = {"PATH": "/usr/local/bin:/usr/bin:/bin", "NO_COLOR": "1", "LANG": "C"}
    e.update(env or {})
    return subprocess.run([mailrig_binary(), "run", *map(str, args)], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, pki_state):
    """One run of the whole catalogue: (completed process, JSON report, JUnit path, work)."""
    d = tmp_path_factory.mktemp("catalogue")
    junit, report, work = d / "junit.xml", d / "report.json", d / "work"
    t0 = time.monotonic()
    r = run("scenarios", "-j", "2", "--junit", junit, "--json", report, "--work", work,
            "--state", pki_state)
    took = time.monotonic() - t0
    rep = json.loads(report.read_text())
    print(f"\ncatalogue: {rep['totals']['scenarios']} scenarios with -j 2 in {took:.1f} s "
          f"wall ({mailrig_binary()})")
    return r, rep, junit, work


def by_name(rep):
    return {s["name"]: s for s in rep["scenarios"]}


# ---- the run -----------------------------------------------------------------------------------

def deps_clients():
    """The Debian packages of the `clients` group of ci/deps."""
    text = (ROOT / "ci" / "deps").read_text()
    m = re.search(r'^pkgs_clients="([^"]*)"', text, re.M)
    return set(m.group(1).split())


def test_the_catalogue_passes(catalogue):
    r, rep, _, _ = catalogue
    failed = [f"{s['name']}: {s['verdict']}: {s['message']} "
              f"{[c for c in s['checks'] if not c['passed']]}"
              for s in rep["scenarios"] if s["verdict"] in ("fail", "error")]
    assert not failed, "\n".join(failed) + "\n" + r.stdout[-4000:]
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr
    t = rep["totals"]
    assert t["scenarios"] == len(list(SCENARIOS.rglob("*.scn"))) >= 60
    assert t["passed"] + t["skipped"] == t["scenarios"]
    assert re.search(rf"^{t['scenarios']} scenarios: {t['passed']} passed, 0 failed, 0 errors, "
                     rf"{t['skipped']} skipped", r.stdout, re.M)


def test_skips_are_visible_and_only_for_clients_ci_deps_does_not_install(catalogue):
    r, rep, _, _ = catalogue
    wanted = deps_clients() | {"python3"}
    for s in rep["scenarios"]:
        if s["verdict"] != "skipped":
            continue
        m = re.search(r"install Debian package (\S+)", s["message"])
        assert m, s["message"]
        assert m.group(1) not in wanted, (
            f"{s['name']} was skipped, but ci/deps clients installs {m.group(1)}: "
            f"{s['message']}")
        assert re.search(rf"^{re.escape(s['name'])} +server +\S+ +SKIP", r.stdout, re.M)


def test_junit_loads_and_validates(catalogue):
    _, rep, junit, _ = catalogue
    from lxml import etree
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.parse(str(junit))
    assert schema.validate(doc), schema.error_log
    import junitparser
    xml = junitparser.JUnitXml.fromfile(str(junit))
    cases = {(c.classname, c.name) for suite in xml for c in suite}
    assert cases == {(s["profile"], s["name"]) for s in rep["scenarios"]}
    assert {suite.name for suite in xml} >= {"icloud", "exchange", "generic"}


def test_every_scenario_explains_itself(catalogue):
    """describe, tags (provider, protocol, kind, role) and a source comment in every file."""
    _, rep, _, _ = catalogue
    providers, protos = {"icloud", "exchange", "generic", "clients"}, {"imap", "smtp", "pop3"}
    for s in rep["scenarios"]:
        tags = set(s["tags"])
        assert s["description"] and len(s["description"]) > 30, s["name"]
        assert tags & providers and tags & protos, s["name"]
        assert f"{s['role']}-role" in tags, s["name"]
        folder = pathlib.Path(s["file"]).parent.name
        assert folder in tags, s["name"]
        text = (ROOT / s["file"]).read_text()
        assert re.match(r"# Source: ", text), f"{s['file']}: no '# Source:' header comment"


# ---- coverage of issue 5's failures ------------------------------------------------------------

# (kind tag, provider tag, protocol tag, role): each must have a scenario.
BOTH = ("client", "server")
REQUIRED = (
    [("username", p, proto, role) for p, proto in
     (("icloud", "imap"), ("icloud", "smtp"), ("exchange", "imap"), ("exchange", "pop3"),
      ("exchange", "smtp")) for role in BOTH]
    + [("tls-mismatch", "icloud", "smtp", role) for role in BOTH]
    + [("tls-mismatch", "exchange", proto, role) for proto in ("imap", "smtp", "pop3")
       for role in BOTH]
    + [("tls-mismatch", "icloud", "imap", "client")]
    + [("port-25", p, "smtp", role) for p in ("icloud", "exchange") for role in BOTH]
    + [("app-password", "icloud", proto, "client") for proto in ("imap", "smtp")]
    + [("app-password", "icloud", "imap", "server")]
    + [("no-pop", "icloud", "pop3", role) for role in BOTH]
    + [("spa-ntlm", "exchange", proto, "client") for proto in ("imap", "smtp", "pop3")]
    + [("spa-ntlm", "exchange", "smtp", "server")]
    + [("not-signed-in", "exchange", "imap", role) for role in BOTH]
    + [("not-signed-in", "exchange", "pop3", "client")]
    + [("protocol-disabled", "exchange", proto, "client") for proto in ("imap", "pop3")]
    + [("protocol-disabled", "exchange", "pop3", "server")]
    + [("basic-auth", "exchange", proto, "client") for proto in ("imap", "smtp", "pop3")]
    + [("basic-auth", "exchange", "smtp", "server")]
    + [(k, "clients", proto, "server") for k in ("starttls-injection", "starttls-stripping",
                                                 "untrusted-cert")
       for proto in ("imap", "smtp", "pop3")]
    + [(k, "generic", proto, "client") for k in ("starttls-injection", "starttls-stripping",
                                                 "untrusted-cert")
       for proto in ("imap", "smtp", "pop3")]
)

# Both directions of each TLS mix-up, by name: a ClientHello to the plaintext-first port and
# plaintext to the implicit-TLS port, for each provider port pair that exists.
TLS_MIXUPS = ["icloud-smtp-587-implicit-tls", "icloud-smtp-465-plaintext",
              "icloud-imap-993-plaintext", "exchange-smtp-587-implicit-tls",
              "exchange-imap-143-implicit-tls", "exchange-imap-993-plaintext",
              "exchange-pop3-110-implicit-tls", "exchange-pop3-995-plaintext"]


@pytest.mark.parametrize("kind,provider,proto,role", REQUIRED,
                         ids=["-".join(r) for r in REQUIRED])
def test_failure_is_covered(catalogue, kind, provider, proto, role):
    _, rep, _, _ = catalogue
    hits = [s["name"] for s in rep["scenarios"]
            if {kind, provider, proto}.issubset(s["tags"]) and s["role"] == role]
    assert hits, f"no {role}-role scenario tagged {kind} {provider} {proto}"
    assert all(by_name(rep)[h]["verdict"] in ("pass", "skipped") for h in hits)


def test_tls_mixups_both_directions(catalogue):
    names = by_name(catalogue[1])
    for n in TLS_MIXUPS:
        assert n in names and names[n]["verdict"] == "pass", n


def test_fixes_are_shown(catalogue):
    """The basic-auth cases end with a successful XOAUTH2 login; the port-25 and TLS mix-up
    cases with a successful login on the right port (the mock's own auth events say so)."""
    _, rep, _, work = catalogue
    for s in rep["scenarios"]:
        if s["role"] != "client" or s["verdict"] != "pass":
            continue
        text = (work / s["name"] / "transcript.log").read_text()
        tags = set(s["tags"])
        if "basic-auth" in tags:
            assert re.search(r"event auth-ok mech=XOAUTH2 ", text), s["name"]
            assert re.search(r"event auth-basic-auth-disabled ", text), s["name"]
        if "port-25" in tags:
            ok = re.findall(r"^\S+ conn (\d+) event auth-ok ", text, re.M)
            ports = {c: p for c, p in re.findall(r"^\S+ conn (\d+) open .* port=(\d+) ", text,
                                                 re.M)}
            assert {ports[c] for c in ok} >= {"587"}, s["name"]
            assert "25" not in {ports[c] for c in ok}, s["name"]
    icloud25 = (work / "icloud-smtp-port-25" / "transcript.log").read_text()
    assert re.search(r"open \S+ mode=implicit-tls proto=smtp port=465 ", icloud25)


def secrets():
    """The passwords, app passwords and tokens of every profile's [account.*] sections."""
    out = set()
    for ini in (ROOT / "profiles").glob("*.ini"):
        for section in re.split(r"^\[", ini.read_text(), flags=re.M):
            if section.startswith("account."):
                out |= set(re.findall(r"^(?:password|app_password|oauth_token) = (\S+)$",
                                      section, re.M))
    assert len(out) > 10
    return out


def test_no_secret_in_transcripts_outputs_or_reports(catalogue):
    _, rep, junit, work = catalogue
    import base64
    forms = set()
    for s in secrets():
        forms |= {s, base64.b64encode(s.encode()).decode()}
    files = [junit] + list(work.rglob("transcript.log")) + list(work.rglob("output"))
    assert len(files) > 60
    report = json.dumps(rep)
    for f in files:
        text = f.read_text(errors="replace")
        for s in forms:
            assert s not in text, f"{s[:3]}... in {f}"
    for s in forms:
        assert s not in report


# ---- the scenarios can fail --------------------------------------------------------------------

# scenario -> profile overrides that take the failure (or the fix) out of the mock.
MUTATIONS = {
    "icloud-imap-full-address": ['imap.username="local, full"'],       # fallback back on
    "exchange-smtp-local-part": ['smtp.username="full, local"'],
    "icloud-imap-account-password": ['imap.password="app, account"'],
    "icloud-smtp-587-implicit-tls": ["listener.587.mode=implicit-tls"],
    "exchange-pop3-995-plaintext": ["listener.995.plaintext=close"],   # a hang-up, not silence
    "icloud-smtp-port-25": ["listener.25.auth=yes"],
    "icloud-pop3-not-offered": ["listener.995.mode=silent"],
    "exchange-smtp-spa-ntlm": ['smtp.mechs_tls="LOGIN XOAUTH2 PLAIN"', 'smtp.auth_mech_unsupported='
                               '"535 5.7.3 Authentication unsuccessful"'],
    "exchange-imap-not-signed-in": ["account.nina.state=ok"],
    "exchange-pop3-protocol-disabled": ["account.pat.state=ok"],
    "exchange-imap-basic-auth-disabled": ["account.ben.state=ok"],
    "generic-starttls-not-offered": ["listener.587.mode=starttls"],
    "generic-starttls-command-injection": ["tls.starttls_vulnerable=yes"],
    "generic-tls-certificates": ["listener.995.cert=normal"],
    "smtp-starttls-stripping": ["listener.587.mode=starttls"],
    "imap-untrusted-certificate": ["listener.993.cert=normal"],
    "exchange-smtp-basic-auth-disabled-client": ["account.ben.state=ok"],
    # scripted: the server no longer injects, so the client goes on to the handshake
    "imap-starttls-injection": ("text", "\\r\\n* CAPABILITY IMAP4rev1 AUTH=PLAIN injected\\r\\n",
                                "\\r\\n"),
}


def test_each_kind_of_scenario_can_fail(tmp_path, pki_state):
    """A copy of each scenario above, with the failure taken out of the mock, must fail."""
    tree = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, tree)
    mutated = []
    for name, sets in MUTATIONS.items():
        src = next(p for p in tree.rglob("*.scn")
                   if re.search(rf"^scenario {re.escape(name)}$", p.read_text(), re.M))
        text = src.read_text()
        if sets[0] == "text":
            assert sets[1] in text, (name, sets[1])
            text = text.replace(sets[1], sets[2])
        else:
            lines = text.splitlines()
            # after the header (a later `set` of the same key wins), before the first step
            header = ("scenario", "describe", "tags", "profile", "role", "timeout", "set",
                      "account")
            at = next(i for i, l in enumerate(lines)
                      if l.strip() and not l.startswith("#") and l.split()[0] not in header)
            lines[at:at] = [f"set      {s}" for s in sets]
            text = "\n".join(lines) + "\n"
        out = src.with_name(f"mut-{src.name}")
        out.write_text(text.replace(f"scenario {name}", f"scenario mut-{name}", 1))
        mutated.append(out)
    r = run("-j", "2", "--work", tmp_path / "work", "--json", tmp_path / "r.json",
            "--state", pki_state, *mutated)
    assert r.returncode == 1, r.stdout + r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    verdicts = {s["name"][4:]: s["verdict"] for s in rep["scenarios"]}
    assert set(verdicts) == set(MUTATIONS)
    passed = [n for n, v in verdicts.items() if v != "fail"]
    assert not passed, f"still {verdicts} with the failure taken out: {passed}"


# ---- the careless client -----------------------------------------------------------------------

# (scenario, protocol, careless flags) -> the failed checks expected. An empty flags string is
# the careful client (no flags): it must fail no check anywhere.
STARTTLS_GOOD = [("generic-imap-client-starttls", "imap"), ("generic-smtp-client-starttls", "smtp"),
                 ("generic-pop3-client-curl", "pop3")]
CERTS = [("imap-untrusted-certificate", "imap"), ("smtp-wrong-host-certificate", "smtp"),
         ("pop3-untrusted-certificate", "pop3")]
STRIPPED = [("imap-starttls-stripping", "imap"), ("smtp-starttls-stripping", "smtp"),
            ("pop3-starttls-stripping", "pop3")]
CARELESS = (
    [(s, p, "", set()) for s, p in STARTTLS_GOOD + CERTS + STRIPPED]
    + [(s, p, "", set()) for s, p in (("exchange-smtp-basic-auth-disabled-client", "smtp"),
                                      ("exchange-smtp-spa-ntlm-client", "smtp"),
                                      ("exchange-imap-not-signed-in-client", "imap"))]
    # LOGIN before STARTTLS: the credentials go in clear, with a mechanism the server did not
    # offer before TLS (LOGINDISABLED, no AUTH, no USER in CAPA), and after the server's
    # refusal the client logs in again under TLS (a retry after a definite failure)
    + [(s, p, "login-before-starttls", {"no-credentials-before-tls", "offered-mechanisms-only",
                                        "max-auth-retries"}) for s, p in STARTTLS_GOOD[:2]]
    # (POP3: the server refuses USER before STLS, so PASS never goes out: no password in clear)
    + [("generic-pop3-client-curl", "pop3", "login-before-starttls",
        {"offered-mechanisms-only", "max-auth-retries"})]
    # ... and where STARTTLS was not offered at all the client went on in plaintext
    + [(s, p, "login-before-starttls", {"no-credentials-before-tls", "no-starttls-stripping"})
       for s, p in STRIPPED]
    + [(s, p, "pipeline-after-starttls", {"no-plaintext-after-starttls"})
       for s, p in STARTTLS_GOOD]
    + [(s, p, "ignore-cert", {"rejects-untrusted-certificate"}) for s, p in CERTS]
    + [(s, p, "mech-not-offered", {"offered-mechanisms-only"}) for s, p in STARTTLS_GOOD]
    + [("exchange-smtp-spa-ntlm-client", "smtp", "mech-not-offered", {"offered-mechanisms-only"})]
    + [(s, p, "wrong-username-form", {"username-form"}) for s, p in STARTTLS_GOOD]
    + [("exchange-smtp-basic-auth-disabled-client", "smtp", "retry=2", {"max-auth-retries"}),
       ("exchange-imap-not-signed-in-client", "imap", "retry=1", set()),  # login worked
       ("generic-smtp-client-starttls", "smtp", "retry=3", set())]
    + [(s, p, "bare-lf", {"no-bare-lf", "strict-syntax"}) for s, p in STARTTLS_GOOD]
)


def careless_data_dir(tmp):
    """A data directory whose clients/ has one adapter per (protocol, flags): the careless
    adapter of tests/clients with that protocol and those flags as its defaults, accepting
    the settings the catalogue's client lines give (from, to, auth are ignored)."""
    data = tmp / "data"
    clients = data / "clients"
    clients.mkdir(parents=True)
    (data / "profiles").symlink_to(ROOT / "profiles")
    (data / "scenarios").symlink_to(SCENARIOS)
    (clients / "careless.py").symlink_to(ROOT / "tests" / "clients" / "careless.py")
    for f in (ROOT / "clients").iterdir():    # the scenarios' own adapters are validated too
        (clients / f.name).symlink_to(f)
    names = {}
    for _, proto, flags, _ in CARELESS:
        kind = "careless" if flags else "careful"
        base = (ROOT / "tests" / "clients" / f"{kind}.ini").read_text()
        base = re.sub(r"^settings = (.*)$", r"settings = \1 from to auth", base, flags=re.M)
        name = f"{kind}-{proto}" + (f"-{re.sub(r'[^a-z0-9]+', '-', flags)}" if flags else "")
        names[(proto, flags)] = name
        text = re.sub(r"^proto = imap$", f"proto = {proto}", base, count=1, flags=re.M)
        text = re.sub(r"^flags =$", f"flags = {flags}", text, count=1, flags=re.M)
        assert f"proto = {proto}" in text and (not flags or f"flags = {flags}" in text)
        (clients / f"{name}.ini").write_text(text)
    return data, names


def test_careless_client_flagged_by_exactly_its_checks(tmp_path, pki_state):
    data, names = careless_data_dir(tmp_path)
    files = {re.search(r"^scenario (\S+)$", p.read_text(), re.M).group(1): p
             for p in SCENARIOS.rglob("*.scn")}
    groups = {}
    for scn, proto, flags, want in CARELESS:
        groups.setdefault(names[(proto, flags)], []).append((scn, want))
    wrong = []
    for adapter, cases in sorted(groups.items()):
        report = tmp_path / f"{adapter}.json"
        r = run("-j", "2", "--client", adapter, "--json", report, "--work",
                tmp_path / "work" / adapter, "--state", pki_state,
                *[files[s] for s, _ in cases], env={"MAILRIG_DATA": str(data)})
        assert r.returncode in (0, 1), r.stdout + r.stderr
        got = {s["name"]: s for s in json.loads(report.read_text())["scenarios"]}
        for scn, want in cases:
            s = got[scn]
            assert s["verdict"] in ("pass", "fail"), (adapter, scn, s["message"])
            failed = {c["name"] for c in s["checks"] if not c["passed"]}
            if failed != want:
                wrong.append(f"{adapter} in {scn}: failed {sorted(failed)}, want {sorted(want)}: "
                             + "; ".join(f"{c['name']}: {c['reason']}" for c in s["checks"]))
    assert not wrong, "\n".join(wrong)


# ---- make demo ---------------------------------------------------------------------------------

def test_make_demo_runs_the_catalogue():
    r = subprocess.run(["make", "-n", "-s", "demo"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    run_line = next(l for l in lines if l.startswith("build/rel/bin/mailrig run "))
    assert run_line.split()[-1] == "scenarios" and "--junit" in run_line and "--json" in run_line
    assert any(l.startswith("build/rel/bin/mailrig list scenarios") for l in lines)
