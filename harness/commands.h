/* commands.h -- the subcommand table. Add a row here and a harness/cmd_<name>.c. */
#ifndef MAILRIG_HARNESS_COMMANDS_H
#define MAILRIG_HARNESS_COMMANDS_H

#define MAILRIG_COMMANDS(X) \
    X(parse, "parse protocol bytes from a file or stdin and print the items (debugging aid)") \
    X(certs, "create the test PKI (test CA, server certificates) and print its paths") \
    X(lint, "check scenario files (*.scn) for errors without running them") \
    X(profile, "list, show (resolved, with --set overrides) or check provider profiles") \
    X(serve, "run a provider profile's IMAP, SMTP and POP3 mock servers on loopback") \
    X(client, "start a client under test through its adapter (clients/NAME.ini) and report") \
    X(run, "run scenarios (files, directories, catalogue names) and report; JUnit and JSON") \
    X(reproduce, "run a user's settings, then the corrected ones, against the provider's mock") \
    X(list, "list the scenario catalogue: name, role, profile, tags, description, file") \
    X(replay, "play a recorded conversation (transcript or client log) back as server or client, or write it as a .scn") \
    X(diagnose, "judge a user's mail client settings (file or flags): findings, wire, fix, sources") \
    X(probe, "try the usual ports and security modes of a loopback mail host; recommend settings")

#define X(name, summary) int cmd_##name(int argc, char **argv);
MAILRIG_COMMANDS(X)
#undef X

#endif
