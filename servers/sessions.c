/* sessions.c -- see sessions.h. */
#include "servers/sessions.h"

#include "servers/smtpd.h"

session_factory sessions_factory(profile_proto proto)
{
    switch (proto) {
    case PROFILE_SMTP:
        return smtpd_new;
    case PROFILE_IMAP:
    case PROFILE_POP3:
    case PROFILE_PROTO_COUNT:
        break;
    }
    return NULL;
}
