#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target into fuzz/corpus/<target>/.

Run from anywhere: python3 fuzz/make_corpus.py. The seeds are small valid
(and a few nearly valid) inputs in each target's input format, so the
fuzzers start from the interesting paths; the files are checked in.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CH = 1 << 20


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_msg: ctx[4] + header[48] + HELLO payload ----
def hdr(typ, length, src, seq, a0=0, a1=0, a2=0, magic=0x44534D31, version=1):
    return struct.pack(">IHHIIII QQQ".replace(" ", ""), magic, version, typ,
                       length, src, seq, 0, a0, a1, a2)


def hello(node_id=1, count=4, page=4096, version=1, heap=1 << 30,
          secret=b"\x5a" * 32, port=7000, host=b"10.0.0.2"):
    return (struct.pack(">IIIIQ", node_id, count, page, version, heap) + secret
            + struct.pack(">H", port) + host.ljust(64, b"\0"))


ctx = bytes([4, 0xFF, 0xFF, 12])  # 4 nodes, any src, any seq, 4 KiB pages
write("fuzz_msg", "bcast", ctx + hdr(9, 16, 1, 1, 1, 0, 16) + hello())
write("fuzz_msg", "sc_page", ctx + hdr(18, 4096, 2, 7, 3, 1, 5) + hello(2))
write("fuzz_msg", "hello", ctx + hdr(1, 122, 0, 1) + hello(0))
write("fuzz_msg", "bad_secret", ctx + hdr(26, 1000, 3, 9, 0, 0, 77)
      + hello(secret=b"\x00" * 32))
write("fuzz_msg", "expect_src", bytes([4, 2, 5, 12]) + hdr(11, 0, 2, 5, 1, 1, 9)
      + hello(count=8))


# ---- fuzz_diff: u16 page-1, u16 alen, diff a, diff b ----
def diff(runs):
    out = struct.pack("<I", len(runs) | 0xD1 << 24)
    for off, data in runs:
        out += struct.pack("<II", off, len(data)) + data
    return out


def dseed(name, ps, a, b):
    write("fuzz_diff", name, struct.pack("<HH", ps - 1, len(a)) + a + b)


dseed("empty", 4096, diff([]), diff([]))
dseed("one_run", 4096, diff([(0, b"\x01\x02\x03")]), diff([(100, b"xyz")]))
dseed("conflict", 4096, diff([(10, b"abcd"), (200, b"q")]),
      diff([(12, b"ZZZZ"), (4095, b"e")]))
dseed("small_page", 7, diff([(1, b"\x09"), (5, b"\x08\x07")]), diff([(0, b"\x01" * 7)]))
dseed("touching", 64, diff([(0, b"aa"), (2, b"bb")]), diff([(60, b"cccc")]))

# ---- fuzz_bcast: u8 chunk-1, u64 total, then {u8 flags, u32 off, u32 len} ----
def rec(flags, off, length=0):
    return struct.pack("<BII", flags, off, length)


def bc(chunk, total):
    return struct.pack("<BQ", chunk - 1, total)


write("fuzz_bcast", "three_chunks", bc(16, 2 * 16 + 5)
      + rec(0, 0) + rec(0, 2) + rec(0, 1))
write("fuzz_bcast", "duplicate", bc(8, 16) + rec(0, 0) + rec(0, 0) + rec(0, 1))
write("fuzz_bcast", "empty", bc(1, 0) + rec(0, 0))
write("fuzz_bcast", "mismatch", bc(64, 100) + rec(4, 0) + rec(2, 0, 63)
      + rec(1, 50, 0) + rec(0, 0) + rec(0, 1))
write("fuzz_bcast", "real_chunks", bc(1, (1 << 63) | (CH + 3)) + rec(0, 1) + rec(0, 0))
write("fuzz_bcast", "over_cap", bc(1, (3 << 62) | 12345))


# ---- fuzz_lrc: interval records {u32 creator, id, npages, vc[4], pages} ----
def iv(creator, ident, vc, pages):
    return (struct.pack("<III", creator, ident, len(pages))
            + struct.pack("<4I", *vc) + struct.pack("<%dI" % len(pages), *pages))


write("fuzz_lrc", "one", iv(0, 1, [1, 0, 0, 0], [0, 5, 63]))
write("fuzz_lrc", "chain", iv(0, 1, [1, 0, 0, 0], [1]) + iv(0, 2, [2, 0, 0, 0], [2])
      + iv(2, 1, [2, 0, 1, 0], [1, 2, 3]) + iv(3, 1, [0, 0, 0, 1], []))
write("fuzz_lrc", "own", iv(1, 1, [0, 1, 0, 0], [7]))
write("fuzz_lrc", "bad_page", iv(0, 1, [1, 0, 0, 0], [64]))
write("fuzz_lrc", "truncated", iv(2, 3, [0, 0, 3, 0], [4, 5])[:-3])


# ---- fuzz_hlrc: records {u32 creator, id, npages, {page, home}...} ----
def hiv(creator, ident, pairs):
    out = struct.pack("<III", creator, ident, len(pairs))
    for page, home in pairs:
        out += struct.pack("<II", page, home)
    return out


write("fuzz_hlrc", "one", hiv(0, 1, [(0, 0), (5, 2), (63, 3)]))
write("fuzz_hlrc", "chain", hiv(0, 1, [(1, 0)]) + hiv(0, 2, [(2, 0)])
      + hiv(2, 1, [(1, 0), (2, 0), (3, 2)]) + hiv(3, 1, []))
write("fuzz_hlrc", "own", hiv(1, 1, [(7, 1)]))
write("fuzz_hlrc", "gap", hiv(2, 3, [(4, 2)]))
write("fuzz_hlrc", "bad_home", hiv(0, 1, [(4, 9)]))


# ---- fuzz_proto: u8 protocol (0 sc, 1 lrc, 2 hlrc), {u16 len, bytes}... ----
def parts(proto, *payloads):
    out = bytes([proto])
    for p in payloads:
        out += struct.pack("<H", len(p)) + p
    return out


def vc(*v):
    return struct.pack("<4I", *v)


write("fuzz_proto", "lrc_barrier", parts(1, vc(1, 0, 0, 0) + iv(0, 1, [1, 0, 0, 0], [3]),
                                         vc(0, 1, 0, 0) + iv(1, 1, [0, 1, 0, 0], [4]),
                                         vc(0, 0, 0, 0), vc(0, 0, 0, 0)))
write("fuzz_proto", "hlrc_barrier", parts(2, vc(1, 0, 0, 0) + hiv(0, 1, [(3, 0)]),
                                          vc(0, 2, 0, 0) + hiv(1, 1, [(4, 1)])
                                          + hiv(1, 2, [(5, 1)]),
                                          vc(0, 0, 0, 0), vc(0, 0, 0, 0)))
write("fuzz_proto", "sc_lock", parts(0, b"", b""))
write("fuzz_proto", "short", parts(2, b"\x01\x02", vc(1, 1, 1, 1)))


# ---- fuzz_lock: {u8 type, u8 src, u8 lock, u8 arg1, u8 arg2, u16 len, payload}... ----
# type 0 LOCK_REQ, 1 LOCK_GRANT, 2 LOCK_REL, 3 revoke; arg1 byte: mode in
# bits 0-1 (1 excl, 2 shared), flags << 2 (1 TAPE, 2 TOKEN, 4 REVOKE);
# node 1 manages locks 1, 5, 9, ...
def lmsg(typ, src, lock, arg1, arg2=0, payload=b""):
    return struct.pack("<BBBBBH", typ, src, lock, arg1, arg2, len(payload)) + payload


def tokgrant(main, *extra):
    out = struct.pack("<I", len(main)) + main
    for lock, p in extra:
        out += struct.pack("<II", lock, len(p)) + p
    return out


def run(*recs):
    return b"".join(struct.pack("<II", lock, len(p)) + p for lock, p in recs)


EXCL, SHARED = 1, 2
# a stream from node 2: 1, 5 (token with 9 ahead), then node 3 asks for 9
# (revoke sent), node 2 gives 5 and 9 back in a run, releases
write("fuzz_lock", "stream", lmsg(0, 2, 1, EXCL, 7) + lmsg(2, 2, 1, EXCL, 0, vc(0, 0, 3, 0))
      + lmsg(0, 2, 5, EXCL, 8) + lmsg(0, 3, 9, EXCL, 9)
      + lmsg(2, 2, 5, EXCL, 4, run((5, vc(0, 0, 4, 0)), (9, vc(0, 0, 0, 0))))
      + lmsg(2, 3, 9, EXCL, 0, vc(0, 0, 4, 1)))
# token grants from node 0 (manager of 0, 4, 8): a run, then revokes
write("fuzz_lock", "token_grant", lmsg(1, 0, 4, EXCL | 2 << 2, 11,
                                       tokgrant(vc(1, 0, 0, 0), (8, vc(1, 0, 0, 0)),
                                                (12, b"")))
      + lmsg(3, 0, 8, 0) + lmsg(3, 0, 4, 0) + lmsg(3, 0, 12, 0))
write("fuzz_lock", "bad_run", lmsg(2, 2, 1, EXCL, 4, run((1, vc(0, 0, 1, 0)))
                                   + b"\x05\x00\x00\x00\xff\xff\x00\x00"))
write("fuzz_lock", "shared", lmsg(0, 2, 13, SHARED, 3) + lmsg(0, 3, 13, SHARED, 4)
      + lmsg(0, 0, 13, EXCL, 5) + lmsg(2, 2, 13, SHARED) + lmsg(2, 3, 13, SHARED))
