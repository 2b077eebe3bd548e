#!/usr/bin/env python3
"""A deliberately careless mail client, for the engine's tests (not for users).

With no flags it is careful: it upgrades with STARTTLS when told to, verifies the server
certificate, authenticates once with a mechanism the server offered, ends lines in CRLF.
Each flag breaks one rule, so that a test can show that the matching check, and only it,
flags the client:

  login-before-starttls    send the credentials in plaintext before STARTTLS
  ignore-cert              accept any certificate
  pipeline-after-starttls  send a command in the same write as STARTTLS
  mech-not-offered         authenticate with NTLM, whatever the server offered
  wrong-username-form      log in with the other form (local part <-> full address)
  retry=N                  try again N more times after a failed login
  bare-lf                  end lines with LF only

Settings: --proto imap|smtp|pop3, --host, --port, --server-name, --security ssl|starttls|none,
--user, --cafile; the password in $MAILRIG_CLIENT_PASSWORD; flags in --flags or
$MAILRIG_CARELESS_FLAGS (comma- or space-separated).
"""
import argparse
import base64
import os
import socket
import ssl
import sys


class Conn:
    def __init__(self, a, flags):
        self.a, self.flags = a, flags
        self.eol = b"\n" if "bare-lf" in flags else b"\r\n"
        self.sock = socket.create_connection((a.host, a.port), 15)
        self.buf = b""
        if a.security == "ssl":
            self.tls()

    def tls(self):
        if "ignore-cert" in self.flags:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=self.a.cafile or None)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.a.server_name or self.a.host)
        self.buf = b""  # a careful client drops what came before the handshake

    def send(self, *lines):
        data = b"".join(l.encode() + self.eol for l in lines)
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        l, _, self.buf = self.buf.partition(b"\n")
        text = l.rstrip(b"\r").decode("utf-8", "replace")
        print("S:", text)
        return text


def other_form(user):
    return user.split("@")[0] if "@" in user else user + "@example.com"


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Imap:
    def __init__(self, c):
        self.c, self.n = c, 0

    def cmd(self, text, *pipelined):
        """Send a command; return its status and every line of the response (the untagged
        ones too: CAPABILITY's list is untagged)."""
        self.n += 1
        tag = "a%d" % self.n
        self.c.send(tag + " " + text, *pipelined)
        lines = []
        while True:
            l = self.c.line()
            lines.append(l)
            if l.startswith(tag + " "):
                return l.split(" ")[1].upper(), " ".join(lines)
            if l.startswith("+"):
                return "+", l

    def greet(self):
        return self.c.line()

    def caps(self):
        _, text = self.cmd("CAPABILITY")
        return text

    def starttls(self, pipeline):
        extra = ["a99 NOOP"] if pipeline else []
        st, _ = self.cmd("STARTTLS", *extra)
        return st == "OK"

    def login(self, user, pw, mech):
        if mech:
            st, _ = self.cmd("AUTHENTICATE %s %s" % (mech, b64("\0%s\0%s" % (user, pw))))
            return st == "OK"
        st, _ = self.cmd('LOGIN "%s" "%s"' % (user, pw))
        return st == "OK"

    def quit(self):
        self.cmd("LOGOUT")


class Smtp:
    def __init__(self, c):
        self.c = c

    def reply(self):
        lines = []
        while True:
            l = self.c.line()
            lines.append(l)
            if len(l) < 4 or l[3] != "-":
                return l[:3], lines

    def greet(self):
        return self.reply()

    def caps(self):
        self.c.send("EHLO client.example")
        lines = self.reply()[1]
        self.offered = [w.upper() for l in lines if l[4:9].upper() == "AUTH "
                        for w in l[9:].split()]
        return " ".join(lines)

    def starttls(self, pipeline):
        self.c.send("STARTTLS", *(["NOOP"] if pipeline else []))
        return self.reply()[0] == "220"

    def login(self, user, pw, mech):
        # careful: PLAIN when offered, else LOGIN when offered (Exchange offers no PLAIN);
        # with nothing offered (before STARTTLS) PLAIN, which only the careless get to send
        offered = getattr(self, "offered", [])
        if mech is None and "PLAIN" not in offered and "LOGIN" in offered:
            self.c.send("AUTH LOGIN")
            if self.reply()[0] != "334":
                return False
            self.c.send(b64(user))
            if self.reply()[0] != "334":
                return False
            self.c.send(b64(pw))
            return self.reply()[0] == "235"
        self.c.send("AUTH %s %s" % (mech or "PLAIN", b64("\0%s\0%s" % (user, pw))))
        return self.reply()[0] == "235"

    def quit(self):
        self.c.send("QUIT")


class Pop3:
    def __init__(self, c):
        self.c = c

    def greet(self):
        return self.c.line()

    def caps(self):
        self.c.send("CAPA")
        lines = [self.c.line()]
        if lines[0].startswith("+OK"):
            while lines[-1] != ".":
                lines.append(self.c.line())
        return " ".join(lines)

    def starttls(self, pipeline):
        self.c.send("STLS", *(["NOOP"] if pipeline else []))
        return self.c.line().startswith("+OK")

    def login(self, user, pw, mech):
        if mech:
            self.c.send("AUTH %s %s" % (mech, b64("\0%s\0%s" % (user, pw))))
            return self.c.line().startswith("+OK")
        self.c.send("USER " + user)
        if not self.c.line().startswith("+OK"):
            return False
        self.c.send("PASS " + pw)
        return self.c.line().startswith("+OK")

    def quit(self):
        self.c.send("QUIT")


def run(a, flags):
    pw = os.environ.get("MAILRIG_CLIENT_PASSWORD", "")
    user = other_form(a.user) if "wrong-username-form" in flags else a.user
    mech = "NTLM" if "mech-not-offered" in flags else None
    retries = 0
    for f in flags:
        if f.startswith("retry="):
            retries = int(f[6:])
    ok = False
    for attempt in range(retries + 1):
        c = Conn(a, flags)
        p = {"imap": Imap, "smtp": Smtp, "pop3": Pop3}[a.proto](c)
        p.greet()
        caps = p.caps()
        if "login-before-starttls" in flags and a.security == "starttls":
            p.login(user, pw, mech)
        if a.security == "starttls":
            if "STARTTLS" not in caps.upper() and "STLS" not in caps.upper():
                print("error: STARTTLS not offered; not sending the password in clear")
                return 1
            if not p.starttls("pipeline-after-starttls" in flags):
                print("error: STARTTLS refused")
                return 1
            c.tls()
            caps = p.caps()
        if mech is None and a.proto != "pop3" and "AUTH=PLAIN" not in caps.upper() \
                and a.proto == "imap" and "LOGINDISABLED" in caps.upper():
            print("error: LOGIN disabled")
            return 1
        ok = p.login(user, pw, mech)
        p.quit()
        if ok:
            break
    print("logged in" if ok else "error: authentication failed")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proto", choices=("imap", "smtp", "pop3"), required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-name")
    ap.add_argument("--security", choices=("ssl", "starttls", "none"), default="starttls")
    ap.add_argument("--user", required=True)
    ap.add_argument("--cafile")
    ap.add_argument("--flags", default=os.environ.get("MAILRIG_CARELESS_FLAGS", ""))
    a = ap.parse_args()
    flags = [f for f in a.flags.replace(",", " ").split() if f]
    try:
        sys.exit(run(a, flags))
    except (OSError, EOFError, ssl.SSLError) as e:
        print("error:", e)
        sys.exit(1)


if __name__ == "__main__":
    main()
