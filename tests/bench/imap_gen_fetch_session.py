#!/usr/bin/env python3
"""Generate a FETCH-heavy IMAP response stream for timing the response parser.

usage: imap_gen_fetch_session.py BYTES [META_FRACTION] > session.txt
META_FRACTION (default 0.6) is the share of metadata-only FETCH responses (FLAGS, ENVELOPE,
BODYSTRUCTURE ...); the rest carry BODY[] and BODY[HEADER.FIELDS] literals. 1.0 gives the
worst case for a parser (no literal payload to skip). Deterministic (seeded).
"""
import random, sys
random.seed(1)
out = []
words = "the quick brown fox jumps over lazy dog meeting notes report invoice re fwd status update".split()
def q(s): return '"' + s.replace('\\','\\\\').replace('"','\\"') + '"'
def addr(): 
    n = random.choice(words).title()+" "+random.choice(words).title()
    return '(%s NIL %s %s)' % (q(n), q(random.choice(words)), q(random.choice(["example.com","icloud.com","outlook.com"])))
def env(i):
    subj = " ".join(random.choice(words) for _ in range(random.randint(3,9)))
    return '(%s %s (%s) (%s) (%s) (%s%s) %s NIL %s %s)' % (q("Wed, 17 Jul 2024 02:23:25 -0700"), q(subj), addr(), addr(), addr(), addr(), addr() if random.random()<.5 else "", "(%s)"%addr() if random.random()<.3 else "NIL", "NIL", q("<%d.%d@example.com>"%(i,random.randint(1,1<<30))))
def bs():
    text = '("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" %d %d NIL NIL NIL NIL)' % (random.randint(100,9000), random.randint(5,200))
    html = '("TEXT" "HTML" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" %d %d NIL NIL NIL NIL)' % (random.randint(100,9000), random.randint(5,200))
    alt = '(%s%s "ALTERNATIVE" ("BOUNDARY" "----=_Part_%d") NIL NIL NIL)' % (text, html, random.randint(1,1<<30))
    if random.random() < .4:
        att = '("APPLICATION" "PDF" ("NAME" "report.pdf") NIL NIL "BASE64" %d NIL ("ATTACHMENT" ("FILENAME" "report.pdf")) NIL NIL)' % random.randint(1000,900000)
        return '(%s%s "MIXED" ("BOUNDARY" "b%d") NIL NIL NIL)' % (alt, att, random.randint(1,1<<30))
    return alt
META = float(sys.argv[2]) if len(sys.argv) > 2 else 0.6
target = int(sys.argv[1]) if len(sys.argv) > 1 else 50<<20
size = 0; i = 0
while size < target:
    i += 1
    r = random.random()
    if r < META:
        s = '* %d FETCH (UID %d RFC822.SIZE %d FLAGS (\\Seen%s) INTERNALDATE "17-Jul-2024 02:44:25 -0700" ENVELOPE %s BODYSTRUCTURE %s)\r\n' % (i, i+1000, random.randint(1000,100000), " \\Flagged" if random.random()<.2 else "", env(i), bs())
    elif r < META + (1-META)/2:
        body = ("Header: value\r\n" * random.randint(5,30)) + "\r\n" + ("x" * random.randint(100, 20000))
        s = '* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n' % (i, i+1000, len(body), body)
    else:
        hdr = "From: a@b.c\r\nSubject: " + " ".join(random.choice(words) for _ in range(6)) + "\r\n\r\n"
        s = '* %d FETCH (UID %d FLAGS () BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n%s)\r\n' % (i, i+1000, len(hdr), hdr)
    out.append(s); size += len(s)
out.append("a5 OK FETCH completed\r\n")
sys.stdout.write("".join(out))
