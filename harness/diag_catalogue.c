/* diag_catalogue.c -- every finding mailrig can report about a mail setup, in one table.
 *
 * Each row: a stable id, what detects it (trigger), where it applies (provider, protocols,
 * port, authentication method), its default severity, texts with {placeholders} (diag.h), and
 * its sources. Provider rows cite the provider's own documentation as kept verbatim in
 * provider-docs/ (file and line; the quote is checked against the file by the test suite) or
 * PROVIDERS.md (section and tag); generic rows cite the RFCs. What the server sends is not
 * written here: the checks quote it from the provider's profile.
 */
#include <string.h>

#include "harness/diag.h"

#define P(x) DIAG_PBIT(DIAG_PROTO_##x)
#define IMAP P(IMAP)
#define POP3 P(POP3)
#define SMTP P(SMTP)
#define INCOMING (IMAP | POP3)

/* provider documents */
#define NO "provider-docs/icloud-mail-server-settings.no.txt"
#define MS "provider-docs/icloud-mail-imap-smtp-settings.ms.txt"
#define DE "provider-docs/icloud-mail-server-settings.de.txt"
#define EN "provider-docs/apple-mail-server-settings-and-icloud.en.txt"
#define IS "provider-docs/office365-exchange-pop-imap-clients.is.txt"
#define PROV "PROVIDERS.md"

#define DOC(file, ln, lg, q, g) {.doc = file, .line = ln, .tag = "[D]", .lang = lg, .quote = q, .gloss = g}
#define SECTION(sec, tg, q) {.doc = PROV, .section = sec, .tag = tg, .lang = "en", .quote = q}
/* RFCs are referenced, not quoted: gloss says in our words what the section supports */
#define RFC(name, sec, what) {.doc = name, .section = sec, .tag = "[D]", .lang = "en", .gloss = what}

/* the lines quoted more than once */
#define NO_IMAP_HOST DOC(NO, 15, "no", "Tjenernavn: imap.mail.me.com", "Server name: imap.mail.me.com")
#define NO_IMAP_SSL DOC(NO, 16, "no", "SSL kreves: Ja", "SSL required: yes")
#define NO_IMAP_PORT DOC(NO, 18, "no", "Port: 993", NULL)
#define NO_IMAP_USER                                                                                              \
    DOC(NO, 19, "no",                                                                                             \
        "Brukernavn: Dette er vanligvis navnedelen av iCloud-e-postadressen (for eksempel emilyparker, ikke "    \
        "emilyparker@icloud.com).\xc2\xa0" "Hvis e-postklienten ikke kan koble til iCloud kun med navnedelen av "           \
        "iCloud-e-postadressen, kan du prøve å bruke hele adressen.",                                           \
        "User name: this is usually the name part of the iCloud email address (for example emilyparker, not "    \
        "emilyparker@icloud.com). If the email client cannot connect to iCloud with only the name part, you can " \
        "try the full address.")
#define NO_SMTP_HOST DOC(NO, 24, "no", "Tjenernavn: smtp.mail.me.com", "Server name: smtp.mail.me.com")
#define NO_SMTP_TRY                                                                                               \
    DOC(NO, 26, "no", "Hvis du ser en feilmelding når du bruker SSL, prøver du å bruke TLS eller STARTTLS i stedet.", \
        "If you see an error message when using SSL, try using TLS or STARTTLS instead.")
#define NO_SMTP_PORT DOC(NO, 27, "no", "Port: 587", NULL)
#define NO_SMTP_AUTH DOC(NO, 28, "no", "SMTP-godkjenning kreves: Ja", "SMTP authentication required: yes")
#define MS_465                                                                                                    \
    DOC(MS, 25, "ms", "Cuba port 465 jika anda tidak boleh menghantar e-mel iCloud pada port 587.",               \
        "Try port 465 if you cannot send iCloud mail on port 587.")
#define IS_USER                                                                                                   \
    DOC(IS, 23, "is", "Færðu inn notandanafn þitt (til dæmis, tony@contoso.com).",                               \
        "Enter your user name (for example, tony@contoso.com).")
#define IS_SAME                                                                                                   \
    DOC(IS, 27, "is",                                                                                             \
        "Notaðu sama notandanafn og aðgangsorð til þess að sannvotta við þjón fyrir aðsendan eða sendan póst.",  \
        "Use the same user name and password to authenticate to the server for incoming and outgoing mail.")
#define IS_NO_SPA                                                                                                 \
    DOC(IS, 27, "is", "Ekki nota „Sannvottun með öruggu aðgangsorði“.",                                           \
        "Do not use \"Secure Password Authentication\".")
#define IS_OWA_SETTINGS                                                                                           \
    DOC(IS, 35, "is", "Skráðu þig inn í tölvupóstreikninginn með Outlook Web App til að finna þjónsstillingarnar.", \
        "Sign in to your email account with Outlook Web App to find the server settings.")
#define IS_SSL_TLS                                                                                                \
    DOC(IS, 42, "is",                                                                                             \
        "Í flestum tölvupóstforritum þarftu að opna stillingu eða flipa merktan Ítarlegt til þess að stilla SSL "  \
        "fyrir POP- og IMAP-tengingar og TLS fyrir SMTP tengingar.",                                              \
        "In most email programs you open a setting or tab labelled Advanced to set SSL for POP and IMAP "         \
        "connections and TLS for SMTP connections.")
#define IS_110_143                                                                                                \
    DOC(IS, 44, "is",                                                                                             \
        "Ef tölvupóstforritið þitt sýnir tengi 110 eða 143 skaltu velja SSL-dulritun.",                           \
        "If your email program shows port 110 or 143, choose SSL encryption.")
#define IS_995_993                                                                                                \
    DOC(IS, 44, "is",                                                                                             \
        "Sláðu svo inn 995 sem númer tengis í stað sjálfgefna tengisnúmersins (110) ef þú notar POP eða 993 í "   \
        "stað sjálfgefna tengisnúmersins (143) ef þú notar IMAP.",                                                \
        "Then enter 995 as the port instead of the default (110) if you use POP, or 993 instead of the default " \
        "(143) if you use IMAP.")
#define IS_25                                                                                                     \
    DOC(IS, 46, "is",                                                                                             \
        "Ef tölvupóstforritið þitt sýnir tengi 25 fyrir SMTP skaltu velja TLS-dulritun. Sláðu svo inn 587 í "     \
        "stað sjálfgefna tengisnúmersins 25.",                                                                    \
        "If your email program shows port 25 for SMTP, choose TLS encryption. Then enter 587 instead of the "    \
        "default port 25.")

static const diag_rule rules[] = {
    /* ---- the provider --------------------------------------------------------------------- */
    {.id = "provider-conflict", .trigger = DIAG_T_PROVIDER_CONFLICT, .severity = DIAG_WARNING,
     .field = DIAG_F_PROVIDER,
     .title = "the email address and the server names point to different providers",
     .fix = "say which provider this is (provider = NAME, or --provider NAME), or correct the address or the "
            "server names",
     .cite = {NO_IMAP_HOST, IS_OWA_SETTINGS}},

    /* ---- server names ------------------------------------------------------------------------ */
    {.id = "icloud-imap-server-name", .trigger = DIAG_T_SERVER_NAME, .provider = "icloud", .protos = IMAP,
     .severity = DIAG_ERROR, .field = DIAG_F_SERVER,
     .title = "{host} is not iCloud's IMAP server",
     .wire = "the client connects to {host} instead of iCloud's IMAP service: the name does not resolve, or "
             "another service answers",
     .fix = "server = {fix_host}",
     .cite = {NO_IMAP_HOST, DOC(EN, 33, "en", "Server name: imap.mail.me.com", NULL)}},
    {.id = "icloud-smtp-server-name", .trigger = DIAG_T_SERVER_NAME, .provider = "icloud", .protos = SMTP,
     .severity = DIAG_ERROR, .field = DIAG_F_SERVER,
     .title = "{host} is not iCloud's SMTP server",
     .wire = "the client connects to {host} instead of iCloud's submission service: the name does not resolve, "
             "or another service answers",
     .fix = "server = {fix_host}",
     .cite = {NO_SMTP_HOST, DOC(EN, 39, "en", "Server name: smtp.mail.me.com", NULL)}},
    {.id = "exchange-server-name", .trigger = DIAG_T_SERVER_NAME, .provider = "exchange",
     .severity = DIAG_WARNING, .field = DIAG_F_SERVER,
     .title = "{host} is not Exchange Online's {proto} server",
     .wire = "the client connects to {host}, not to Exchange Online's {fix_host}; right only if the "
             "organisation runs its own server under that name",
     .fix = "server = {fix_host}, unless the POP/IMAP settings page of Outlook on the web shows another name",
     .cite = {IS_OWA_SETTINGS}},
    {.id = "server-name", .trigger = DIAG_T_SERVER_NAME, .severity = DIAG_WARNING, .field = DIAG_F_SERVER,
     .title = "{host} is not the provider's {proto} server",
     .wire = "the client connects to {host} instead of {fix_host}",
     .fix = "server = {fix_host}"},

    /* ---- protocols and ports ------------------------------------------------------------------ */
    {.id = "icloud-no-pop", .trigger = DIAG_T_PROTOCOL_UNSUPPORTED, .provider = "icloud", .protos = POP3,
     .severity = DIAG_ERROR, .field = DIAG_F_PROTOCOL,
     .title = "iCloud has no POP service",
     .wire = "nothing serves POP for iCloud ({listener}): the client gets no POP greeting at all",
     .fix = "protocol = imap, server = {fix_host}, port = {fix_port}, security = {fix_label}",
     .cite = {DOC(NO, 11, "no", "iCloud støtter ikke POP.", "iCloud does not support POP."),
              DOC(MS, 6, "ms", "iCloud tidak menyokong mel POP.", "iCloud does not support POP mail."),
              DOC(EN, 31, "en", "iCloud does not support POP.", NULL)}},
    {.id = "protocol-unsupported", .trigger = DIAG_T_PROTOCOL_UNSUPPORTED, .severity = DIAG_ERROR,
     .field = DIAG_F_PROTOCOL,
     .title = "the provider has no {proto} service",
     .wire = "nothing serves {proto} ({listener})",
     .fix = "use the provider's other protocol"},
    {.id = "protocol-port", .trigger = DIAG_T_PROTOCOL_PORT, .severity = DIAG_ERROR, .field = DIAG_F_PORT,
     .title = "port {port} serves {other}, not {proto}",
     .wire = "the client speaks {proto} to a {other} server, whose greeting it cannot read: {reply}",
     .fix = "port = {fix_port}, security = {fix_label}",
     .cite = {RFC("RFC 8314", "7.3", "IANA service names: imaps 993, pop3s 995, submissions 465"),
              RFC("RFC 6409", "3.1", "port 587 is reserved for message submission")}},
    {.id = "icloud-imap-port-143", .trigger = DIAG_T_PORT_CLOSED, .provider = "icloud", .protos = IMAP,
     .port = 143, .severity = DIAG_ERROR, .field = DIAG_F_PORT,
     .title = "iCloud serves IMAP on 993 only",
     .wire = "nothing answers on port 143 ({listener}): the connection is refused or times out",
     .fix = "port = {fix_port}, security = {fix_label}",
     .cite = {NO_IMAP_PORT, NO_IMAP_SSL,
              SECTION("1.1", "[I]", "Port 143 on iCloud is not documented [I: model as connection refused or timeout].")}},
    {.id = "port-closed", .trigger = DIAG_T_PORT_CLOSED, .severity = DIAG_ERROR, .field = DIAG_F_PORT,
     .title = "nothing answers {proto} on port {port}",
     .wire = "{listener}: the connection is refused or times out",
     .fix = "port = {fix_port}, security = {fix_label}"},
    {.id = "exchange-smtp-port-25", .trigger = DIAG_T_PORT_ADVICE, .provider = "exchange", .protos = SMTP,
     .port = 25, .severity = DIAG_WARNING, .field = DIAG_F_PORT,
     .title = "Exchange documents port 587 with TLS for SMTP, not 25",
     .wire = "smtp.office365.com also accepts 25 as the same service, but networks often block outgoing port 25: "
             "the connection then times out",
     .fix = "port = 587, security = {fix_label}",
     .cite = {IS_25, SECTION("2.3", "[V]", "same service as 587 (mattermost#954)")}},
    {.id = "exchange-imap-port-143", .trigger = DIAG_T_PORT_ADVICE, .provider = "exchange", .protos = IMAP,
     .port = 143, .severity = DIAG_WARNING, .field = DIAG_F_PORT,
     .title = "Exchange documents SSL on port 993 for IMAP, not 143",
     .wire = "port 143 works only with STARTTLS (LOGINDISABLED until then); the documented setting is TLS at "
             "once on 993",
     .fix = "port = 993, security = {fix_label}",
     .cite = {IS_110_143, IS_995_993}},
    {.id = "exchange-pop-port-110", .trigger = DIAG_T_PORT_ADVICE, .provider = "exchange", .protos = POP3,
     .port = 110, .severity = DIAG_WARNING, .field = DIAG_F_PORT,
     .title = "Exchange documents SSL on port 995 for POP, not 110",
     .wire = "port 110 works only with STLS; the documented setting is TLS at once on 995",
     .fix = "port = 995, security = {fix_label}",
     .cite = {IS_110_143, IS_995_993}},

    /* ---- TLS: what the security setting does against what the port expects --------------------- */
    {.id = "icloud-smtp-ssl-on-587", .trigger = DIAG_T_TLS_IMPLICIT_ON_STARTTLS, .provider = "icloud",
     .protos = SMTP, .port = 587, .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "\"{label}\" starts TLS at once, but iCloud's port 587 greets in plaintext and offers STARTTLS",
     .wire = "the client sends a TLS ClientHello; the server has already sent its plaintext banner \"{reply}\", "
             "which the client's TLS layer reads as a broken record (OpenSSL: \"wrong version number\", Java: "
             "\"Unable to parse TLS packet header\")",
     .fix = "security = {fix_label} on port 587 (or port 465 with TLS at once)",
     .cite = {NO_SMTP_TRY, MS_465,
              SECTION("1.2", "[V]", "The plaintext 220 banner breaks the client's TLS: OpenSSL "
                                    "`ssl3_get_record:wrong version number`")}},
    {.id = "exchange-smtp-ssl-on-587", .trigger = DIAG_T_TLS_IMPLICIT_ON_STARTTLS, .provider = "exchange",
     .protos = SMTP, .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "\"{label}\" starts TLS at once, but Exchange's port {port} offers STARTTLS only",
     .wire = "the client sends a TLS ClientHello; the server has already sent its plaintext banner \"{reply}\" "
             "(Go: \"first record does not look like a TLS handshake\"; Windows: \"failed to receive handshake\")",
     .fix = "security = {fix_label} on port 587",
     .cite = {IS_25, SECTION("2.3", "[V]", "we only support STARTTLS for SMTP")}},
    {.id = "exchange-ssl-on-143-110", .trigger = DIAG_T_TLS_IMPLICIT_ON_STARTTLS, .provider = "exchange",
     .protos = INCOMING, .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "\"{label}\" starts TLS at once, but Exchange's port {port} greets in plaintext: the documentation's "
              "SSL goes with port 993 (IMAP) or 995 (POP), not with {port}",
     .wire = "the client sends a TLS ClientHello; the server has already sent its plaintext greeting \"{reply}\", "
             "which the client's TLS layer reads as a broken record",
     .fix = "port = {fix_port} with TLS at once (the documented setting), or keep port {port} with security = "
            "{fix_label}",
     .cite = {IS_110_143, IS_995_993}},
    {.id = "tls-implicit-on-starttls-port", .trigger = DIAG_T_TLS_IMPLICIT_ON_STARTTLS, .severity = DIAG_ERROR,
     .field = DIAG_F_SECURITY,
     .title = "\"{label}\" starts TLS at once, but port {port} greets in plaintext and offers STARTTLS",
     .wire = "the client sends a TLS ClientHello; the server has already sent its plaintext greeting \"{reply}\", "
             "which the client's TLS layer reads as a broken record (OpenSSL: \"wrong version number\")",
     .fix = "security = {fix_label} on port {port}",
     .cite = {RFC("RFC 3207", "4", "STARTTLS: the client issues the STARTTLS command after the greeting"),
              RFC("RFC 2595", "3", "IMAP STARTTLS / POP3 STLS")}},
    {.id = "icloud-imap-starttls-on-993", .trigger = DIAG_T_TLS_STARTTLS_ON_IMPLICIT, .provider = "icloud",
     .protos = IMAP, .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "\"{label}\" waits for a plaintext greeting, but iCloud's IMAP port {port} starts with TLS",
     .wire = "the client waits for \"* OK\" in plaintext while the server waits for a TLS handshake: nothing "
             "is exchanged until the client times out ({listener})",
     .fix = "security = {fix_label} on port 993",
     .cite = {NO_IMAP_SSL, NO_IMAP_PORT,
              DOC(NO, 17, "no", "Hvis du ser en feilmelding når du bruker SSL, prøver du å bruke TLS i stedet.",
                  "If you see an error message when using SSL, try using TLS instead.")}},
    {.id = "icloud-smtp-starttls-on-465", .trigger = DIAG_T_TLS_STARTTLS_ON_IMPLICIT, .provider = "icloud",
     .protos = SMTP, .port = 465, .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "\"{label}\" waits for a plaintext banner, but iCloud's port 465 starts with TLS",
     .wire = "the client waits for \"220\" in plaintext while the server waits for a TLS handshake ({listener}): "
             "nothing is exchanged until the client times out",
     .fix = "security = {fix_label} on port 465, or port 587 with STARTTLS (the documented setting)",
     .cite = {MS_465, NO_SMTP_PORT, NO_SMTP_TRY}},
    {.id = "exchange-starttls-on-993-995", .trigger = DIAG_T_TLS_STARTTLS_ON_IMPLICIT, .provider = "exchange",
     .protos = INCOMING, .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "\"{label}\" waits for a plaintext greeting, but Exchange's port {port} starts with TLS (SSL)",
     .wire = "the client waits for the greeting in plaintext while the server waits for a TLS handshake: nothing "
             "is exchanged until the client times out ({listener})",
     .fix = "security = {fix_label} on port {port}",
     .cite = {IS_995_993, IS_SSL_TLS}},
    {.id = "tls-starttls-on-implicit-port", .trigger = DIAG_T_TLS_STARTTLS_ON_IMPLICIT, .severity = DIAG_ERROR,
     .field = DIAG_F_SECURITY,
     .title = "\"{label}\" waits for a plaintext greeting, but port {port} starts with TLS",
     .wire = "the client waits for the greeting in plaintext while the server waits for a TLS handshake: "
             "nothing is exchanged until the client times out ({listener})",
     .fix = "security = {fix_label} on port {port}",
     .cite = {RFC("RFC 8314", "3", "implicit TLS: the TLS handshake starts as soon as the connection opens")}},
    {.id = "icloud-imap-ssl-required", .trigger = DIAG_T_TLS_NONE_ON_IMPLICIT, .provider = "icloud", .protos = IMAP,
     .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "no encryption on iCloud's IMAP port {port}: SSL is required",
     .wire = "the client waits for \"* OK\" in plaintext while the server waits for a TLS handshake; its plaintext "
             "gets a TLS alert and the connection closes ({listener})",
     .fix = "security = {fix_label} on port 993",
     .cite = {NO_IMAP_SSL, NO_IMAP_PORT}},
    {.id = "exchange-no-ssl-on-993-995", .trigger = DIAG_T_TLS_NONE_ON_IMPLICIT, .provider = "exchange",
     .protos = INCOMING, .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "no encryption on Exchange's port {port}, which starts with TLS (SSL)",
     .wire = "the client waits for a plaintext greeting while the server waits for a TLS handshake: nothing is "
             "exchanged until the client times out ({listener})",
     .fix = "security = {fix_label} on port {port}",
     .cite = {IS_995_993, IS_SSL_TLS}},
    {.id = "tls-none-on-implicit-port", .trigger = DIAG_T_TLS_NONE_ON_IMPLICIT, .severity = DIAG_ERROR,
     .field = DIAG_F_SECURITY,
     .title = "no encryption on port {port}, which starts with TLS",
     .wire = "the client waits for a plaintext greeting while the server waits for a TLS handshake: nothing is "
             "exchanged until the client times out ({listener})",
     .fix = "security = {fix_label} on port {port}",
     .cite = {RFC("RFC 8314", "3", "implicit TLS: the TLS handshake starts as soon as the connection opens")}},
    {.id = "exchange-no-tls", .trigger = DIAG_T_TLS_NONE_ON_STARTTLS, .provider = "exchange",
     .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "no encryption: Exchange refuses to log in before TLS on port {port}",
     .wire = "{reply}",
     .fix = "security = {fix_label} on port {port}",
     .cite = {IS_110_143, IS_25}},
    {.id = "tls-none-on-starttls-port", .trigger = DIAG_T_TLS_NONE_ON_STARTTLS, .severity = DIAG_ERROR,
     .field = DIAG_F_SECURITY,
     .title = "no encryption: port {port} refuses to log in before STARTTLS",
     .wire = "{reply}",
     .fix = "security = {fix_label} on port {port}",
     .cite = {RFC("RFC 3501", "6.2.3", "LOGINDISABLED: the server does not accept LOGIN before STARTTLS"),
              RFC("RFC 4954", "4", "the server may not offer AUTH before TLS")}},
    {.id = "tls-on-plain-port", .trigger = DIAG_T_TLS_ON_PLAIN, .severity = DIAG_ERROR, .field = DIAG_F_SECURITY,
     .title = "\"{label}\" wants TLS, but port {port} offers none",
     .wire = "{reply}",
     .fix = "port = {fix_port}, security = {fix_label}"},
    {.id = "starttls-optional", .trigger = DIAG_T_STARTTLS_OPTIONAL, .severity = DIAG_WARNING,
     .field = DIAG_F_SECURITY,
     .title = "\"{label}\" uses STARTTLS only when the server offers it",
     .wire = "it works here, but anyone on the path who removes STARTTLS from the server's list gets the login "
             "in plaintext",
     .fix = "security = {fix_label}",
     .cite = {RFC("RFC 8314", "4.1", "mail user agents should not fall back to cleartext when TLS fails")}},
    {.id = "security-ambiguous", .trigger = DIAG_T_SECURITY_AMBIGUOUS, .severity = DIAG_WARNING,
     .field = DIAG_F_SECURITY,
     .title = "\"{label}\" means different things in different clients on port {port}",
     .wire = "{readings}",
     .fix = "say which client this is (client = NAME), or use the label for what port {port} expects: "
            "security = {fix_label}"},
    {.id = "plaintext-password", .trigger = DIAG_T_PLAINTEXT_PASSWORD, .severity = DIAG_WARNING,
     .field = DIAG_F_SECURITY,
     .title = "the password would cross the network unencrypted",
     .wire = "the client sends the user name and password before any TLS",
     .fix = "security = {fix_label}",
     .cite = {RFC("RFC 8314", "4.1", "cleartext access to mail should be phased out")}},

    /* ---- authentication --------------------------------------------------------------------- */
    {.id = "exchange-spa", .trigger = DIAG_T_AUTH_MECH, .provider = "exchange", .auth = DIAG_AUTH_SPA,
     .severity = DIAG_ERROR, .field = DIAG_F_AUTH,
     .title = "Exchange Online does not take Secure Password Authentication (SPA/NTLM)",
     .wire = "the client asks for NTLM, which the server does not offer ({mechs}): {reply}",
     .fix = "auth = {fix_label} (untick \"Require logon using Secure Password Authentication\")",
     .cite = {IS_NO_SPA,
              SECTION("3", "[I]", "Against Exchange Online, an SPA client sends `AUTH NTLM`, which gets `504 5.7.4` on "
                                  "SMTP and `NO AUTHENTICATE failed.` on IMAP")}},
    {.id = "icloud-oauth2", .trigger = DIAG_T_AUTH_MECH, .provider = "icloud", .auth = DIAG_AUTH_OAUTH2,
     .severity = DIAG_ERROR, .field = DIAG_F_AUTH,
     .title = "iCloud offers no OAuth2 to mail clients",
     .wire = "the server offers {mechs}, no XOAUTH2: {reply}",
     .fix = "auth = {fix_label} with an app-specific password",
     .cite = {SECTION("1.1", "[V]", "There is no STARTTLS, no LOGINDISABLED and no AUTH=XOAUTH2."),
              DOC(NO, 20, "no", "Passord: Generer et app-spesifikt passord.",
                  "Password: generate an app-specific password.")}},
    {.id = "auth-mech-not-offered", .trigger = DIAG_T_AUTH_MECH, .severity = DIAG_ERROR, .field = DIAG_F_AUTH,
     .title = "\"{auth}\" is not offered by the server",
     .wire = "the server offers {mechs}: {reply}",
     .fix = "auth = {fix_label}",
     .cite = {RFC("RFC 4954", "4", "a mechanism the server did not advertise fails with 504")}},
    {.id = "icloud-smtp-auth-required", .trigger = DIAG_T_AUTH_NONE, .provider = "icloud", .protos = SMTP,
     .severity = DIAG_ERROR, .field = DIAG_F_AUTH,
     .title = "iCloud requires SMTP authentication",
     .wire = "without AUTH the server refuses to take mail: {reply}",
     .fix = "auth = {fix_label}, username = {fix_username}, password = app-specific",
     .cite = {NO_SMTP_AUTH, DOC(MS, 19, "ms", "Pengesahan SMTP diperlukan: Ya", "SMTP authentication required: yes")}},
    {.id = "smtp-auth-required", .trigger = DIAG_T_AUTH_NONE, .protos = SMTP, .severity = DIAG_ERROR,
     .field = DIAG_F_AUTH,
     .title = "the server requires authentication to send",
     .wire = "without AUTH the server refuses to take mail: {reply}",
     .fix = "auth = {fix_label}",
     .cite = {IS_SAME, RFC("RFC 6409", "4.5", "submission servers authenticate the client")}},
    {.id = "incoming-auth-none", .trigger = DIAG_T_AUTH_NONE, .protos = INCOMING, .severity = DIAG_ERROR,
     .field = DIAG_F_AUTH,
     .title = "a mailbox cannot be read without logging in",
     .wire = "the client never logs in; every mailbox command is refused",
     .fix = "auth = {fix_label}"},
    {.id = "icloud-smtp-port-25", .trigger = DIAG_T_AUTH_NOT_ON_PORT, .provider = "icloud", .protos = SMTP,
     .port = 25, .severity = DIAG_ERROR, .field = DIAG_F_PORT,
     .title = "port 25 is iCloud's incoming mail exchanger, not its submission service",
     .wire = "{listener}: AUTH is not offered and gets \"{reply}\"; mail for other domains is refused",
     .fix = "port = 587, security = {fix_label} (or port 465 with TLS at once)",
     .cite = {NO_SMTP_PORT, MS_465,
              SECTION("1.2", "[V]", "iOS Mail defaults custom servers to port 25 (mjl-/mox#328)")}},
    {.id = "auth-not-on-port", .trigger = DIAG_T_AUTH_NOT_ON_PORT, .severity = DIAG_ERROR, .field = DIAG_F_PORT,
     .title = "port {port} takes no authentication",
     .wire = "{listener}: AUTH gets \"{reply}\"",
     .fix = "port = {fix_port}, security = {fix_label}"},

    /* ---- user names ---------------------------------------------------------------------------- */
    {.id = "icloud-imap-username-full", .trigger = DIAG_T_USERNAME_FALLBACK, .provider = "icloud",
     .protos = IMAP, .severity = DIAG_INFO, .field = DIAG_F_USERNAME,
     .title = "the full address works for iCloud IMAP, but the documented user name is the name part",
     .wire = "the server accepts both forms",
     .fix = "username = {fix_username} (the full address is the documented fallback)",
     .cite = {NO_IMAP_USER}},
    {.id = "icloud-imap-username", .trigger = DIAG_T_USERNAME_FORM, .provider = "icloud", .protos = IMAP,
     .severity = DIAG_ERROR, .field = DIAG_F_USERNAME,
     .title = "iCloud IMAP does not accept this form of user name",
     .wire = "{reply}",
     .fix = "username = {fix_username}",
     .cite = {NO_IMAP_USER}},
    {.id = "icloud-smtp-username-full-address", .trigger = DIAG_T_USERNAME_FORM, .provider = "icloud",
     .protos = SMTP, .severity = DIAG_ERROR, .field = DIAG_F_USERNAME,
     .title = "iCloud SMTP needs the full address as the user name, not the name part",
     .wire = "{reply}",
     .fix = "username = {fix_username}",
     .cite = {DOC(NO, 29, "no",
                  "Brukernavn:\xc2\xa0" /* a no-break space, as on the page */ "Den fullstendige iCloud-e-postadressen (for eksempel emilyparker@icloud.com, ikke "
                  "emilyparker)",
                  "User name: the full iCloud email address (for example emilyparker@icloud.com, not emilyparker)"),
              DOC(DE, 32, "de", "Im Gegensatz zum IMAP-Benutzernamen ist hier die vollständige E-Mail-Adresse erforderlich.",
                  "Unlike the IMAP user name, the full email address is required here.")}},
    {.id = "exchange-username-full-address", .trigger = DIAG_T_USERNAME_FORM, .provider = "exchange",
     .severity = DIAG_ERROR, .field = DIAG_F_USERNAME,
     .title = "Exchange needs the full address as the user name",
     .wire = "{reply}",
     .fix = "username = {fix_username}",
     .cite = {IS_USER, IS_SAME}},
    {.id = "username-form", .trigger = DIAG_T_USERNAME_FORM, .severity = DIAG_ERROR, .field = DIAG_F_USERNAME,
     .title = "the server does not accept this form of user name",
     .wire = "{reply}",
     .fix = "username = {fix_username}"},
    {.id = "username-not-address", .trigger = DIAG_T_USERNAME_OTHER, .severity = DIAG_WARNING,
     .field = DIAG_F_USERNAME,
     .title = "the user name \"{username}\" is neither {email} nor its name part",
     .wire = "unless the account really has that name, the login fails",
     .fix = "username = {fix_username}"},
    {.id = "exchange-same-credentials", .trigger = DIAG_T_USERNAME_DIFFERS, .provider = "exchange",
     .severity = DIAG_WARNING, .field = DIAG_F_USERNAME,
     .title = "incoming and outgoing user names differ; Exchange uses the same for both",
     .fix = "username = {fix_username} for both servers",
     .cite = {IS_SAME}},

    /* ---- passwords ------------------------------------------------------------------------------- */
    {.id = "icloud-app-specific-password", .trigger = DIAG_T_PASSWORD_KIND, .provider = "icloud",
     .severity = DIAG_ERROR, .field = DIAG_F_PASSWORD,
     .title = "iCloud needs an app-specific password, not the Apple ID password",
     .wire = "{reply}",
     .fix = "password = app-specific: generate one on the Apple ID website and use it for both IMAP and SMTP",
     .cite = {DOC(NO, 20, "no", "Passord: Generer et app-spesifikt passord.",
                  "Password: generate an app-specific password."),
              DOC(DE, 19, "de", "Ihr reguläres Apple-ID-Passwort funktioniert hier nicht.",
                  "Your regular Apple ID password does not work here."),
              DOC(MS, 27, "ms",
                  "Sejak 2017, anda perlu mendayakan pengesahan dua langkah untuk akaun iCloud anda dan mencipta kata "
                  "laluan khusus aplikasi untuk digunakan dengan IMAP.",
                  "Since 2017 you must turn on two-step verification for your iCloud account and create an "
                  "app-specific password to use with IMAP.")}},
    {.id = "exchange-account-password", .trigger = DIAG_T_PASSWORD_KIND, .provider = "exchange",
     .severity = DIAG_ERROR, .field = DIAG_F_PASSWORD,
     .title = "Exchange takes the account password here, not an app-specific one",
     .wire = "{reply}",
     .fix = "password = account",
     .cite = {DOC(IS, 25, "is", "Færðu inn aðgangsorðið.", "Enter the password."), IS_SAME,
              SECTION("2.3", "[V]", "App passwords get the same reply (lukevella/rallly#3154).")}},
    {.id = "password-kind", .trigger = DIAG_T_PASSWORD_KIND, .severity = DIAG_ERROR, .field = DIAG_F_PASSWORD,
     .title = "the server does not take this kind of password",
     .wire = "{reply}",
     .fix = "password = {fix_label}"},

    /* ---- account states: possible causes when the settings are right --------------------------- */
    {.id = "exchange-sign-in-web-first", .trigger = DIAG_T_STATE_NOT_SIGNED_IN, .provider = "exchange",
     .severity = DIAG_INFO, .kind = DIAG_KIND_POSSIBLE_CAUSE, .field = DIAG_F_NONE,
     .title = "the account may need one sign-in to Outlook on the web before POP/IMAP work",
     .wire = "{reply}",
     .fix = "sign in once at Outlook on the web, sign out, then connect again",
     .cite = {DOC(IS, 48, "is",
                  "Tenging við tölvupóstreikninginn þinn gegnum POP3 eða IMAP4 mun mistakast ef þú hefur ekki skráð "
                  "reikninginn þinn í Outlook Web App.",
                  "Connecting to your account through POP3 or IMAP4 will fail if you have not registered your "
                  "account in Outlook Web App."),
              SECTION("2.1", "[V]", "every mailbox command (NAMESPACE, SELECT, LIST, EXAMINE) gets `<tag> BAD User "
                                    "is authenticated but not connected.`")}},
    {.id = "exchange-pop-imap-disabled", .trigger = DIAG_T_STATE_PROTOCOL_DISABLED, .provider = "exchange",
     .protos = INCOMING, .severity = DIAG_INFO, .kind = DIAG_KIND_POSSIBLE_CAUSE, .field = DIAG_F_NONE,
     .title = "POP or IMAP may be turned off for the account (\"Not available\" on its settings page)",
     .wire = "right credentials get the same reply as a wrong password: {reply}",
     .fix = "ask the administrator to enable {proto} for the mailbox",
     .cite = {DOC(IS, 38, "is",
                  "Ef það stendur Ekki tiltækt hjá POP-stillingu, IMAP-stillingu og SMTP-stillingu kann að vera að "
                  "notkun á POP eða IMAP-tölvupóstforritum sé ekki uppsett á reikningnum þínum.",
                  "If it says Not available next to POP setting, IMAP setting and SMTP setting, POP or IMAP email "
                  "programs may not be set up for your account.")}},
    {.id = "exchange-basic-auth-disabled", .trigger = DIAG_T_STATE_BASIC_AUTH_DISABLED, .provider = "exchange",
     .severity = DIAG_INFO, .kind = DIAG_KIND_POSSIBLE_CAUSE, .field = DIAG_F_AUTH,
     .title = "passwords may be refused for the account (basic authentication disabled): OAuth2 is needed",
     .wire = "the right password gets: {reply}",
     .fix = "auth = OAuth2 (sign in through the client's Microsoft account flow)",
     .cite = {SECTION("2.3", "[V]", "Security defaults or basic auth blocked: `535 5.7.139 Authentication "
                                    "unsuccessful, basic authentication is disabled."),
              SECTION("2.1", "[V]", "A correct password gets `<tag> NO LOGIN failed.`")}},
    {.id = "exchange-smtp-auth-disabled", .trigger = DIAG_T_STATE_SMTP_AUTH_DISABLED, .provider = "exchange",
     .protos = SMTP, .severity = DIAG_INFO, .kind = DIAG_KIND_POSSIBLE_CAUSE, .field = DIAG_F_AUTH,
     .title = "SMTP AUTH may be turned off for the tenant or the mailbox",
     .wire = "any AUTH gets: {reply}",
     .fix = "ask the administrator to enable authenticated SMTP for the mailbox (https://aka.ms/smtp_auth_disabled)",
     .cite = {SECTION("2.3", "[V]", "Tenant-wide SMTP AUTH off: `535 5.7.139 Authentication unsuccessful, "
                                    "SmtpClientAuthentication is disabled for the Tenant.")}},
    {.id = "state-not-signed-in", .trigger = DIAG_T_STATE_NOT_SIGNED_IN, .severity = DIAG_INFO,
     .kind = DIAG_KIND_POSSIBLE_CAUSE,
     .title = "the account may not be provisioned for mail clients yet",
     .wire = "{reply}",
     .fix = "sign in to the provider's web mail once"},
    {.id = "state-protocol-disabled", .trigger = DIAG_T_STATE_PROTOCOL_DISABLED, .severity = DIAG_INFO,
     .kind = DIAG_KIND_POSSIBLE_CAUSE,
     .title = "{proto} may be turned off for the account",
     .wire = "{reply}",
     .fix = "enable {proto} for the account"},
    {.id = "state-basic-auth-disabled", .trigger = DIAG_T_STATE_BASIC_AUTH_DISABLED, .severity = DIAG_INFO,
     .kind = DIAG_KIND_POSSIBLE_CAUSE, .field = DIAG_F_AUTH,
     .title = "passwords may be refused for the account: OAuth2 is needed",
     .wire = "{reply}",
     .fix = "auth = OAuth2"},
    {.id = "state-smtp-auth-disabled", .trigger = DIAG_T_STATE_SMTP_AUTH_DISABLED, .protos = SMTP,
     .severity = DIAG_INFO, .kind = DIAG_KIND_POSSIBLE_CAUSE, .field = DIAG_F_AUTH,
     .title = "SMTP AUTH may be turned off for the account",
     .wire = "{reply}",
     .fix = "enable authenticated SMTP for the account"},
};

enum { N_RULES = sizeof rules / sizeof *rules };

const diag_rule *diag_rule_at(size_t i)
{
    return i < N_RULES ? &rules[i] : NULL;
}

const diag_rule *diag_rule_find(const char *id)
{
    for (size_t i = 0; i < N_RULES; i++)
        if (!strcmp(rules[i].id, id))
            return &rules[i];
    return NULL;
}

/* How specific a matching row is; -1 when it does not match. */
static int specificity(const diag_rule *r, const char *provider, diag_proto proto, unsigned port, diag_auth auth)
{
    if (r->provider && (!provider || strcmp(r->provider, provider)))
        return -1;
    if (r->protos && !(r->protos & DIAG_PBIT(proto)))
        return -1;
    if (r->port && r->port != port)
        return -1;
    if (r->auth != DIAG_AUTH_UNSET && r->auth != auth)
        return -1;
    return (r->provider ? 8 : 0) + (r->port ? 4 : 0) + (r->auth ? 2 : 0) + (r->protos ? 1 : 0);
}

const diag_rule *diag_rule_for(diag_trigger t, const char *provider, diag_proto proto, unsigned port,
                               diag_auth auth)
{
    const diag_rule *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < N_RULES; i++) {
        if (rules[i].trigger != t)
            continue;
        int s = specificity(&rules[i], provider, proto, port, auth);
        if (s > best_score) {
            best = &rules[i];
            best_score = s;
        }
    }
    return best;
}
