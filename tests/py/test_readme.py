"""The README's instructions for client developers, run as written so they cannot rot: the
pytest example runs as a client's own suite (a temporary directory holding the example and a
copy of mailrig_server.py, nothing else of mailrig's), and the options the README lists for
`mailrig serve` and `mailrig probe` are the ones the commands take."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
README = HERE.parents[1] / "README.md"


def section(title):
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:end if end > 0 else len(text)]


def test_client_suite_example_runs(tmp_path, mailrig):
    m = re.search(r"<!-- readme-example: client-suite -->\n```python\n(.*?)```",
                  README.read_text(), re.S)
    assert m, "the README lost its client-suite example"
    suite = tmp_path / "client-suite"
    suite.mkdir()
    (suite / "test_my_client.py").write_text(m.group(1))
    shutil.copy(HERE / "mailrig_server.py", suite)
    env = dict(os.environ, MAILRIG=mailrig)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
                       cwd=suite, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout, r.stdout


def documented_options(title):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", section(title)))


def test_serve_options_in_the_readme_exist(mailrig):
    helptext = subprocess.run([mailrig, "serve", "--help"], capture_output=True, text=True).stdout
    opts = documented_options("## For client developers: mock providers with `mailrig serve`")
    assert {"--profile", "--set", "--port-base", "--ports-file", "--transcripts"} <= opts
    for opt in opts:
        assert opt in helptext, f"README documents {opt}, `mailrig serve --help` does not"


def test_probe_options_in_the_readme_exist(mailrig):
    helptext = subprocess.run([mailrig, "probe", "--help"], capture_output=True, text=True).stdout
    opts = documented_options("## Probing a host: `mailrig probe`")
    assert {"--timeout", "--port-base", "--port-map", "--ports-file", "--json"} <= opts
    for opt in opts:
        if opt == "--profile":  # the `mailrig serve` line of the example
            continue
        assert opt in helptext, f"README documents {opt}, `mailrig probe --help` does not"
