/* diag_log.c -- the log input of the diagnosis (diag.h, diag_log_load): a stub.
 *
 * The log readers (mailrig transcripts, curl -v, msmtp --debug, openssl s_client, imaplib,
 * Thunderbird) are written on branch `logs`; they replace this file. Until then
 * `mailrig diagnose --log FILE` says this build has no log readers (exit status 2). */
#include "harness/diag.h"

int diag_log_load(const char *path, const diag_vocab *v, diag_settings *s, diag_report *r, diag_msgs *msgs)
{
    (void)path;
    (void)v;
    (void)s;
    (void)r;
    (void)msgs;
    return DIAG_LOG_UNAVAILABLE;
}
