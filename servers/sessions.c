/* sessions.c -- see sessions.h. */
#include "servers/sessions.h"

#include "servers/imapd.h"
#include "servers/pop3d.h"
#include "servers/smtpd.h"

session_factory sessions_factory(profile_proto proto)
{
    switch (proto) {
    case PROFILE_IMAP:
        return imapd_factory;
    case PROFILE_SMTP:
        return smtpd_new;
    case PROFILE_POP3:
        return pop3d_new;
    case PROFILE_PROTO_COUNT:
        break;
    }
    return NULL;
}
