/* fuzz_scenario_parse.c -- the scenario parser (harness/scenario.c), from memory.
 *
 * Input: the top scenario "main.scn", optionally followed by more files, each started by a
 * line "@@ NAME" (NAME relative to main.scn's directory, e.g. "@@ lib/a.inc"); at most 8
 * files. Includes are served from that table, so include cycles, depth and missing files
 * are reachable without touching the disk.
 *
 * Oracles: the parse never crashes, leaks or runs away (sanitizers, libFuzzer's timeout);
 * a parse that fails has diagnostics, each inside its file (line and column within the text
 * shown); a parse that succeeds has no diagnostics and a tree whose indices (variable slots,
 * modifier targets, connect outcomes) all point inside it; parsing the same input twice
 * gives the same result (no hidden state between calls).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "harness/scenario.h"
#include "harness/scenario_checks.h"

enum { MAX_FILES = 8 };

typedef struct table {
    char name[MAX_FILES][128];
    const char *data[MAX_FILES];
    size_t len[MAX_FILES];
    size_t n;
} table;

static void split(const char *s, size_t size, table *t)
{
    t->n = 1;
    strcpy(t->name[0], "main.scn");
    t->data[0] = s;
    size_t at = 0;
    while (at < size) {
        const char *lf = memchr(s + at, '\n', size - at);
        size_t next = lf ? (size_t)(lf - s) + 1 : size;
        if (next + 3 <= size && memcmp(s + next, "@@ ", 3) == 0 && t->n < MAX_FILES) {
            t->len[t->n - 1] = (size_t)(s + next - t->data[t->n - 1]);
            const char *nl = memchr(s + next, '\n', size - next);
            size_t end = nl ? (size_t)(nl - s) : size;
            size_t nn = end - next - 3;
            if (nn >= sizeof t->name[0])
                nn = sizeof t->name[0] - 1;
            memcpy(t->name[t->n], s + next + 3, nn);
            t->name[t->n][nn] = 0;
            t->data[t->n] = nl ? nl + 1 : s + size;
            t->n++;
            at = nl ? end + 1 : size;
            continue;
        }
        at = next;
    }
    t->len[t->n - 1] = (size_t)(s + size - t->data[t->n - 1]);
}

static int table_read(void *ctx, const char *path, size_t max, char **data, size_t *len,
                      char *why, size_t whycap)
{
    const table *t = ctx;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->name[i], path) == 0) {
            size_t n = t->len[i] < max + 1 ? t->len[i] : max + 1;
            *data = malloc(n ? n : 1);
            FUZZ_CHECK(*data != NULL);
            memcpy(*data, t->data[i], n);
            *len = n;
            return 0;
        }
    snprintf(why, whycap, "not in the table");
    return -1;
}

static void check_tree(const sc_scenario *sc)
{
    FUZZ_CHECK(sc->h.name != NULL && sc->h.role != SC_ROLE_NONE && sc->nsteps > 0);
    for (size_t i = 0; i < sc->nsteps; i++) {
        const sc_step *st = &sc->steps[i];
        FUZZ_CHECK(st->kind > SC_STEP_NONE && st->kind < SC_STEP__COUNT);
        FUZZ_CHECK(st->loc.line >= 1 && st->loc.col >= 1 && st->loc.col <= st->loc.text_n + 1);
        FUZZ_CHECK(st->timeout_ms >= 1 && st->timeout_ms <= sc->h.total_timeout_ms);
        switch (st->kind) {
        case SC_CONNECT:
            FUZZ_CHECK(st->u.connect.outcome_step < (int)sc->nsteps);
            FUZZ_CHECK(st->u.connect.tls.step < (int)sc->nsteps);
            break;
        case SC_TLS:
            FUZZ_CHECK(st->u.tls.target >= 0 && (size_t)st->u.tls.target < i);
            break;
        case SC_VAR:
            FUZZ_CHECK(st->u.var.slot < sc->nvars);
            break;
        case SC_EXPECT:
            FUZZ_CHECK(st->u.expect.n > 0);
            FUZZ_CHECK(st->u.expect.capture < (int)sc->nvars);
            for (size_t k = 0; k < st->u.expect.n; k++)
                for (size_t g = 0; g < st->u.expect.pats[k].ngroups; g++)
                    FUZZ_CHECK(st->u.expect.pats[k].groups[g].slot < sc->nvars);
            break;
        case SC_CHECK:
            FUZZ_CHECK(st->u.check.id < SC_CHECK__COUNT);
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < sc->nvars; i++)
        FUZZ_CHECK(sc->vars[i].def_step < sc->nsteps);
}

static void check_diags(const sc_diags *d)
{
    FUZZ_CHECK(d->n > 0);
    for (size_t i = 0; i < d->n; i++) {
        const sc_diag *g = &d->v[i];
        FUZZ_CHECK(g->file && g->msg && g->msg[0]);
        if (g->line) {
            FUZZ_CHECK(g->text != NULL && g->col >= 1);
            FUZZ_CHECK(g->col <= g->text_n + 1);
        }
    }
    static FILE *null;   /* opened once: the printing is exercised, not the file system */
    if (!null)
        null = fopen("/dev/null", "w");
    FUZZ_CHECK(null != NULL);
    sc_diags_print(null, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    table t;
    split((const char *)data, size, &t);
    sc_options o;
    memset(&o, 0, sizeof o);
    o.read = table_read;
    o.ctx = &t;
    o.limits.max_errors = 20;
    size_t ndiag[2], nsteps[2];
    for (int round = 0; round < 2; round++) {
        sc_diags d = {0};
        sc_scenario *sc = sc_parse_file("main.scn", &o, &d);
        if (sc) {
            FUZZ_CHECK(d.n == 0);
            check_tree(sc);
        } else {
            check_diags(&d);
        }
        ndiag[round] = d.n;
        nsteps[round] = sc ? sc->nsteps : 0;
        sc_free(sc);
        sc_diags_free(&d);
    }
    FUZZ_CHECK(ndiag[0] == ndiag[1] && nsteps[0] == nsteps[1]);
    return 0;
}
