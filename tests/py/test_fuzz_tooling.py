"""The fuzzing tooling itself: ci/fuzz-run, the replay driver, the ClusterFuzzLite build.

These are what CI and the fuzzing jobs rely on, so they are tested like any other code: a
crashing target must fail the run and name its input, an empty corpus must fail the replay,
and build.sh must produce every target with its corpus and dictionary.
"""
import os
import pathlib
import shutil
import subprocess
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FUZZ_TARGETS = sorted(p.stem[len("fuzz_"):] for p in (ROOT / "fuzz").glob("fuzz_*.c"))

CRASHY = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n >= 4 && memcmp(d, "boom", 4) == 0)
        abort();
    return 0;
}
"""


def test_every_target_has_a_seed_corpus():
    for t in FUZZ_TARGETS:
        seeds = list((ROOT / "corpora" / t).glob("*"))
        assert seeds, f"corpora/{t}/ is empty"


def test_fuzz_run_fails_on_a_crash_and_names_the_input(tmp_path):
    (tmp_path / "build/fuzz/bin").mkdir(parents=True)
    (tmp_path / "corpora/crashy").mkdir(parents=True)
    (tmp_path / "corpora/crashy/seed").write_bytes(b"boo")
    (tmp_path / "corpora/crashy.dict").write_text('"boom"\n')
    src = tmp_path / "crashy.c"
    src.write_text(CRASHY)
    subprocess.run(["clang", "-fsanitize=fuzzer", str(src), "-o",
                    str(tmp_path / "build/fuzz/bin/fuzz_crashy")], check=True)
    r = subprocess.run([str(ROOT / "ci/fuzz-run"), "30", "crashy"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "crashy FAILED" in r.stderr
    crashes = list((tmp_path / "build/fuzz/artifacts/crashy").glob("crash-*"))
    assert crashes and crashes[0].read_bytes().startswith(b"boom")
    assert crashes[0].name in r.stderr


def test_fuzz_run_reports_exec_rate(tmp_path):
    (tmp_path / "build/fuzz/bin").mkdir(parents=True)
    (tmp_path / "corpora/calm").mkdir(parents=True)
    (tmp_path / "corpora/calm/seed").write_bytes(b"x")
    src = tmp_path / "calm.c"
    src.write_text(CRASHY.replace("abort();", "return 0;"))
    subprocess.run(["clang", "-fsanitize=fuzzer", str(src), "-o",
                    str(tmp_path / "build/fuzz/bin/fuzz_calm")], check=True)
    r = subprocess.run([str(ROOT / "ci/fuzz-run"), "1", "calm"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    fields = r.stdout.split()
    assert fields[0] == "calm" and fields[2] == "exec/s" and int(fields[1]) > 0


def _build(tmp_path, name, code):
    (tmp_path / "build/fuzz/bin").mkdir(parents=True, exist_ok=True)
    src = tmp_path / f"{name}.c"
    src.write_text(code)
    subprocess.run(["clang", "-fsanitize=fuzzer", str(src), "-o",
                    str(tmp_path / f"build/fuzz/bin/fuzz_{name}")], check=True)


LONG_CRASHES = CRASHY.replace('n >= 4 && memcmp(d, "boom", 4) == 0', "n > 7")


def test_fuzz_run_passes_the_options_file(tmp_path):
    # The seed is 20 bytes and the target aborts on anything longer than 7: only the
    # max_len of corpora/<target>.options (libFuzzer truncates seeds to it) keeps it alive.
    _build(tmp_path, "shorty", LONG_CRASHES)
    (tmp_path / "corpora/shorty").mkdir(parents=True)
    (tmp_path / "corpora/shorty/seed").write_bytes(b"x" * 20)
    r = subprocess.run([str(ROOT / "ci/fuzz-run"), "1", "shorty"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "shorty FAILED" in r.stderr
    (tmp_path / "corpora/shorty.options").write_text(
        "# a comment\n[libfuzzer]\nmax_len = 7\n[other]\nmax_len = 99\n")
    r = subprocess.run([str(ROOT / "ci/fuzz-run"), "1", "shorty"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "shorty" and r.stdout.split()[2] == "exec/s"


def test_fuzz_speed_reports_cpu_and_wall_rates(tmp_path):
    _build(tmp_path, "calm", CRASHY.replace("abort();", "return 0;"))
    (tmp_path / "corpora/calm").mkdir(parents=True)
    (tmp_path / "corpora/calm/seed").write_bytes(b"x")
    r = subprocess.run([str(ROOT / "ci/fuzz-speed"), "1", "calm"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    header, line = r.stdout.splitlines()
    assert header.split()[:6] == ["target", "runs", "cpu-s", "wall-s", "exec/cpu-s", "exec/s"]
    f = line.split()
    assert f[0] == "calm" and int(f[1]) > 0 and float(f[4]) > 0 and float(f[5]) > 0
    # new inputs went to a scratch corpus, not into the seeds
    assert [p.name for p in (tmp_path / "corpora/calm").iterdir()] == ["seed"]


def test_replay_rejects_an_empty_corpus(tmp_path):
    binary = ROOT / "build/asan/bin/replay_mr_line"
    subprocess.run(["make", "-s", "-C", str(ROOT), "build/asan/bin/replay_mr_line"], check=True)
    r = subprocess.run([str(binary), str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "empty corpus is an error" in r.stderr
    (tmp_path / "one").write_bytes(b"a1 NOOP\r\n")
    r = subprocess.run([str(binary), str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0 and "1 inputs replayed" in r.stdout
    r = subprocess.run([str(binary), str(tmp_path / "missing")], capture_output=True, text=True)
    assert r.returncode == 1 and "No such file" in r.stderr


def test_clusterfuzzlite_build_makes_every_target(tmp_path):
    src, out, work = tmp_path / "src", tmp_path / "out", tmp_path / "work"
    for d in (src, out, work):
        d.mkdir()
    (src / "mailrig").symlink_to(ROOT)
    env = dict(os.environ, SRC=str(src), OUT=str(out), WORK=str(work), CC="clang",
               CFLAGS="-O1 -gline-tables-only -fsanitize=address,fuzzer-no-link",
               LIB_FUZZING_ENGINE="-fsanitize=fuzzer")
    subprocess.run(["bash", str(ROOT / ".clusterfuzzlite/build.sh")], env=env, check=True,
                   timeout=1200, capture_output=True)
    for t in FUZZ_TARGETS:
        binary = out / f"fuzz_{t}"
        assert os.access(binary, os.X_OK), f"no {binary.name}"
        with zipfile.ZipFile(out / f"fuzz_{t}_seed_corpus.zip") as z:
            assert z.namelist(), f"empty seed corpus for {t}"
        if (ROOT / "corpora" / f"{t.split('_')[0]}.dict").exists():
            assert (out / f"fuzz_{t}.dict").exists()
        if (ROOT / "corpora" / f"{t}.options").exists():
            assert (out / f"fuzz_{t}.options").read_text() == \
                (ROOT / "corpora" / f"{t}.options").read_text()
    # One target actually runs its seeds.
    r = subprocess.run([str(out / "fuzz_mr_line"), "-runs=0", str(ROOT / "corpora/mr_line")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
