"""HTTP/1.1 messages for the hostile-peer tests: a strict parser (framing
by Content-Length or chunked), a splitter for recorded bytes, and builders
for the bytes a test sends.

Standard library only.
"""

import re


class Incomplete(Exception):
    """The bytes so far are a prefix of a message: more are needed."""


class BadMessage(Exception):
    """The bytes can never become a valid message."""


TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})(?: (.*))?$")


class Message:
    """A parsed request or response. `body` is the decoded payload."""

    def __init__(self, start_line, headers):
        self.start_line = start_line
        self.headers = headers      # [(name lower-case str, value str)] in order
        self.body = b""
        self.trailers = []
        self.raw = b""              # the message's bytes exactly as they came
        self.chunked = False
        # Request fields.
        self.method = self.target = self.version = None
        # Response fields.
        self.status = None
        self.reason = None

    def values(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n == name]

    def header(self, name, default=None):
        vs = self.values(name)
        return vs[0] if vs else default

    def has(self, name):
        return bool(self.values(name))

    def __repr__(self):
        return "<%s headers=%d body=%d bytes>" % (self.start_line, len(self.headers),
                                                  len(self.body))


# ---------------------------------------------------------------------------
# Pieces of a message
# ---------------------------------------------------------------------------

def _parse_fields(lines):
    out = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raise BadMessage("obs-fold line %r" % line[:40])
        name, sep, value = line.partition(b":")
        if not sep or not TOKEN.match(name):
            raise BadMessage("bad field line %r" % line[:60])
        out.append((name.decode("latin-1").lower(), value.strip(b" \t").decode("latin-1")))
    return out


def parse_head(buf, pos):
    """(start line bytes, fields, offset after the blank line)."""
    end = buf.find(b"\r\n\r\n", pos)
    if end < 0:
        raise Incomplete()
    lines = bytes(buf[pos:end]).split(b"\r\n")
    return lines[0], _parse_fields(lines[1:]), end + 4


def parse_response_head(buf, pos=0):
    """(response with status and reason but no body, offset of its body)."""
    line, fields, body_at = parse_head(buf, pos)
    m = STATUS_LINE.match(line)
    if not m:
        raise BadMessage("bad status line %r" % line[:80])
    msg = Message(line.decode("latin-1"), fields)
    msg.status = int(m.group(1))
    msg.reason = (m.group(2) or b"").decode("latin-1")
    return msg, body_at


def parse_chunk_size(line):
    """The size on a chunk-size line (bytes before its CRLF), extensions
    ignored."""
    size_text = bytes(line).split(b";", 1)[0]
    if not HEX.match(size_text):
        raise BadMessage("bad chunk size %r" % size_text[:40])
    return int(size_text, 16)


def _parse_chunked(buf, pos):
    """(decoded body, trailer fields, offset after the body)."""
    body = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            raise Incomplete()
        size = parse_chunk_size(buf[pos:eol])
        pos = eol + 2
        if size == 0:
            break
        if len(buf) < pos + size + 2:
            raise Incomplete()
        body += buf[pos:pos + size]
        if buf[pos + size:pos + size + 2] != b"\r\n":
            raise BadMessage("chunk data not followed by CRLF")
        pos += size + 2
    # The trailer section: fields, then an empty line.
    if buf[pos:pos + 2] == b"\r\n":
        return bytes(body), [], pos + 2
    end = buf.find(b"\r\n\r\n", pos)
    if end < 0:
        raise Incomplete()
    trailers = _parse_fields(bytes(buf[pos:end]).split(b"\r\n"))
    return bytes(body), trailers, end + 4


def transfer_codings(msg):
    """The Transfer-Encoding codings in order, lower-case."""
    out = []
    for v in msg.values("transfer-encoding"):
        out += [c.strip().lower() for c in v.split(",") if c.strip()]
    return out


def content_length(msg):
    """The Content-Length, None without one; BadMessage when it is not one
    plain number."""
    values = msg.values("content-length")
    if not values:
        return None
    if len(values) > 1 or not values[0].isdigit():
        raise BadMessage("bad Content-Length %r" % values)
    return int(values[0])


def _parse_body(msg, buf, pos, until_close_ok, closed):
    codings = transfer_codings(msg)
    if codings:
        if codings[-1] != "chunked":
            if until_close_ok:   # a response may end at close
                if not closed:
                    raise Incomplete()
                msg.body = bytes(buf[pos:])
                return len(buf)
            raise BadMessage("request Transfer-Encoding does not end in chunked")
        msg.chunked = True
        msg.body, msg.trailers, end = _parse_chunked(buf, pos)
        return end
    length = content_length(msg)
    if length is None:
        if until_close_ok:
            if not closed:
                raise Incomplete()
            msg.body = bytes(buf[pos:])
            return len(buf)
        return pos
    if len(buf) < pos + length:
        raise Incomplete()
    msg.body = bytes(buf[pos:pos + length])
    return pos + length


# ---------------------------------------------------------------------------
# Whole messages
# ---------------------------------------------------------------------------

def parse_request(buf, pos=0):
    """(request, offset after it) or Incomplete / BadMessage."""
    line, fields, body_at = parse_head(buf, pos)
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise BadMessage("bad request line %r" % line[:80])
    msg = Message(line.decode("latin-1"), fields)
    msg.method, msg.target, msg.version = (p.decode("latin-1") for p in parts)
    end = _parse_body(msg, buf, body_at, until_close_ok=False, closed=False)
    msg.raw = bytes(buf[pos:end])
    return msg, end


def parse_response(buf, pos=0, head=False, closed=False):
    """(response, offset after it) or Incomplete / BadMessage. `head`: the
    request was HEAD; `closed`: the peer has closed (ends a body without
    framing)."""
    msg, body_at = parse_response_head(buf, pos)
    if head or msg.status < 200 or msg.status in (204, 304):
        end = body_at       # no body, whatever the header says
    else:
        end = _parse_body(msg, buf, body_at, until_close_ok=True, closed=closed)
    msg.raw = bytes(buf[pos:end])
    return msg, end


def split_requests(data):
    """Splits bytes into complete requests: (requests, leftover, error or
    None). Stops at the first incomplete or malformed message."""
    out, pos = [], 0
    while pos < len(data):
        try:
            msg, pos = parse_request(data, pos)
        except Incomplete:
            return out, bytes(data[pos:]), None
        except BadMessage as e:
            return out, bytes(data[pos:]), str(e)
        out.append(msg)
    return out, b"", None


# ---------------------------------------------------------------------------
# Bytes to send
# ---------------------------------------------------------------------------

def _head_bytes(lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def request_bytes(method, path, headers=(), body=b"", version="HTTP/1.1", host="a"):
    """A request with Host first (unless host is None) and Content-Length
    when there is a body."""
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: " + host)
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers):
        lines.append("Content-Length: %d" % len(body))
    return _head_bytes(lines) + body


def response_bytes(status=200, body=b"", headers=(), reason="OK", length=True):
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if length:
        lines.append("Content-Length: %d" % len(body))
    return _head_bytes(lines) + body


def chunked(*pieces, trailer=b""):
    """A chunked body of `pieces`, then the last chunk and `trailer`."""
    out = b""
    for p in pieces:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n" + trailer + b"\r\n"
