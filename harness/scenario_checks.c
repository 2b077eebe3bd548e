/* scenario_checks.c -- see scenario_checks.h. */
#include "harness/scenario_checks.h"

#include <string.h>

#define CLI SC_CHECK_ROLE_SERVER                         /* judges the client under test */
#define BOTH (SC_CHECK_ROLE_SERVER | SC_CHECK_ROLE_CLIENT) /* judges the peer */

const sc_check_def sc_checks[SC_CHECK__COUNT] = {
    [SC_CHECK_NO_CREDENTIALS_BEFORE_TLS] = {
        "no-credentials-before-tls", CLI,
        "the client sent a password (LOGIN, AUTH, USER/PASS) before TLS was up",
        "anyone on the path can read a password sent in plaintext",
        {{0}}},
    [SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS] = {
        "no-plaintext-after-starttls", CLI,
        "the client pipelined plaintext after STARTTLS, or used plaintext bytes that followed "
        "the server's STARTTLS reply",
        "bytes on either side of the TLS upgrade can be injected by an attacker "
        "(CVE-2011-0411, CVE-2021-22947 class)",
        {{0}}},
    [SC_CHECK_NO_STARTTLS_STRIPPING] = {
        "no-starttls-stripping", CLI,
        "STARTTLS was required by the client's settings but not offered, and the client went "
        "on in plaintext",
        "an attacker who removes STARTTLS from the capability list gets the password",
        {{0}}},
    [SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE] = {
        "rejects-untrusted-certificate", CLI,
        "the client completed a TLS handshake with an untrusted, expired or wrong-host "
        "certificate and went on",
        "a client that accepts any certificate talks to whoever intercepts the connection",
        {{0}}},
    [SC_CHECK_NO_IMPLICIT_TLS_ON_STARTTLS_PORT] = {
        "no-implicit-tls-on-starttls-port", CLI,
        "the client started a TLS handshake on a port that speaks plaintext first (STARTTLS)",
        "the connection cannot work: the settings mix up SSL/TLS and STARTTLS",
        {{0}}},
    [SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT] = {
        "no-plaintext-on-implicit-tls-port", CLI,
        "the client sent plaintext to a port that expects TLS from the first byte",
        "the connection cannot work, and the client may be about to send a password in clear",
        {{0}}},
    [SC_CHECK_OFFERED_MECHANISMS_ONLY] = {
        "offered-mechanisms-only", CLI,
        "the client used an authentication mechanism the server did not offer",
        "servers reject unoffered mechanisms (e.g. NTLM/SPA against Exchange Online)",
        {{0}}},
    [SC_CHECK_USERNAME_FORM] = {
        "username-form", CLI,
        "the client logged in with a username of the wrong form (local part vs full address)",
        "providers accept one form per protocol; the other fails like a wrong password",
        {{"form", SC_PARAM_ENUM, 0, 0, "profile|local|full", "profile",
          "the form required; profile = what the profile accepts for the protocol"}}},
    [SC_CHECK_MAX_AUTH_RETRIES] = {
        "max-auth-retries", CLI,
        "the client retried authentication more than n times after a definite failure",
        "retrying a rejected password locks accounts and trips provider throttling",
        {{"n", SC_PARAM_UINT, 0, 100, NULL, NULL, "retries allowed after the first failure"}}},
    [SC_CHECK_NO_BARE_LF] = {
        "no-bare-lf", BOTH,
        "a line ended in LF without CR",
        "mail protocols end lines in CRLF; bare LF is how SMTP smuggling starts",
        {{0}}},
    [SC_CHECK_MAX_LINE_LENGTH] = {
        "max-line-length", BOTH,
        "a line was longer than the limit",
        "servers cut or refuse long lines (SMTP command lines are at most 512 bytes)",
        {{"n", SC_PARAM_UINT, 0, 1 << 20, NULL, "0",
          "bytes without CRLF; 0 = the protocol's limit (SMTP 510, POP3 253, IMAP 8190)"}}},
    [SC_CHECK_STRICT_SYNTAX] = {
        "strict-syntax", BOTH,
        "a command or reply that the strict protocol parser rejects",
        "what a lenient peer accepts today, a strict one refuses tomorrow",
        {{0}}},
};

int sc_check_find(const char *name, size_t n)
{
    for (int i = 0; i < SC_CHECK__COUNT; i++)
        if (strlen(sc_checks[i].name) == n && memcmp(sc_checks[i].name, name, n) == 0)
            return i;
    return -1;
}
