"""Fixtures shared by the pytest suite. See mailrig_server.py for the server fixture's API."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mailrig_server import MailrigServer, mailrig_binary  # noqa: E402


@pytest.fixture(scope="session")
def mailrig():
    """Path of the mailrig binary under test."""
    return mailrig_binary()


@pytest.fixture(scope="session")
def pki_state(tmp_path_factory):
    """One PKI state directory for the whole run, so certificates are made once."""
    return tmp_path_factory.mktemp("pki-state")


@pytest.fixture
def serve(tmp_path, pki_state, mailrig):
    """Start mock servers: serve("icloud", "imap.username=full", ...). Stopped after the test,
    which fails if the server did not exit cleanly."""
    started = []

    def start(profile="generic", *sets, **kw):
        kw.setdefault("state_dir", pki_state)
        kw.setdefault("binary", mailrig)
        srv = MailrigServer(profile, sets, workdir=tmp_path / f"serve{len(started)}", **kw)
        started.append(srv)
        return srv.start()

    yield start
    errors = []
    for srv in started:
        try:
            srv.stop()
        except RuntimeError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))
