#!/usr/bin/env python3
"""A WebSocket client over TLS for the wss tests: handshake, text and binary echoes, close.

usage: wss_client.py PORT CAFILE SIZE

Connects to 127.0.0.1:PORT with TLS (server name "localhost", verified against CAFILE),
upgrades /ws/echo/, sends a text frame and a SIZE-byte binary frame (masked, as a client
must), checks that both come back unchanged, then closes with 1000. Prints one line per
step; exits 1 on any difference.
"""
import base64
import os
import socket
import ssl
import struct
import sys

port, cafile, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
context = ssl.create_default_context(cafile=cafile)
sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall(
    (
        "GET /ws/echo/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://localhost\r\n\r\n"
    ).encode()
)
buffer = b""
while b"\r\n\r\n" not in buffer:
    chunk = sock.recv(4096)
    if not chunk:
        sys.exit("closed during the handshake")
    buffer += chunk
head, buffer = buffer.split(b"\r\n\r\n", 1)
print(head.split(b"\r\n")[0].decode())


def send(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x80 | opcode])
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)


def need(n):
    global buffer
    while len(buffer) < n:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("closed while reading a frame")
        buffer += chunk


def receive():
    global buffer
    need(2)
    opcode, n = buffer[0] & 0x0F, buffer[1] & 0x7F
    offset = 2
    if n == 126:
        need(4)
        n, offset = struct.unpack("!H", buffer[2:4])[0], 4
    elif n == 127:
        need(10)
        n, offset = struct.unpack("!Q", buffer[2:10])[0], 10
    need(offset + n)
    payload, buffer = buffer[offset : offset + n], buffer[offset + n :]
    return opcode, payload


send(1, b"hello over tls")
opcode, payload = receive()
print("text", opcode, payload.decode())
blob = bytes((i * 7 + 3) % 256 for i in range(size))
send(2, blob)
opcode, payload = receive()
print("binary", opcode, len(payload), payload == blob)
send(8, struct.pack("!H", 1000))
opcode, payload = receive()
print("close", opcode, struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
sys.exit(0 if payload[:2] == struct.pack("!H", 1000) else 1)
