/* sessions.h -- the protocol sessions the mock servers run, one factory per protocol.
 *
 * Each factory takes a mock_listener (mock.h) as its context. A protocol without a session
 * in this build has no factory: mock_start() then refuses a profile that listens for it.
 */
#ifndef MAILRIG_SERVERS_SESSIONS_H
#define MAILRIG_SERVERS_SESSIONS_H

#include "servers/profile.h"
#include "servers/session.h"

/* The factory for proto, or NULL. */
session_factory sessions_factory(profile_proto proto);

#endif
