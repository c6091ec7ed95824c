#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/ (docs/fuzzing.md).

event_codec gets the golden vectors of tests/storage/golden/ (real encoded
events of every format version); row_codec gets rows built here after
storage/event_codec.cc's writers; the text targets get small valid and
edge-case inputs. Re-run after changing a format; the output is committed.
"""
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- binary rows (storage/row_codec.h) -------------------------------------

def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return varint(len(x)) + x


def u8(v): return struct.pack("<B", v)
def b(v): return u8(1 if v else 0)
def u32(v): return struct.pack("<I", v)
def i32(v): return struct.pack("<i", v)
def i64(v): return struct.pack("<q", v)
def u64(v): return struct.pack("<Q", v)
def f64(v): return struct.pack("<d", v)
def uuid(n): return u64(n) + u64(n * 7 + 1)


def pairs(kv):
    return varint(len(kv)) + b"".join(s(k) + s(v) for k, v in kv)


def endpoint(version=2, rate=0.0, circuit=0):
    out = uuid(1) + s("https://example.com/hook")
    out += varint(2) + s("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") + i64(0)
    out += s("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD") + i64(1_700_000_000_000_000)
    out += b(True) + s("") + varint(2) + s("order.*") + s("invoice.paid")
    out += s("an endpoint") + pairs([("env", "prod"), ("team", "a")])
    out += pairs([("X-Custom", "1")]) + f64(rate) + u32(8) + b(False) + b(True)
    out += u8(1) + b(False) + i64(1_700_000_000_000_000) + i64(1_700_000_001_000_000)
    if version >= 2:
        out += i64(circuit) + i64(circuit // 2)
    return u8(version) + out


def message():
    return u8(2) + uuid(2) + s("order.paid") + s('{"order":42}') + s("key-1") + i64(1_700_000_000_000_000)


def attempt(code=None, body=None, error=0):
    out = i64(1_700_000_002_000_000)
    out += b(code is not None) + (i32(code) if code is not None else b"")
    out += b(body is not None) + (s(body) if body is not None else b"")
    return out + u8(error) + u32(123)


def delivery(status=4, log=2, reason=0):
    out = uuid(3) + uuid(2) + uuid(1) + s("order.paid") + u8(status) + u32(log) + u32(log)
    out += i64(1_700_000_000_000_000) + i64(0) + i64(1_700_000_002_000_000) + i64(0)
    out += b(True) + i32(500) + b(True) + s("oops") + u8(0)
    out += b(True) + uuid(9) + b(True) + u8(reason) + b(False)
    out += varint(log) + b"".join(attempt(500, "oops") if i % 2 == 0 else attempt(error=4)
                                  for i in range(log))
    return u8(2) + out


def idempotency(n=2):
    return u8(2) + s("key-1") + uuid(2) + varint(n) + b"".join(uuid(10 + i) for i in range(n)) + i64(5)


def counters():
    return b"".join(u64(v) for v in (1, 2, 3, 4, 5, 15))


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)

    golden = os.path.join(ROOT, "tests", "storage", "golden")
    for name in sorted(os.listdir(golden)):
        with open(os.path.join(golden, name), "rb") as f:
            write("event_codec", name, f.read())
    write("event_codec", "empty", b"")
    write("event_codec", "version_255", b"\xff" + b"\x00" * 40)

    # row_codec: the first byte picks the row kind (CheckRowCodec).
    write("row_codec", "endpoint_v2", b"\x00" + endpoint())
    write("row_codec", "endpoint_v1", b"\x00" + endpoint(version=1))
    write("row_codec", "endpoint_rate_circuit", b"\x00" + endpoint(rate=12.5, circuit=99))
    write("row_codec", "message", b"\x01" + message())
    write("row_codec", "delivery_dead_letter", b"\x02" + delivery())
    write("row_codec", "delivery_no_log", b"\x02" + delivery(status=1, log=0))
    write("row_codec", "idempotency", b"\x03" + idempotency())
    write("row_codec", "idempotency_none", b"\x03" + idempotency(0))
    write("row_codec", "counters", b"\x04" + counters())
    write("row_codec", "bad_version", b"\x00\x09")

    for i, t in enumerate(["2222222222222222222222", "zzzzzzzzzzzzzzzzzzzzzz",
                           "oZ4gJw8kFG9tKe3Hzo3Jvj", "7N42dgm5tFLK9N8MT7fHC8",
                           "7N42dgm5tFLK9N8MT7fHC9", "2222222222222222222223",
                           "222222222222222222222", "22222222222222222222222",
                           "222222222222222222222l", ""]):
        write("shortuuid", "seed_%02d" % i, t)

    for i, u in enumerate([
            "https://example.com/hook", "http://example.com:8080/a?b=c#d",
            "HTTPS://Example.COM", "https://[2001:db8::1]:443/x", "https://[::1]",
            "http://127.0.0.1/", "http://0x7f.1/", "http://2130706433/", "http://0177.0.0.1/",
            "http://127.1/", "https://user:pass@example.com/", "ftp://example.com/",
            "https://example.com:0/", "https://example.com:65536/", "https://exa mple.com/",
            "https://[fe80::1%25eth0]/", "https://[::ffff:10.0.0.1]/", "https://example.com./",
            "https:///path", "https://a_b-c.example/"]):
        write("url", "seed_%02d" % i, u)

    for i, h in enumerate([
            "X-Custom:value", "X-A:1\nX-B:two words\nAuthorization:Bearer abc",
            "Content-Type:text/plain", "webhook-id:x", "X-Closient-Signature:x",
            "Bad Name:x", "X-Ok:line\\nbreak", ":empty-name", "X-Ok:",
            "\n".join("X-H%d:%d" % (n, n) for n in range(33)),
            "X-Big:" + "v" * 4100, "Host:evil", "X-Tab:a\tb", "X-Del:\x7f"]):
        write("headers", "seed_%02d" % i, h)

    for i, r in enumerate([
            "120", "0", "  5  ", "99999999999999999999999", "-1", "1.5",
            "Sun, 06 Nov 1994 08:49:37 GMT", "Fri, 27 Nov 2026 03:00:00 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
            "Sun, 31 Feb 2027 24:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
            "250ms", "5s", "5m", "2h", "1d", "9223372036854775807d",
            "2026-11-26T23:07:04Z", "2026-11-26T23:07:04.123456+01:30",
            "2026-11-26", "1969-12-31T23:59:59.5Z", "2026-02-30T00:00:00Z",
            "0000-01-01T00:00:00-23:59", "9999-12-31T23:59:60+00:00"]):
        write("retry_after", "seed_%02d" % i, r)

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    for i, sig in enumerate([
            f"{secret}\nmsg_1\n1700000000\nv1,AAAA\n{{\"a\":1}}",
            f"{secret}\nmsg_1\n1700000000\nv1,a v1,b v2,c\nbody\nwith lines",
            "raw-closient-secret\n\n1700000000\nt=1700000000,v1=00ff\n{}",
            "raw\nid\n-5\nt=,v1=\n",
            "whsec_\nid\n99999999999999999999\n t=1, v1=x,v1=y\nb",
            "whsec_!!!!\n\n\n\n"]):
        write("signature", "seed_%02d" % i, sig)

    for i, j in enumerate([
            '{"url":"https://example.com/hook"}',
            '{"url":"https://example.com/h","description":"d","event_types":["order.*","a.b"],'
            '"metadata":{"k":"v","e":""},"headers":{"X-A":"1"},"signature_scheme":"closient",'
            '"rate_limit_per_s":2.5,"max_in_flight":4,"fifo":true,"is_active":false}',
            '{"type":"order.paid","data":{"order":42},"idempotency_key":"k1"}',
            '{"type":"a","data":{"nested":[1,2,{"x":null}],"s":"\\u00e9\\ud83d\\ude00"}}',
            '{"metadata":null,"url":null,"rate_limit_per_s":null}',
            '{"url":"http://127.0.0.1/","headers":{"Host":"x"}}',
            '{"url":"https://[::1]/","event_types":[1]}',
            '{"signing_secret":"whsec_x","max_in_flight":-1,"rate_limit_per_s":1e300}',
            '{"type":"","data":[]}', '[]', '', '{', 'null', '"str"',
            '{"url":"https://example.com/","metadata":{"' + 'k' * 129 + '":"v"}}',
            '{"type":"t","data":{}}\x00', '{"a":1,"a":2}']):
        write("webhookd_api", "seed_%02d" % i, j)

    # Wire mode (fuzz/check_webhookd.cc): raw bytes to the real server,
    # Transfer-Encoding / Content-Length combinations and pipelining.
    key = "X-API-Key: fuzz-api-key-0123456789\r\n"
    base = "/integrations/api/v1/webhooks/"

    def req(method, path, extra="", body="", version="HTTP/1.1"):
        return (method + " " + base + path + " " + version + "\r\nHost: x\r\n" +
                key + extra + "\r\n" + body)

    smuggled = req("GET", "endpoints/")
    event = '{"type":"a.b","data":{}}'
    chunked = "%x\r\n%s\r\n0\r\n\r\n" % (len(event), event)
    for i, w in enumerate([
            req("POST", "events/", "Transfer-Encoding: gzip\r\n") + smuggled,
            req("POST", "events/", "Transfer-Encoding: chunked, gzip\r\n",
                chunked) + smuggled,
            req("POST", "events/", "Transfer-Encoding: gzip, chunked\r\n",
                chunked) + smuggled,
            req("POST", "events/", "Transfer-Encoding: identity\r\n"
                "Content-Length: %d\r\n" % len(smuggled), smuggled),
            req("POST", "events/", "Content-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n", chunked) + smuggled,
            req("POST", "events/", "Transfer-Encoding: chunked\r\n", chunked)
            + req("HEAD", "endpoints/") + req("GET", "deliveries/?page_size=1"),
            req("POST", "events/", "Content-Length: %d\r\n" % len(event), event)
            + req("GET", "endpoints/", "Connection: close\r\n") + smuggled,
            req("POST", "events/", "Content-Length: 3, 4\r\n", "abcd") + smuggled,
            req("POST", "events/", "Content-Length: 99999\r\n", "{") + smuggled,
            req("POST", "events/", "Transfer-Encoding: chunked\r\n", chunked,
                "HTTP/1.0") + smuggled,
            req("POST", "events/", "Expect: 100-continue\r\nContent-Length: %d\r\n"
                % len(event), event) + smuggled,
            "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            "DELETE " + base + "endpoints/2222222222222222222222 HTTP/1.1\r\n"
            "Host: x\r\n" + key + "\r\n",
            req("POST", "endpoints/", "Content-Length: 40\r\n", '{"url":'),
            req("GET", "endpoints/", "X-Big: " + "b" * 2100 + "\r\n") + smuggled]):
        write("webhookd_api", "wire_%02d" % i, w)


if __name__ == "__main__":
    main()
