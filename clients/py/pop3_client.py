#!/usr/bin/env python3
"""POP3 client under test: Python's poplib logs in and asks STAT (see common.py)."""
import poplib
import socket
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import common  # noqa: E402


def connect(args, ctx):
    sock = socket.create_connection((args.host, args.port), args.timeout)
    m = poplib.POP3.__new__(poplib.POP3_SSL if args.security == "ssl" else poplib.POP3)
    m.host, m.port, m._tls_established = common.name(args), args.port, False
    if args.security == "ssl":
        m.context = ctx
        sock = ctx.wrap_socket(sock, server_hostname=common.name(args))
        m._tls_established = True
    m.sock = sock
    m.file = sock.makefile("rb")
    m._debugging = 0
    m.welcome = m._getresp()
    return m


def main():
    args = common.parser(__doc__).parse_args()
    pw = common.password(args)
    ctx = common.tls_context(args)
    try:
        m = connect(args, ctx)
        print("greeting:", m.welcome)
        if args.security == "starttls":
            m.stls(context=ctx)
        m.user(args.user)
        m.pass_(pw)
        print("stat:", m.stat())
        m.quit()
    except (poplib.error_proto, OSError) as e:
        common.fail(e)


if __name__ == "__main__":
    main()
