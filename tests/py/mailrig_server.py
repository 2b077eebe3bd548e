"""Run mailrig's mock provider servers from a Python test suite.

This module is meant to be copied into (or imported by) a mail client's own pytest suite:

    from mailrig_server import MailrigServer

    def test_login(tmp_path):
        with MailrigServer(profile="icloud", workdir=tmp_path) as srv:
            port = srv.port("imap", 993)                  # local port of iCloud's 993
            acct = srv.account()                          # the first test account
            ...connect your client to 127.0.0.1:port with cafile=srv.ca_file,
               user acct["username"]["imap"], password acct["app_password"]...
            assert "event wrong-username-form" not in srv.transcripts()

`MailrigServer` starts `mailrig serve --port-base 0` (free ports, so tests can run in parallel),
waits for its ports file, and stops it with SIGTERM on exit, failing loudly if the server did not
exit cleanly (a crash under ASan is a test failure, not a silent pass).

The binary is $MAILRIG, else build/asan/bin/mailrig when this file is inside a mailrig checkout
(built on demand), else `mailrig` on PATH.
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def mailrig_binary():
    """Path of the mailrig binary to test: $MAILRIG; in a mailrig checkout build/asan/bin/mailrig
    (made if missing); else `mailrig` on PATH (a copy of this file in a client's suite)."""
    env = os.environ.get("MAILRIG")
    if env:
        path = pathlib.Path(env)
    elif (ROOT / "harness" / "main.c").exists() and (ROOT / "Makefile").exists():
        path = ROOT / "build" / "asan" / "bin" / "mailrig"
        subprocess.run(["make", "-s", "-C", str(ROOT), "build/asan/bin/mailrig"], check=True)
    else:
        found = shutil.which("mailrig")
        if not found:
            raise RuntimeError("no mailrig binary: set $MAILRIG to its path or put it on PATH")
        path = pathlib.Path(found)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is not an executable mailrig")
    return str(path)


class MailrigServer:
    """A running `mailrig serve`. Use as a context manager, or call start() and stop()."""

    def __init__(self, profile="generic", sets=(), workdir=None, state_dir=None, spool=None,
                 seed=1, binary=None, start_timeout=30, listen=None, port_base=0):
        self.profile = profile
        self.port_base = port_base  # 0: free ports; N: provider port P at N + P
        self.sets = list(sets)
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mailrig-")
            workdir = self._tmp.name
        self.workdir = pathlib.Path(workdir)
        self.state_dir = pathlib.Path(state_dir) if state_dir else self.workdir / "state"
        self.spool = spool
        self.listen = listen  # "::1" to serve on IPv6 loopback
        self.seed = seed
        self.binary = binary or mailrig_binary()
        self.start_timeout = start_timeout
        self.transcript_dir = self.workdir / "transcripts"
        self.ports_file = self.workdir / "ports.json"
        self.proc = None
        self.info = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [self.binary, "serve", "--profile", self.profile, "--port-base", str(self.port_base),
               "--ports-file", str(self.ports_file), "--state", str(self.state_dir),
               "--transcripts", str(self.transcript_dir), "--seed", str(self.seed)]
        for s in self.sets:
            cmd += ["--set", s]
        if self.spool:
            cmd += ["--spool", str(self.spool)]
        if self.listen:
            cmd += ["--listen", self.listen]
        self._stdout = open(self.workdir / "serve.stdout", "w+")
        self._stderr = open(self.workdir / "serve.stderr", "w+")
        self.proc = subprocess.Popen(cmd, stdout=self._stdout, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while not self.ports_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"mailrig serve exited with {self.proc.returncode}:\n"
                                   f"{self.stderr()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"mailrig serve did not start in {self.start_timeout}s:\n"
                                   f"{self.stderr()}")
            time.sleep(0.02)
        self.info = json.loads(self.ports_file.read_text())
        return self

    def stop(self):
        """SIGTERM, then require a clean exit (status 0, nothing from the sanitizers)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"mailrig serve ignored SIGTERM:\n{self.stderr()}")
        err = self.stderr()
        self._stdout.close()
        self._stderr.close()
        if self._tmp:
            self._tmp.cleanup()
        if proc.returncode != 0 or "Sanitizer" in err or "runtime error:" in err:
            raise RuntimeError(f"mailrig serve exited with {proc.returncode}:\n{err}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what the server told us ------------------------------------------------------------
    @property
    def ca_file(self):
        return self.info["ca_file"]

    def listener(self, protocol, provider_port):
        for l in self.info["listeners"]:
            if l["protocol"] == protocol and l["provider_port"] == provider_port:
                return l
        raise KeyError(f"no {protocol} listener for provider port {provider_port}")

    def port(self, protocol, provider_port):
        """The local port serving the provider's port (993, 587, ...)."""
        return self.listener(protocol, provider_port)["port"]

    def account(self, name=None):
        """A test account (the first one, or the one named name) as the ports file says."""
        for a in self.info["accounts"]:
            if name is None or a["name"] == name or a["email"] == name:
                return a
        raise KeyError(f"no account {name!r}")

    def stderr(self):
        self._stderr.flush()
        return (self.workdir / "serve.stderr").read_text(errors="replace")

    def transcripts(self, wait_closed=True, timeout=5):
        """All transcripts so far, concatenated. With wait_closed, wait until every
        connection's transcript has its close record (the server writes it after the client
        has gone, a moment later)."""
        deadline = time.monotonic() + timeout
        while True:
            texts = [p.read_text(errors="replace")
                     for p in sorted(self.transcript_dir.glob("*.log"))]
            if not wait_closed or all(" close " in t for t in texts) or time.monotonic() > deadline:
                return "".join(texts)
            time.sleep(0.02)
