"""Settings shared by the Python client scripts (imap_client.py, smtp_client.py,
pop3_client.py): the account dialog a user fills in, as command-line options. The password
is read from $MAILRIG_CLIENT_PASSWORD (or --password-file), never from the command line."""
import argparse
import os
import ssl
import sys


def parser(desc):
    p = argparse.ArgumentParser(description=desc)
    p.add_argument("--host", default="127.0.0.1", help="address to connect to")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-name", help="the provider host name (SNI, certificate check)")
    p.add_argument("--security", choices=("ssl", "starttls", "none"), default="ssl")
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", help="read the password from this file")
    p.add_argument("--cafile", help="trust this CA (PEM) instead of the system's")
    p.add_argument("--auth", help="SASL mechanism (PLAIN, LOGIN...); default: the library's")
    p.add_argument("--from", dest="from_", help="envelope sender (SMTP)")
    p.add_argument("--to", help="recipient (SMTP)")
    p.add_argument("--timeout", type=float, default=20.0)
    return p


def password(args):
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as f:
            return f.read().rstrip("\r\n")
    pw = os.environ.get("MAILRIG_CLIENT_PASSWORD")
    if pw is None:
        sys.exit("no password: set MAILRIG_CLIENT_PASSWORD or give --password-file")
    return pw


def tls_context(args):
    """A verifying context: the CA given (or the system's) and the host name checked."""
    ctx = ssl.create_default_context(cafile=args.cafile or None)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def name(args):
    return args.server_name or args.host


def fail(msg):
    print("error: %s" % msg, file=sys.stderr)
    sys.exit(1)
