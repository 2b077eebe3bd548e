/* test_adapters.c -- the adapter file loader (every error names file:line), substitution of
 * the settings into arguments, environment and files, redaction of the captured output, and
 * the timeout kill. The clients here are /bin/sh one-liners. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/adapters.h"

static char dir[256];

static void write_ini(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.ini", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mailrig-test-adapters-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define HEAD "[client]\nprogram = sh\nprotocols = smtp\n"

static const struct {
    const char *text;
    const char *want; /* after "DIR/bad.ini:" */
} bad_files[] = {
    {"program = sh\n", "1: 'program' before any [section]"},
    {"[client\n", "1: a section header ends in ']'"},
    {"[nonsense]\n", "1: unknown section [nonsense]"},
    {HEAD "colour = blue\n", "4: unknown key 'colour' in [client]"},
    {HEAD "just words\n", "4: expected 'key = value' or '[section]'"},
    {HEAD "password = carrier-pigeon\n", "4: password: unknown value 'carrier-pigeon'"},
    {HEAD "stdin = keyboard\n", "4: stdin: unknown value 'keyboard'"},
    {HEAD "timeout = soon\n", "4: timeout: 'soon' is not a duration"},
    {HEAD "arg = {nosuch}\n", "4: unknown variable {nosuch}"},
    {HEAD "arg = {user\n", "4: unterminated or empty {variable}"},
    {HEAD "\narg = --pass={password}\n", "5: {password} on the command line would show in ps"},
    {HEAD "password = argv\n", "1: password = argv needs a password_note"},
    {HEAD "[security.SSL/TLS]\ntls = on\n[security.None]\nx = 1\n",
     "6: [security.None] lacks 'tls'"},
    {HEAD "[security.None]\n[security.none]\n", "5: security label 'none' defined twice"},
    {HEAD "[result]\nsuccess_exit = 0 300\n", "5: success_exit: '300' is not an exit status"},
    {HEAD "[result]\nsuccess_output = /(/\n", "5: bad regex at offset"},
    {HEAD "[result]\nsuccess_output = nope\n", "5: a pattern is written /regex/"},
    {HEAD "[file.rc]\nmode = 999\n", "5: mode: '999' is not an octal file mode"},
    {HEAD "[env]\nA = 1\nA = 2\n", "6: 'A' set twice in [env]"},
    {"[client]\nprotocols = smtp\n", "1: [client] has no program"},
    {HEAD "security_default = Carrier\n", "1: security_default 'Carrier' is not a"},
};

static void test_load_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        write_ini("bad", bad_files[i].text);
        char err[600], want[700];
        adapter *a = adapter_load(dir, "bad", err, sizeof err);
        snprintf(want, sizeof want, "%s/bad.ini:%s", dir, bad_files[i].want);
        if (a || strncmp(err, want, strlen(want)) != 0) {
            print_error("case %zu: got \"%s\", want \"%s...\"\n", i, a ? "(loaded)" : err, want);
            adapter_free(a);
            fail();
        }
    }
    char err[600];
    assert_null(adapter_load(dir, "missing", err, sizeof err));
    assert_non_null(strstr(err, "missing.ini: No such file or directory"));
    assert_null(adapter_load(dir, "../etc/passwd", err, sizeof err));
    assert_non_null(strstr(err, "is not an adapter name"));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* A client that prints its argv, an env variable, its config file, and the password. */
static void test_substitution_and_redaction(void **state)
{
    (void)state;
    write_ini("echoer",
              "[client]\nprogram = sh\nprotocols = smtp imap\npassword = env\nstdin = message\n"
              "security_default = STARTTLS\n"
              "arg = -c\n"
              "arg = echo \"args: $0 $1\"; echo \"env: $PW\"; cat \"$HOME/rc\"; cat; "
              "printf '%s' \"$PW\" | base64\n"
              "arg = {host}:{port}\n"
              "arg = {scheme}-{url:user}\n"
              "opt = --cafile\nopt = {cafile}\n"
              "[env]\nPW = {password}\n"
              "[file.rc]\nmode = 0600\nline = server {server} user {user} from {from}\n"
              "[defaults]\nfrom = {user}\n"
              "[security.SSL/TLS]\nscheme = smtps\n[security.STARTTLS]\nscheme = smtp\n");
    char err[600];
    adapter *a = adapter_load(dir, "echoer", err, sizeof err);
    assert_non_null(a);
    adapter_kv kv[] = {{"user", "emily@example.com", 0}, {"password", "hunter2-secret", 1}};
    adapter_target t = {"127.0.0.1", 10587, 587, "smtp.example.com", ""};
    adapter_proc p;
    assert_int_equal(adapter_start(a, kv, 2, &t, dir, &p, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(p.workdir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    adapter_outcome out;
    assert_int_equal(adapter_wait(&p, a, kv, 2, 10000, &out, err, sizeof err), 0);
    assert_true(out.exited && out.success && !out.timed_out);
    const char *o = slurp(p.output_path);
    assert_non_null(strstr(o, "args: 127.0.0.1:10587 smtp-emily%40example.com\n"));
    assert_non_null(strstr(o, "env: <redacted>\n"));
    assert_non_null(strstr(o, "server smtp.example.com user emily@example.com from emily@example.com\n"));
    assert_non_null(strstr(o, "Subject: mailrig client test"));
    assert_null(strstr(o, "hunter2"));
    assert_null(strstr(o, "aHVudGVyMi1zZWNyZXQ")); /* base64 of the password */
    /* a setting the adapter does not know, and a security label it lacks */
    adapter_kv bad[] = {{"colour", "blue", 0}};
    assert_int_equal(adapter_start(a, bad, 1, &t, dir, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "has no setting 'colour'"));
    adapter_kv sec[] = {{"security", "Use SSL", 0}};
    assert_int_equal(adapter_start(a, sec, 1, &t, dir, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "knows no security 'Use SSL' (its labels: 'SSL/TLS', 'STARTTLS')"));
    /* {user} is needed and nobody gave it */
    assert_int_equal(adapter_start(a, NULL, 0, &t, dir, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "setting 'user' is needed"));
    adapter_free(a);
}

static void test_timeout_kills(void **state)
{
    (void)state;
    write_ini("sleeper", "[client]\nprogram = sh\nprotocols = imap\n"
                         "arg = -c\narg = sleep 20 & sleep 20\n");
    char err[600];
    adapter *a = adapter_load(dir, "sleeper", err, sizeof err);
    assert_non_null(a);
    adapter_target t = {"127.0.0.1", 1, 1, NULL, ""};
    adapter_proc p;
    assert_int_equal(adapter_start(a, NULL, 0, &t, dir, &p, err, sizeof err), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    adapter_outcome out;
    assert_int_equal(adapter_wait(&p, a, NULL, 0, 200, &out, err, sizeof err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(out.timed_out && !out.exited && !out.success);
    assert_int_equal(out.signal, 15);
    assert_true(t1.tv_sec - t0.tv_sec < 5);
    adapter_kill(&p); /* safe when it has already ended */
    adapter_free(a);
}

static void test_check_setting(void **state)
{
    (void)state;
    char why[300];
    assert_int_equal(adapter_check_setting("clients", "msmtp", NULL, NULL, why, sizeof why), 0);
    assert_int_equal(adapter_check_setting("clients", "msmtp", "security", "starttls", why, sizeof why), 0);
    assert_int_equal(adapter_check_setting("clients", "msmtp", "security", "SSL", why, sizeof why), -1);
    assert_non_null(strstr(why, "knows no security 'SSL'"));
    assert_int_equal(adapter_check_setting("clients", "msmtp", "colour", "x", why, sizeof why), -1);
    assert_int_equal(adapter_check_setting("clients", "msmtp", "port", "70000", why, sizeof why), -1);
    assert_int_equal(adapter_check_setting("clients", "nosuch", NULL, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "no client adapter 'nosuch'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_substitution_and_redaction),
        cmocka_unit_test(test_timeout_kills),
        cmocka_unit_test(test_check_setting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
