#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: every fuzz/fuzz_<name>.c becomes $OUT/fuzz_<name>, with its
# seed corpus (corpora/<name>/ zipped) and dictionary (corpora/<protocol>.dict) beside it.
# The engine and sanitizer come from the environment ($CC, $CFLAGS, $LIB_FUZZING_ENGINE).
cd "${SRC}/mailrig"
build="${WORK:-/tmp}/mailrig-build"
rm -rf "$build" && mkdir -p "$build"
flags="-std=c11 -D_DEFAULT_SOURCE -DMR_FUZZING -I."

# The same link line as the Makefile's fuzz variant: our sources as one archive (so, as there,
# a target pulls in only the objects it uses) plus the system libraries they use.
libs="-lssl -lcrypto -levent_openssl -levent -linih -ljansson -lpcre2-8"
objs=()
for src in proto/*.c servers/*.c harness/*.c fuzz/*.c; do
    case "$src" in fuzz/fuzz_*.c|fuzz/replay_main.c|harness/main.c) continue ;; esac
    obj="$build/$(echo "$src" | tr / _).o"
    $CC $CFLAGS $flags -c "$src" -o "$obj"
    objs+=("$obj")
done
ar rcs "$build/libmailrig.a" "${objs[@]}"

for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)          # fuzz_imap_response
    target=${name#fuzz_}                # imap_response
    $CC $CFLAGS $flags -c "$src" -o "$build/$name.o"
    $CC $CFLAGS "$build/$name.o" "$build/libmailrig.a" $LIB_FUZZING_ENGINE $libs -o "$OUT/$name"
    if [ -d "corpora/$target" ]; then
        (cd "corpora/$target" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
    fi
    dict="corpora/${target%%_*}.dict"
    if [ -f "$dict" ]; then
        cp "$dict" "$OUT/$name.dict"
    fi
done
