#!/usr/bin/env python3
"""SMTP submission client under test: Python's smtplib authenticates and sends one message
(see common.py)."""
import smtplib
import socket
import sys
from email.message import EmailMessage

sys.path.insert(0, __import__("os").path.dirname(__file__))
import common  # noqa: E402


class _SMTP(smtplib.SMTP):
    def __init__(self, args, **kw):
        self._args = args
        super().__init__(**kw)

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self._args.host, self._args.port), timeout)


class _SMTPS(smtplib.SMTP_SSL):
    def __init__(self, args, **kw):
        self._args = args
        super().__init__(**kw)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((self._args.host, self._args.port), timeout)
        return self.context.wrap_socket(sock, server_hostname=common.name(self._args))


def main():
    args = common.parser(__doc__).parse_args()
    pw = common.password(args)
    ctx = common.tls_context(args)
    sender = args.from_ or args.user
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, args.to or sender, "mailrig client test"
    msg.set_content("A message sent by a client under test.\n")
    try:
        if args.security == "ssl":
            s = _SMTPS(args, context=ctx, timeout=args.timeout)
        else:
            s = _SMTP(args, timeout=args.timeout)
        s._host = common.name(args)
        s.connect(common.name(args), args.port)
        s.ehlo("client.example")
        if args.security == "starttls":
            s.starttls(context=ctx)
            s.ehlo("client.example")
        if args.auth:
            s.user, s.password = args.user, pw
            s.auth(args.auth.upper(), getattr(s, "auth_" + args.auth.lower().replace("-", "_")))
        else:
            s.login(args.user, pw)
        s.send_message(msg, from_addr=sender, to_addrs=[args.to or sender])
        s.quit()
        print("sent")
    except (smtplib.SMTPException, OSError) as e:
        common.fail(e)


if __name__ == "__main__":
    main()
