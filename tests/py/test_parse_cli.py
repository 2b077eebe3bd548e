"""`mailrig parse`: the proto/ parsers as a command, checked against streams Python builds."""
import subprocess

from hypothesis import given, settings, strategies as st


def parse(mailrig, kind, data, *args):
    return subprocess.run([mailrig, "parse", "--proto", kind, *args, "-"], input=data,
                          capture_output=True, timeout=60)


def test_imap_stream_items_and_errors(mailrig):
    data = (b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"
            b"* 1 FETCH (UID 5 BODY[] {5}\r\nhello)\r\n"
            b"* BAD bare\n"
            b"a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
    r = parse(mailrig, "imap-response", data)
    out = r.stdout.decode()
    assert r.returncode == 1
    assert out.splitlines()[0] == "0 46 imap-response * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready"
    assert "-:93: error: bare LF (line end without CR) (rule CRLF)" in out
    assert out.rstrip().endswith("3 items, 1 errors")
    lenient = parse(mailrig, "imap-response", data, "--lenient")
    assert lenient.returncode == 0 and lenient.stdout.decode().rstrip().endswith("4 items, 0 errors")


def test_truncated_input_is_an_error(mailrig):
    r = parse(mailrig, "smtp-reply", b"250-mx.example\r\n250 SIZE")
    assert r.returncode == 1
    assert "-:0: error: the input ends inside an item" in r.stdout.decode()


def test_usage(mailrig):
    r = subprocess.run([mailrig, "parse"], capture_output=True, text=True)
    assert r.returncode == 2 and "--proto KIND is required" in r.stderr
    r = subprocess.run([mailrig, "parse", "--proto", "nntp"], capture_output=True, text=True)
    assert r.returncode == 2 and "--proto nntp: expected one of" in r.stderr
    r = subprocess.run([mailrig, "parse", "--proto", "smtp-reply", "/nonexistent"],
                       capture_output=True, text=True)
    assert r.returncode == 3 and "/nonexistent: No such file" in r.stderr


text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=60)
reply = st.tuples(st.sampled_from([220, 221, 235, 250, 334, 354, 421, 450, 501, 530, 535, 550]),
                  st.lists(text.filter(lambda t: t.strip() != ""), min_size=1, max_size=6))


@settings(max_examples=60, deadline=None)
@given(st.lists(reply, min_size=1, max_size=8))
def test_smtp_replies_built_by_python(mailrig, replies):
    """Multi-line replies written the RFC 5321 way by Python come back one item each, at the
    offsets Python computed."""
    data, offsets = b"", []
    for code, lines in replies:
        offsets.append(len(data))
        for i, line in enumerate(lines):
            sep = "-" if i < len(lines) - 1 else " "
            data += f"{code}{sep}{line}\r\n".encode()
    r = parse(mailrig, "smtp-reply", data)
    assert r.returncode == 0, r.stdout
    got = [int(l.split()[0]) for l in r.stdout.decode().splitlines()[:-1]]
    assert got == offsets
