"""A tiny permissive IMAP/SMTP/POP3 server for the adapter tests: implicit TLS (or plaintext),
any user and password accepted, every line the client sent kept. Enough of each protocol for
curl, msmtp, swaks, fetchmail, mbsync, s-nail and the Python libraries to log in and finish.
Loopback only; each connection has a 20 s idle limit so that nothing hangs a test."""
import socket
import ssl
import threading


class FakeServer:
    def __init__(self, proto, certfile=None, keyfile=None):
        self.proto = proto
        self.lines = []  # (conn number, line) as the client sent them
        self.ctx = None
        if certfile:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(certfile, keyfile)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.nconn = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stopped = True
        self.sock.close()

    def text(self):
        return "\n".join(l for _, l in self.lines)

    def _accept(self):
        while not self.stopped:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            self.nconn += 1
            threading.Thread(target=self._serve, args=(s, self.nconn), daemon=True).start()

    def _serve(self, s, n):
        s.settimeout(20)
        try:
            if self.ctx:
                s = self.ctx.wrap_socket(s, server_side=True)
            f = s.makefile("rb")
            getattr(self, "_" + self.proto)(s, f, n)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            s.close()

    def _read(self, f, n):
        l = f.readline()
        if not l:
            raise EOFError
        text = l.decode("utf-8", "replace").rstrip("\r\n")
        self.lines.append((n, text))
        return text

    @staticmethod
    def _send(s, *lines):
        s.sendall("".join(l + "\r\n" for l in lines).encode())

    def _imap(self, s, f, n):
        caps = "IMAP4rev1 AUTH=PLAIN AUTH=LOGIN ID UIDPLUS"
        self._send(s, "* OK [CAPABILITY %s] fake ready" % caps)
        while True:
            try:
                l = self._read(f, n)
            except EOFError:
                return
            tag, _, rest = l.partition(" ")
            cmd = rest.split(" ")[0].upper()
            if cmd == "UID":
                cmd = "UID " + rest.split(" ")[1].upper() if len(rest.split(" ")) > 1 else cmd
            if cmd == "CAPABILITY":
                self._send(s, "* CAPABILITY " + caps, tag + " OK done")
            elif cmd == "AUTHENTICATE":
                args = rest.split(" ")
                steps = 2 if args[1].upper() == "LOGIN" else 1
                if len(args) > 2:
                    steps -= 1
                for i in range(steps):
                    self._send(s, "+ " + ("VXNlcm5hbWU6" if steps == 2 and i == 0 else
                                          "UGFzc3dvcmQ6" if args[1].upper() == "LOGIN" else ""))
                    self._read(f, n)
                self._send(s, tag + " OK [CAPABILITY %s] logged in" % caps)
            elif cmd == "LOGIN":
                self._send(s, tag + " OK [CAPABILITY %s] logged in" % caps)
            elif cmd in ("SELECT", "EXAMINE"):
                self._send(s, "* FLAGS (\\Seen \\Deleted)", "* 0 EXISTS", "* 0 RECENT",
                           "* OK [UIDVALIDITY 42] ok", "* OK [UIDNEXT 1] ok",
                           tag + " OK [READ-%s] done" % ("ONLY" if cmd == "EXAMINE" else "WRITE"))
            elif cmd in ("LIST", "LSUB"):
                self._send(s, '* %s (\\HasNoChildren) "/" INBOX' % cmd, tag + " OK done")
            elif cmd == "NAMESPACE":
                self._send(s, '* NAMESPACE (("" "/")) NIL NIL', tag + " OK done")
            elif cmd == "LOGOUT":
                self._send(s, "* BYE bye", tag + " OK done")
                return
            elif cmd == "IDLE":
                self._send(s, "+ idling")
                self._read(f, n)
                self._send(s, tag + " OK done")
            else:
                self._send(s, tag + " OK done")

    def _smtp(self, s, f, n):
        self._send(s, "220 fake.example ESMTP")
        while True:
            try:
                l = self._read(f, n)
            except EOFError:
                return
            cmd = l.split(" ")[0].upper()
            if cmd == "EHLO":
                self._send(s, "250-fake.example", "250-PIPELINING", "250-8BITMIME",
                           "250 AUTH PLAIN LOGIN")
            elif cmd == "AUTH":
                args = l.split(" ")
                steps = 2 if args[1].upper() == "LOGIN" else 1
                if len(args) > 2:
                    steps -= 1
                for i in range(steps):
                    self._send(s, "334 " + ("VXNlcm5hbWU6" if steps == 2 and i == 0 else
                                            "UGFzc3dvcmQ6" if args[1].upper() == "LOGIN" else ""))
                    self._read(f, n)
                self._send(s, "235 2.7.0 ok")
            elif cmd == "DATA":
                self._send(s, "354 go ahead")
                while self._read(f, n) != ".":
                    pass
                self._send(s, "250 2.0.0 queued")
            elif cmd == "QUIT":
                self._send(s, "221 bye")
                return
            else:
                self._send(s, "250 ok")

    def _pop3(self, s, f, n):
        self._send(s, "+OK fake ready <1.2@fake.example>")
        while True:
            try:
                l = self._read(f, n)
            except EOFError:
                return
            cmd = l.split(" ")[0].upper()
            if cmd == "CAPA":
                self._send(s, "+OK caps", "USER", "SASL PLAIN LOGIN", "UIDL", "TOP", ".")
            elif cmd == "AUTH":
                args = l.split(" ")
                if len(args) == 1:
                    self._send(s, "+OK", "PLAIN", "LOGIN", ".")
                    continue
                steps = (2 if args[1].upper() == "LOGIN" else 1) - (1 if len(args) > 2 else 0)
                for _ in range(steps):
                    self._send(s, "+ ")
                    self._read(f, n)
                self._send(s, "+OK logged in")
            elif cmd == "STAT":
                self._send(s, "+OK 0 0")
            elif cmd in ("LIST", "UIDL") and len(l.split(" ")) == 1:
                self._send(s, "+OK 0 messages", ".")
            elif cmd == "QUIT":
                self._send(s, "+OK bye")
                return
            else:
                self._send(s, "+OK")
