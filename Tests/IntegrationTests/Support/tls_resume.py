#!/usr/bin/env python3
"""TLS session resumption as a client sees it, for the TLS tests.

usage: tls_resume.py PORT CAFILE 1.2|1.3            eight connections in a row, each
                                                    offering the previous one's session;
                                                    prints "r" (resumed) or "." for each
       tls_resume.py PORT CAFILE 1.2|1.3 --reload PID
                                                    one connection, SIGHUP to PID, wait
                                                    until the answer body changes, then a
                                                    connection offering the first session;
                                                    prints "BEFORE AFTER reused|full"

Each connection sends "GET /" (Host: localhost, Connection: close) with TLS verified
against CAFILE for the name "localhost", at most the given TLS version.
"""
import os
import signal
import socket
import ssl
import sys
import time

port, ca, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3


def get(session):
    """One request; returns (session, resumed?, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                data += chunk
            return t.session, t.session_reused, data.split(b"\r\n\r\n", 1)[-1].decode()


if len(sys.argv) > 5 and sys.argv[4] == "--reload":
    session, _, before = get(None)
    os.kill(int(sys.argv[5]), signal.SIGHUP)
    for _ in range(100):
        if get(None)[2] != before:
            break
        time.sleep(0.05)
    _, reused, after = get(session)
    print(before, after, "reused" if reused else "full")
else:
    session, marks = None, []
    for _ in range(8):
        session, reused, _ = get(session)
        marks.append("r" if reused else ".")
    print(" ".join(marks))
