/* fuzz_log_classify.c -- the log classifier (harness/diag_log.c) on whatever the readers make of
 * any bytes: detection, the conversation, provider identification by greeting and host,
 * reply-template matching, the facts-to-trigger mapping, and both report writers.
 *
 * The first byte chooses the provider (none = inferred, icloud, exchange, generic); the rest is
 * the log. The shipped profiles are loaded once and lent to the classifier. Oracle: the report
 * stays within its limits, every finding has a catalogue rule and a valid severity, the origin
 * of every finding is the log, and the JSON writer succeeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "harness/diag_log.h"
#include "servers/profile.h"

static const profile *profiles[3];
static size_t n_profiles;

static void load_once(void)
{
    static int done;
    if (done++)
        return;
    static const char *const names[] = {"icloud", "exchange", "generic"};
    for (size_t i = 0; i < 3; i++) {
        profile_diag d = {0};
        profile *p = profile_load(names[i], NULL, &d);
        profile_diag_free(&d);
        if (p)
            profiles[n_profiles++] = p;
    }
    FUZZ_CHECK(n_profiles == 3); /* the data directory must be found */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 15)
        return 0;
    load_once();
    static const char *const providers[] = {"", "icloud", "exchange", "generic"};
    log_conv c;
    log_conv_init(&c);
    char err[64];
    log_read((const char *)data + 1, size - 1, LOG_FMT_UNKNOWN, &c, err, sizeof err);
    diag_settings *s = calloc(1, sizeof *s);
    diag_report *r = malloc(sizeof *r);
    FUZZ_CHECK(s && r);
    diag_settings_init(s);
    snprintf(s->provider, sizeof s->provider, "%s", providers[data[0] % 4]);
    diag_report_init(r);
    diag_log_opts o = {.profiles = profiles, .n_profiles = n_profiles};
    diag_log_classify(&c, "fuzz.log", &o, s, r);
    FUZZ_CHECK(r->n_findings <= DIAG_MAX_FINDINGS && r->n_cannot <= DIAG_MAX_CANNOT);
    for (size_t i = 0; i < r->n_findings; i++) {
        FUZZ_CHECK(r->findings[i].rule != NULL);
        FUZZ_CHECK((unsigned)r->findings[i].severity < DIAG_SEVERITY_COUNT);
        FUZZ_CHECK(!strcmp(r->findings[i].at.file, "fuzz.log"));
        FUZZ_CHECK(memchr(r->findings[i].detail, 0, sizeof r->findings[i].detail) != NULL);
    }
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(diag_report_write_json(r, s, f) == 0);
    fclose(f);
    free(json);
    free(r);
    free(s);
    log_conv_free(&c);
    return 0;
}
