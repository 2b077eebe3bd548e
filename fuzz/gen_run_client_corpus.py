#!/usr/bin/python3
"""Write the seed corpus corpora/run_client/ for fuzz_run_client.

Each seed is one byte choosing the script (0 SMTP, 1 IMAP, 2 POP3, 3 line patterns), then the
bytes the server sends. The replies are the generic profile's templates (profiles/generic.ini)
expanded as its mock sends them, in the order the script expects them, so that the fuzzer
starts with inputs that pass every step; variants stop early, malform a line or inject
plaintext after STARTTLS. Run from the repository root: fuzz/gen_run_client_corpus.py

The mock-* seeds are real: what the generic profile's mock sent (its IMAP, SMTP and POP3
sessions), taken from the server-side transcripts of a run. Make them again with
    fuzz/gen_run_client_corpus.py --from-transcript WORK/mock/conn-00001-imap-993.log 1 mock-generic-imap
after running, through the interpreter, a client-role scenario that sends the script's
commands to the mock (implicit TLS, `wait` between the sends, no expectations).
"""
import pathlib
import re
import sys

ESC = {"\\\\": b"\\", "\\r": b"\r", "\\n": b"\n", "\\t": b"\t", "\\0": b"\0"}


def unescape(text):
    """Undo the transcript's escaping of a data record (servers/transcript.h)."""
    out = bytearray()
    for tok in re.split(r"(\\x[0-9a-fA-F]{2}|\\[\\rnt0])", text):
        if tok.startswith("\\x") and len(tok) == 4:
            out.append(int(tok[2:], 16))
        elif tok in ESC:
            out += ESC[tok]
        else:
            out += tok.encode()
    return bytes(out)


def from_transcript(path, script, name):
    """The server's bytes of one transcript (S: lines with CRLF, S| as they are)."""
    data = bytearray([int(script)])
    for line in pathlib.Path(path).read_text().splitlines():
        m = re.match(r"^\S+ conn \d+ S([:|]) ?(.*)$", line)
        if m:
            data += unescape(m.group(2)) + (b"\r\n" if m.group(1) == ":" else b"")
    pathlib.Path("corpora/run_client", name).write_bytes(bytes(data))


if len(sys.argv) == 5 and sys.argv[1] == "--from-transcript":
    from_transcript(*sys.argv[2:])
    sys.exit(0)

CAPS = ("IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE STARTTLS LOGINDISABLED "
        "AUTH=PLAIN AUTH=XOAUTH2")

SEEDS = {
    "smtp-full": (0, "220 smtp.example.test ESMTP Service ready\r\n"
                     "250-smtp.example.test greets fuzz.test\r\n250-PIPELINING\r\n"
                     "250-SIZE 36700160\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
                     "220 2.0.0 Ready to start TLS\r\n"),
    "smtp-injection": (0, "220 smtp.example.test ESMTP Service ready\r\n"
                          "250-smtp.example.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
                          "220 2.0.0 Ready to start TLS\r\n250-injected\r\n"),
    "smtp-bare-lf": (0, "220 smtp.example.test ESMTP Service ready\n"),
    "smtp-auth-before-tls": (0, "220 x ESMTP\r\n250-x\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"),
    "imap-full": (1, f"* OK [CAPABILITY {CAPS}] IMAP4rev1 Service Ready\r\n"
                     f"a1 OK [CAPABILITY {CAPS}] LOGIN completed\r\n"
                     "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                     "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
                     "a2 OK [READ-WRITE] SELECT completed\r\n"
                     "* 3 FETCH (FLAGS (\\Seen) BODY[] {21}\r\nSubject: hi\r\n\r\nbody\r\n)\r\n"
                     "a3 OK FETCH completed\r\n+ \r\n"
                     "a4 NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
                     "* BYE Logging out\r\n"),
    "imap-wrong-tag": (1, f"* OK [CAPABILITY {CAPS}] ready\r\nb9 OK what\r\n"),
    "imap-literal-huge": (1, "* OK [CAPABILITY AUTH=PLAIN] ready\r\n* 1 FETCH (BODY[] {99999999}\r\n"),
    "pop3-full": (2, "+OK POP3 server ready\r\n+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
                     "SASL PLAIN\r\nSTLS\r\nUSER\r\n.\r\n+OK\r\n-ERR [AUTH] Authentication failed\r\n"
                     "+ \r\n+OK logged in\r\n+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
                     "+OK 120 octets\r\nSubject: 3\r\n\r\n..dot-stuffed\r\n.\r\n"
                     "+OK\r\nline\r\n.\r\n+OK Begin TLS negotiation\r\n"),
    "pop3-no-end": (2, "+OK ready\r\n+OK caps\r\nSTLS\r\n"),
    "lines": (3, f"* OK [CAPABILITY {CAPS}] ready\r\n+ \r\na1 OK done\r\n* ID {{5}}\r\n* BYE\r\n"),
    "lines-bare": (3, "* OK x\n+ \n"),
    "empty-smtp": (0, ""),
}

out = pathlib.Path("corpora/run_client")
out.mkdir(parents=True, exist_ok=True)
for name, (script, text) in SEEDS.items():
    (out / name).write_bytes(bytes([script]) + text.encode())
