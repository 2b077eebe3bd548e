#!/usr/bin/env python3
"""IMAP client under test: Python's imaplib logs in and selects INBOX (see common.py)."""
import imaplib
import socket
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import common  # noqa: E402


class _Conn(imaplib.IMAP4):
    """IMAP4 connecting to --host while the TLS checks use --server-name."""

    def __init__(self, args, **kw):
        self._args = args
        super().__init__(common.name(args), args.port, **kw)

    def _create_socket(self, timeout):
        return socket.create_connection((self._args.host, self._args.port), timeout)


class _ConnSSL(imaplib.IMAP4_SSL):
    def __init__(self, args, ctx):
        self._args = args
        super().__init__(common.name(args), args.port, ssl_context=ctx, timeout=args.timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._args.host, self._args.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def main():
    args = common.parser(__doc__).parse_args()
    pw = common.password(args)
    ctx = common.tls_context(args)
    try:
        if args.security == "ssl":
            m = _ConnSSL(args, ctx)
        else:
            m = _Conn(args, timeout=args.timeout)
            if args.security == "starttls":
                m.starttls(ssl_context=ctx)
        print("capabilities:", " ".join(m.capabilities))
        if args.auth and args.auth.upper() == "PLAIN":
            m.authenticate("PLAIN", lambda _: "\0%s\0%s" % (args.user, pw))
        else:
            m.login(args.user, pw)
        typ, data = m.select("INBOX", readonly=True)
        print("select:", typ, data)
        m.logout()
    except (imaplib.IMAP4.error, OSError) as e:
        common.fail(e)


if __name__ == "__main__":
    main()
