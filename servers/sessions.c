/* sessions.c -- see sessions.h. */
#include "servers/sessions.h"

#include "servers/imapd.h"

session_factory sessions_factory(profile_proto proto)
{
    switch (proto) {
    case PROFILE_IMAP:
        return imapd_factory;
    case PROFILE_SMTP:
    case PROFILE_POP3:
    case PROFILE_PROTO_COUNT:
        break;
    }
    return NULL;
}
