#!/usr/bin/python3
"""WebSocket over HTTP/2 (RFC 8441) client for the integration tests, on Python's h2
package (Debian's python3-h2): on one h2c connection it opens an extended CONNECT
stream (:method CONNECT, :protocol websocket) to PATH, exchanges WebSocket messages
in DATA frames (client frames masked, as RFC 6455 requires), opens a second stream
(GET SECOND) while the tunnel is open, sends a message larger than the stream's
windows, closes the WebSocket (close frame 1000, then END_STREAM) and waits for the
server's END_STREAM, then sends one more GET on the same connection. Prints what
happened as JSON.

usage: h2_websocket.py PORT PATH SECOND [noend|endfirst]
"noend": the client does not send END_STREAM after the close; the server's reset of
the stream is reported instead. "endfirst": the client's close frame carries
END_STREAM (the client's side ends first, the back end's FIN follows).
"""

import json
import os
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


def ws_frame(opcode, payload):
    """A masked client frame."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_parse(buf):
    """The first whole (unmasked) server frame of buf: (opcode, payload, rest) or None."""
    if len(buf) < 2:
        return None
    opcode, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack(">H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack(">Q", buf[2:10])[0], 10
    if buf[1] & 0x80:
        return None  # a server never masks
    if len(buf) < at + n:
        return None
    return opcode, buf[at : at + n], buf[at + n :]


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        config = h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False,
            normalize_outbound_headers=False, validate_inbound_headers=False,
        )
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.settings = {}
        self.streams = {}

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def stream(self, sid):
        return self.streams.setdefault(
            sid, {"status": None, "headers": [], "data": b"", "ended": False, "reset": None}
        )

    def pump(self, until, timeout=10):
        """Reads and handles frames until until() is true; False on a timeout or close."""
        deadline = time.time() + timeout
        while not until():
            if time.time() > deadline:
                return False
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            for ev in self.conn.receive_data(chunk):
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    for k, v in ev.changed_settings.items():
                        self.settings[int(k)] = v.new_value
                elif isinstance(ev, h2.events.ResponseReceived):
                    s = self.stream(ev.stream_id)
                    for n, v in ev.headers:
                        if n == b":status":
                            s["status"] = int(v)
                        else:
                            s["headers"].append([n.decode("latin-1"), v.decode("latin-1")])
                elif isinstance(ev, h2.events.DataReceived):
                    self.stream(ev.stream_id)["data"] += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    self.stream(ev.stream_id)["ended"] = True
                elif isinstance(ev, h2.events.StreamReset):
                    self.stream(ev.stream_id)["reset"] = ev.error_code
            self.flush()
        return True

    def send(self, sid, data):
        """Sends data within the flow-control windows, waiting for WINDOW_UPDATEs."""
        while data:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if room <= 0:
                if not self.pump(lambda: self.conn.local_flow_control_window(sid) > 0):
                    raise RuntimeError("no window for stream %d" % sid)
                continue
            self.conn.send_data(sid, data[:room])
            data = data[room:]
            self.flush()

    def get(self, path):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            sid, [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path.encode()),
                  (b":authority", b"localhost")], end_stream=True,
        )
        self.flush()
        self.pump(lambda: self.stream(sid)["ended"] or self.stream(sid)["reset"] is not None)
        s = self.stream(sid)
        return {"status": s["status"], "body": s["data"].decode("latin-1")}

    def message(self, sid, frames_seen):
        """The next whole WebSocket frame of the tunnel: (opcode, payload)."""
        s = self.stream(sid)
        parsed = []

        def whole():
            got = ws_parse(s["data"])
            if got:
                parsed.append(got)
            return bool(got) or s["ended"] or s["reset"] is not None

        if not self.pump(whole) or not parsed:
            return None, b""
        opcode, payload, s["data"] = parsed[0]
        frames_seen.append(opcode)
        return opcode, payload


def main():
    port, path, second = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    mode = sys.argv[4] if len(sys.argv) > 4 else ""
    c = Client(port)
    out = {}
    c.pump(lambda: 8 in c.settings)
    out["enable_connect_protocol"] = c.settings.get(8)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(
        sid,
        [(b":method", b"CONNECT"), (b":protocol", b"websocket"), (b":scheme", b"http"),
         (b":path", path.encode()), (b":authority", b"localhost"), (b"sec-websocket-version", b"13")],
        end_stream=False,
    )
    c.flush()
    c.pump(lambda: c.stream(sid)["status"] is not None or c.stream(sid)["reset"] is not None)
    t = c.stream(sid)
    out["status"], out["headers"] = t["status"], t["headers"]
    if t["status"] != 200:
        out["body"] = t["data"].decode("latin-1")
        print(json.dumps(out))
        return
    opcodes = []
    c.send(sid, ws_frame(1, "hello over h2, wörld".encode()))
    op, payload = c.message(sid, opcodes)
    out["echo"] = payload.decode("utf-8", "replace")
    # A second stream while the tunnel is open.
    out["second"] = c.get(second)
    c.send(sid, ws_frame(1, b"after the second stream"))
    op, payload = c.message(sid, opcodes)
    out["echo2"] = payload.decode("utf-8", "replace")
    # 200 KB: more than the stream's windows both ways.
    big = bytes((i * 31 + 7) & 0xFF for i in range(200_000))
    c.send(sid, ws_frame(2, big))
    op, payload = c.message(sid, opcodes)
    out["big_echoed"] = op == 2 and payload == big
    # Close: the consumer answers with its close frame; then END_STREAM both ways.
    if mode == "endfirst":
        # One DATA frame carries the close frame and END_STREAM, so the server has both
        # before the back end can answer.
        c.conn.send_data(sid, ws_frame(8, struct.pack(">H", 1000)), end_stream=True)
        c.flush()
    else:
        c.send(sid, ws_frame(8, struct.pack(">H", 1000)))
    op, payload = c.message(sid, opcodes)
    out["close_code"] = struct.unpack(">H", payload[:2])[0] if op == 8 and len(payload) >= 2 else None
    if mode == "noend":
        # The client never ends its side: the server resets the stream (NO_ERROR).
        c.pump(lambda: t["reset"] is not None, timeout=15)
    elif mode == "endfirst":
        c.pump(lambda: t["ended"] or t["reset"] is not None)
    else:
        out["reset_before_end"] = t["reset"]
        c.conn.end_stream(sid)
        c.flush()
        c.pump(lambda: t["ended"] or t["reset"] is not None)
    out["ended"], out["reset"], out["opcodes"] = t["ended"], t["reset"], opcodes
    out["after"] = c.get(second)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
