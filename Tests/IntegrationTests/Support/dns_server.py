#!/usr/bin/env python3
"""A small authoritative DNS server over UDP for the resolver tests.

usage: dns_server.py PORT RECORDS_FILE

RECORDS_FILE is JSON, read again for every query, so a test changes the answers by
rewriting it: {"name": {"A": ["127.0.0.2"], "AAAA": [], "ttl": 1}}; SRV records are
"PRIORITY WEIGHT PORT TARGET" strings: {"_http._tcp.app": {"SRV": ["1 5 8000 app"]}}. A name that is
not in the file gets NXDOMAIN; {"rcode": 2} answers SERVFAIL. Every query is appended
to RECORDS_FILE + ".log" as "NAME TYPE" (the file exists once the server listens).
"""
import json
import socket
import struct
import sys

PORT = int(sys.argv[1])
RECORDS = sys.argv[2]
TYPES = {1: "A", 28: "AAAA", 33: "SRV"}

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", PORT))
open(RECORDS + ".log", "a").close()  # ready
while True:
    data, peer = sock.recvfrom(65536)
    if len(data) < 12:
        continue
    qid = struct.unpack("!H", data[:2])[0]
    off, labels = 12, []
    while off < len(data) and data[off] != 0:
        labels.append(data[off + 1 : off + 1 + data[off]].decode("ascii", "replace"))
        off += data[off] + 1
    qtype = struct.unpack("!H", data[off + 1 : off + 3])[0]
    question = data[12 : off + 5]
    name = ".".join(labels).lower()
    with open(RECORDS + ".log", "a") as log:
        log.write("%s %s\n" % (name, TYPES.get(qtype, qtype)))
    try:
        with open(RECORDS) as f:
            records = json.load(f)
    except (OSError, ValueError):
        records = {}
    entry = records.get(name)
    rcode, answers = 3, []
    if entry is not None:
        rcode = entry.get("rcode", 0)
        ttl = entry.get("ttl", 1)
        for address in entry.get(TYPES.get(qtype, ""), []) if rcode == 0 else []:
            if qtype == 1:
                rdata = socket.inet_pton(socket.AF_INET, address)
            elif qtype == 28:
                rdata = socket.inet_pton(socket.AF_INET6, address)
            else:
                priority, weight, port, target = address.split()
                rdata = struct.pack("!HHH", int(priority), int(weight), int(port))
                for label in target.split("."):
                    rdata += bytes([len(label)]) + label.encode("ascii")
                rdata += b"\0"
            answers.append(struct.pack("!HHHIH", 0xC00C, qtype, 1, ttl, len(rdata)) + rdata)
    header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0)
    sock.sendto(header + question + b"".join(answers), peer)
