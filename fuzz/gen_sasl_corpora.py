#!/usr/bin/env python3
"""Write the seed corpora corpora/sasl_messages/ and corpora/base64_codec/.

Run from the repository root: fuzz/gen_sasl_corpora.py. Existing files with the same names are
overwritten; regression files (regress-*) are left alone.

Sources: RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5), RFC 7628 (OAUTHBEARER), RFC 4648 (base64),
Google's and Microsoft's XOAUTH2 documentation, draft-murchison-sasl-login and the provider
transcripts in ../shared/PROVIDERS.md (Exchange Online AUTH LOGIN / XOAUTH2, iCloud AUTH PLAIN,
Exchange on-premises "334 NTLM supported", Gmail's mechanism list).

fuzz_sasl_messages reads its first byte as the target: '@' PLAIN, 'A' LOGIN challenge,
'B' LOGIN response, 'C' CRAM-MD5 challenge, 'D' CRAM-MD5 response, 'E' XOAUTH2, 'F' OAUTHBEARER,
'G' OAuth error JSON, 'H' continuation lines, 'I' payload (next byte '0' initial response,
'1' client response, '2' server challenge), 'J' mechanism name, 'K' escapes, 'L' redaction (next
byte: mechanism number, then step + 4 for base64), 'M'..'O' every message parser.
"""
import base64
import os

A = b"\x01"


def b64(b):
    return base64.b64encode(b)


GOOGLE_X2 = b"user=someuser@example.com" + A + b"auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg" + A + A
MS_X2 = b"user=test@contoso.onmicrosoft.com" + A + b"auth=Bearer EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA" + A + A
JWT = (b"eyJ0eXAiOiJKV1QiLCJub25jZSI6IkFRQUJBQUFBQUFEQ29NcGpKWHJ4VHE5Vkc5dGUtN0ZYIiwiYWxnIjoiUlMyNTYifQ."
       b"eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlLmNvbSIsInNjcCI6IklNQVAuQWNjZXNzQXNVc2VyLkFsbCBTTVRQLlNlbmQifQ."
       b"c2lnbmF0dXJlLWJ5dGVzLWdvLWhlcmUtLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0")
RFC_OB = (b"n,a=user@example.com," + A + b"host=server.example.com" + A + b"port=143" + A +
          b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==" + A + A)
RFC_OB_SMTP = RFC_OB.replace(b"port=143", b"port=587")
RFC_ERR = (b'{"status":"invalid_token","scope":"example_scope",'
           b'"openid-configuration":"https://example.com/.well-known/openid-configuration"}')
GOOGLE_ERR = b'{"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"}\n'
CRAM_CH = b"<1896.697170952@postoffice.reston.mci.net>"
CRAM_RESP = b"tim b913a602c7eda7a495b4e6e7334d3890"
PLAIN_RFC = b"\0tim\0tanstaaftanstaaf"

sasl = {
    # PLAIN
    "plain-rfc4616-tim": b"@" + PLAIN_RFC,
    "plain-rfc4616-authzid-ursel": b"@Ursel\0Kurt\0xipj3plmq",
    "plain-icloud-name-part-app-password": b"@\0emilyparker\0abcd-efgh-ijkl-mnop",
    "plain-icloud-full-address": b"@\0emilyparker@icloud.com\0abcd-efgh-ijkl-mnop",
    "plain-exchange-full-address": b"@\0tony@contoso.com\0P@ssw0rd!",
    "plain-master-user-authzid": b"@user@example.com\0admin@example.com\0m4ster",
    "plain-utf8-user-password": "@\0jörg@example.de\0pässwörd€".encode(),
    "plain-latin1-password": b"@\0tim\0caf\xe9",
    "plain-overlong-utf8-nul": b"@\0t\xc0\x80m\0pass",
    "plain-missing-nul": b"@tim\0secret",
    "plain-no-nul": b"@tim secret",
    "plain-extra-nul": b"@\0tim\0pa\0ss",
    "plain-empty-authcid": b"@\0\0secret",
    "plain-empty-passwd": b"@\0tim\0",
    "plain-empty": b"@",
    "plain-password-300-bytes": b"@\0tim\0" + b"p" * 300,
    "plain-authzid-300-bytes": b"@" + b"z" * 300 + b"\0tim\0p",
    "plain-crlf-in-password": b"@\0tim\0a\r\nb",
    # LOGIN
    "login-challenge-exchange-username": b"AUsername:",
    "login-challenge-exchange-password": b"APassword:",
    "login-challenge-cyrus-user-name-nul": b"AUser Name\0",
    "login-challenge-cyrus-password-nul": b"APassword\0",
    "login-challenge-draft-user-name": b"AUser Name",
    "login-challenge-lowercase": b"Ausername:",
    "login-challenge-german": "ABenutzername:".encode(),
    "login-challenge-latin1": b"ABenutzern\xe4me",
    "login-challenge-crlf": b"AUsername:\r\n",
    "login-response-exchange-user": b"Btony@contoso.com",
    "login-response-password": b"BP@ssw0rd",
    "login-response-empty": b"B",
    "login-response-nul": b"Bpa\0ss",
    "login-response-latin1": b"Bcaf\xe9",
    "login-response-300-bytes": b"B" + b"u" * 300,
    # CRAM-MD5
    "cram-challenge-rfc2195": b"C" + CRAM_CH,
    "cram-challenge-dovecot": b"C<6117354381902478.1700000000@mail.example.org>",
    "cram-challenge-ip-literal": b"C<1.2@[127.0.0.1]>",
    "cram-challenge-no-timestamp": b"C<12345@host>",
    "cram-challenge-letters": b"C<abc.def@host>",
    "cram-challenge-no-brackets": b"C1896.697170952@host",
    "cram-challenge-trailing": b"C<1.2@h>x",
    "cram-challenge-empty-host": b"C<1.2@>",
    "cram-response-rfc2195": b"D" + CRAM_RESP,
    "cram-response-upper-hex": b"Dtim B913A602C7EDA7A495B4E6E7334D3890",
    "cram-response-user-with-space": b"Dtim smith b913a602c7eda7a495b4e6e7334d3890",
    "cram-response-short-digest": b"Dtim b913a6",
    "cram-response-no-space": b"Dtimb913a602c7eda7a495b4e6e7334d3890",
    "cram-response-ctl-user": b"Dt\x01m b913a602c7eda7a495b4e6e7334d3890",
    # XOAUTH2
    "xoauth2-google-example": b"E" + GOOGLE_X2,
    "xoauth2-exchange-example": b"E" + MS_X2,
    "xoauth2-exchange-jwt": b"Euser=tony@contoso.com" + A + b"auth=Bearer " + JWT + A + A,
    "xoauth2-shared-mailbox": b"Euser=shared@contoso.com" + A + b"auth=Bearer EwBAAl3BAAUF" + A + A,
    "xoauth2-lowercase-bearer": b"Euser=u@gmail.com" + A + b"auth=bearer ya29.a0Af" + A + A,
    "xoauth2-missing-terminators": b"Euser=u@gmail.com" + A + b"auth=Bearer ya29.a0Af",
    "xoauth2-single-terminator": b"Euser=u@gmail.com" + A + b"auth=Bearer ya29.a0Af" + A,
    "xoauth2-reversed-order": b"Eauth=Bearer ya29.a0Af" + A + b"user=u@gmail.com" + A + A,
    "xoauth2-extra-pair": b"Euser=u" + A + b"auth=Bearer t" + A + b"foo=bar" + A + A,
    "xoauth2-two-spaces": b"Euser=u" + A + b"auth=Bearer  t" + A + A,
    "xoauth2-basic-scheme": b"Euser=u" + A + b"auth=Basic dTpw" + A + A,
    "xoauth2-dummy-empty": b"E",
    "xoauth2-duplicate-user": b"Euser=u" + A + b"user=v" + A + b"auth=Bearer t" + A + A,
    "xoauth2-no-auth": b"Euser=u" + A + A,
    "xoauth2-nul-in-user": b"Euser=u\0" + A + b"auth=Bearer t" + A + A,
    # OAUTHBEARER
    "oauthbearer-rfc7628-imap": b"F" + RFC_OB,
    "oauthbearer-rfc7628-smtp": b"F" + RFC_OB_SMTP,
    "oauthbearer-dummy-kvsep": b"F" + A,
    "oauthbearer-minimal": b"Fn,," + A + b"auth=Bearer t" + A + A,
    "oauthbearer-kafka-7182-no-kvsep": b"Fn,,auth=Bearer t" + A + A,
    "oauthbearer-escaped-authzid": b"Fn,a=a=2Cb=3Dc," + A + b"auth=Bearer t" + A + A,
    "oauthbearer-channel-binding-p": b"Fp=tls-unique,," + A + b"auth=Bearer t" + A + A,
    "oauthbearer-nonstd-flag": b"FF,n,," + A + b"auth=Bearer t" + A + A,
    "oauthbearer-extension-keys": b"Fy,," + A + b"auth=Bearer t" + A + b"mthd=POST" + A + b"path=/x" + A + A,
    "oauthbearer-postgres-discovery": b"Fn,," + A + b"auth=" + A + A,
    "oauthbearer-port-65536": b"Fn,," + A + b"port=65536" + A + b"auth=Bearer t" + A + A,
    "oauthbearer-duplicate-host": b"Fn,," + A + b"host=a" + A + b"host=b" + A + b"auth=Bearer t" + A + A,
    "oauthbearer-jwt": b"Fn,a=tony@contoso.com," + A + b"host=outlook.office365.com" + A + b"port=993" + A + b"auth=Bearer " + JWT + A + A,
    # OAuth error challenges
    "oauth-error-rfc7628": b"G" + RFC_ERR,
    "oauth-error-google-401-lf": b"G" + GOOGLE_ERR,
    "oauth-error-whitespace": b'G { "status" : "400" ,\t"scope":"https:\\/\\/x\\/" }\r\n',
    "oauth-error-unknown-members": b'G{"status":"x","error_description":"a \\"b\\" \\u00e9","n":-1.5e+3,"ok":true,"z":null}',
    "oauth-error-nested-object": b'G{"status":"x","detail":{"a":1}}',
    "oauth-error-array": b'G{"status":"x","scopes":["a","b"]}',
    "oauth-error-numeric-status": b'G{"status":401}',
    "oauth-error-missing-status": b'G{"scope":"x"}',
    "oauth-error-duplicate-status": b'G{"status":"a","status":"b"}',
    "oauth-error-lone-surrogate": b'G{"status":"\\ud83d"}',
    "oauth-error-deep-brackets": b'G{"a":' + b"[" * 2000,
    "oauth-error-unterminated": b'G{"status":"abc',
    # continuation lines
    "lines-plain-rfc4616": b"H" + b64(PLAIN_RFC) + b"\r\n",
    "lines-login-exchange": b"H" + b64(b"tony@contoso.com") + b"\r\n" + b64(b"P@ssw0rd") + b"\r\n",
    "lines-cancel": b"H*\r\n",
    "lines-empty": b"H\r\n",
    "lines-cram-rfc2195": b"H" + b64(CRAM_RESP) + b"\r\n",
    "lines-xoauth2-google": b"H" + b64(GOOGLE_X2) + b"\r\n",
    "lines-xoauth2-then-empty-after-error": b"H" + b64(MS_X2) + b"\r\n\r\n",
    "lines-oauthbearer-then-kvsep": b"H" + b64(RFC_OB) + b"\r\nAQ==\r\n",
    "lines-bare-lf": b"HdGlt\n",
    "lines-unpadded": b"HdGltMQ\r\n",
    "lines-bad-char": b"HdGl!\r\n",
    "lines-equals-as-empty": b"H=\r\n",
    "lines-overlong": b"H" + b"A" * 3000 + b"\r\n",
    "lines-no-line-end": b"H" + b"A" * 3000,
    "lines-nul": b"HdG\0lt\r\n",
    # payloads
    "payload-initial-plain": b"I0" + b64(PLAIN_RFC),
    "payload-initial-empty": b"I0=",
    "payload-initial-nothing": b"I0",
    "payload-response-abort": b"I1*",
    "payload-response-equals": b"I1=",
    "payload-challenge-username": b"I2VXNlcm5hbWU6",
    "payload-challenge-password": b"I2UGFzc3dvcmQ6",
    "payload-challenge-cyrus-user-name": b"I2VXNlciBOYW1lAA==",
    "payload-challenge-ntlm-supported": b"I2NTLM supported",
    "payload-challenge-empty": b"I2",
    "payload-challenge-rfc7628-error": b"I2" + b64(RFC_ERR),
    "payload-challenge-google-error": b"I2" + b64(GOOGLE_ERR),
    "payload-challenge-cram-rfc2195": b"I2" + b64(CRAM_CH),
    # mechanism names
    **{"mech-" + name.lower(): b"J" + name.encode() for name in [
        "PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "XOAUTH2", "OAUTHBEARER", "XOAUTH", "NTLM",
        "GSSAPI", "GSS-SPNEGO", "ATOKEN", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "EXTERNAL",
        "ANONYMOUS", "PLAIN-CLIENTTOKEN"]},
    "mech-lowercase-plain": b"Jplain",
    "mech-x-exps": b"JX-EXPS",
    "mech-21-chars": b"JABCDEFGHIJ0123456789X",
    "mech-auth-equals": b"JAUTH=PLAIN",
    # escapes
    "escape-saslname": b"Ka=2Cb=3Dc@example.com",
    "escape-saslname-bad": b"Ka=2",
    "escape-json-slashes": b"Khttps:\\/\\/mail.google.com\\/",
    "escape-json-surrogate-pair": b"K\\ud83d\\udce7",
    "escape-json-lone-surrogate": b"K\\ud83dx",
    "escape-json-controls": b'K\\"\\\\\\b\\f\\n\\r\\t\\u0000',
    # redaction: mechanism number, step (+4 = base64)
    "redact-plain-b64": b"L\x01\x04" + b64(PLAIN_RFC),
    "redact-plain-raw": b"L\x01\x00" + PLAIN_RFC,
    "redact-login-username-b64": b"L\x02\x04" + b64(b"tony@contoso.com"),
    "redact-login-password-b64": b"L\x02\x05" + b64(b"P@ssw0rd"),
    "redact-cram-b64": b"L\x03\x04" + b64(CRAM_RESP),
    "redact-xoauth2-b64": b"L\x05\x04" + b64(GOOGLE_X2),
    "redact-oauthbearer-b64": b"L\x06\x04" + b64(RFC_OB),
    "redact-oauthbearer-dummy": b"L\x06\x05AQ==",
    "redact-ntlm-type1": b"L\x08\x04TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
    "redact-anonymous": b"L\x11\x04" + b64(b"sirh@example.com"),
    "redact-cancel": b"L\x02\x05*",
    "redact-not-base64": b"L\x01\x04dGlt!c2VjcmV0",
    "redact-escapes": b"L\x01\x00\0a\r\n\"b\\\0pw",
    # every parser
    "all-plain-rfc4616": b"M" + PLAIN_RFC,
    "all-xoauth2-google": b"N" + GOOGLE_X2,
    "all-oauth-error-google": b"O" + GOOGLE_ERR,
}

EXO_POP3_FQDN = "LO4P123CA0602.GBRP123.PROD.OUTLOOK.COM".encode("utf-16-le")
b64c = {
    **{"rfc4648-" + (p.decode() or "empty"): b64(p) for p in
       [b"", b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"]},
    "plain-rfc4616": b64(PLAIN_RFC),
    "login-username-prompt": b"VXNlcm5hbWU6",
    "login-password-prompt": b"UGFzc3dvcmQ6",
    "login-cyrus-user-name": b"VXNlciBOYW1lAA==",
    "login-cyrus-password": b"UGFzc3dvcmQA",
    "cram-rfc2195-challenge": b64(CRAM_CH),
    "cram-rfc2195-response": b64(CRAM_RESP),
    "xoauth2-google": b64(GOOGLE_X2),
    "xoauth2-exchange": b64(MS_X2),
    "xoauth2-google-401-json": b64(GOOGLE_ERR),
    "oauthbearer-rfc7628": b64(RFC_OB),
    "oauthbearer-rfc7628-error": b64(RFC_ERR),
    "oauthbearer-kvsep": b"AQ==",
    "exchange-pop3-greeting-fqdn-utf16": b64(EXO_POP3_FQDN),
    "ntlm-type1": b"TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
    "bad-padding-short": b"Zg=",
    "bad-padding-missing": b"Zm9vYg",
    "bad-padding-extra": b"Zg===",
    "bad-padding-leading": b"=Zg=",
    "bad-padding-only": b"====",
    "bad-padding-data-after": b"Zm8=Zg==",
    "bad-padbits": b"Zh==",
    "bad-padbits-two": b"Zm9=",
    "bad-char-bang": b"Zm9v!mFy",
    "bad-char-base64url": b"Zm9-_w==",
    "bad-char-nul": b"Zm\0v",
    "bad-char-8bit": b"Zm9v\xc3\xa9",
    "bad-lone-char": b"Zm9vY",
    "whitespace-crlf": b"Zm9v\r\nYmFy",
    "whitespace-trailing-crlf": b"Zm9vYg==\r\n",
    "whitespace-spaces": b" Z m 9 v\tY g = = ",
    "mime-wrapped-76": b"\r\n".join(b64(bytes(range(256)))[i:i + 76] for i in range(0, 344, 76)),
    "long-4000-A": b"A" * 4000,
    "all-bytes-encoded": b64(bytes(range(256))),
}


def write(dirname, files):
    os.makedirs(dirname, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(dirname, name), "wb") as f:
            f.write(data)


write("corpora/sasl_messages", sasl)
write("corpora/base64_codec", b64c)
print(f"{len(sasl)} sasl_messages seeds, {len(b64c)} base64_codec seeds")
