#!/usr/bin/python3
"""Frame-level HTTP/2 client for the integration tests, on Python's h2 package (Debian's
python3-h2): sends the streams a JSON scenario describes, exactly as written (h2's own
header checks are off, so malformed heads reach the server), and prints what came back
as JSON: per stream its status, header fields, body, trailers and RST_STREAM code, the
connection's GOAWAY code, and the WINDOW_UPDATE increments the server sent.

usage: h2_client.py PORT SCENARIO_JSON

SCENARIO_JSON: {"requests": [{"headers": [[name, value], ...], "data": "text",
  "trailers": [[name, value], ...], "end": true, "pause": 0.2}], "timeout": 5,
  "settings": {"4": 65535}, "tls": false, "protocol": true}
"end": false leaves the stream open after its data; "pause" sends the head alone
first; "tunnel": "text" is sent once the stream is answered 200 (an extended CONNECT)
and the stream ended once as many bytes came back. "protocol": wait for the server's
SETTINGS (reported in "server_settings").
"more": [{"data": "text", "pause": 0.2, "end": true}, ...] sends DATA frames after the
first send, each after its pause. "after_heads": {"priority": [[sid, weight, depends_on,
exclusive], ...], "windows": [[sid, increment], ...]} is sent once every stream has its
response head. "frames": true reports every frame received as [type, flags, sid,
length] ("frames") and the stream of each DATA frame with a payload ("data_order").
"""

import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


def main():
    port = int(sys.argv[1])
    scenario = json.loads(sys.argv[2])
    sock = socket.create_connection(("127.0.0.1", port), timeout=scenario.get("timeout", 5))
    if scenario.get("tls"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname=scenario.get("sni", "localhost"))
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    if scenario.get("settings"):
        conn.update_settings({int(k): v for k, v in scenario["settings"].items()})
    out = {"streams": {}, "goaway": None, "window_updates": {}, "server_settings": {}}
    open_ids = []
    tunnels = {}
    for req in scenario.get("requests", []):
        sid = conn.get_next_available_stream_id()
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in req["headers"]]
        data = req.get("data")
        trailers = req.get("trailers")
        end = req.get("end", True)
        conn.send_headers(sid, headers, end_stream=end and data is None and trailers is None)
        if req.get("pause"):
            # The head goes out alone; the body follows after a pause.
            sock.sendall(conn.data_to_send())
            time.sleep(req["pause"])
        if data is not None:
            raw = data.encode("latin-1")
            pieces = [raw[i : i + 16384] for i in range(0, len(raw), 16384)] or [b""]
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                conn.send_data(sid, piece, end_stream=last and end and trailers is None)
        if trailers is not None:
            conn.send_headers(
                sid, [(n.encode("latin-1"), v.encode("latin-1")) for n, v in trailers], end_stream=True
            )
        if req.get("tunnel") is not None:
            tunnels[sid] = req["tunnel"]
        out["streams"][str(sid)] = {"status": None, "headers": [], "data": "", "trailers": [], "reset": None}
        open_ids.append(sid)
    sock.sendall(conn.data_to_send())
    for sid, req in zip(open_ids, scenario.get("requests", [])):
        for part in req.get("more", []):
            time.sleep(part.get("pause", 0))
            conn.send_data(sid, part.get("data", "").encode("latin-1"), end_stream=part.get("end", False))
            sock.sendall(conn.data_to_send())
    after_heads = scenario.get("after_heads")
    out["frames"] = []
    out["data_order"] = []
    raw = b""
    pending = set(open_ids)
    deadline = time.time() + scenario.get("timeout", 5)
    while (pending or scenario.get("protocol") and not out["server_settings"]) and time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        if scenario.get("frames"):
            raw += chunk
            while len(raw) >= 9:
                length = int.from_bytes(raw[0:3], "big")
                if len(raw) < 9 + length:
                    break
                ftype, flags, fsid = raw[3], raw[4], int.from_bytes(raw[5:9], "big") & 0x7FFFFFFF
                out["frames"].append([ftype, flags, fsid, length])
                if ftype == 0 and length > 0:
                    out["data_order"].append(fsid)
                raw = raw[9 + length :]
        try:
            events = conn.receive_data(chunk)
        except Exception as e:  # a protocol error on the server's side
            out["error"] = str(e)
            break
        for ev in events:
            s = out["streams"].get(str(getattr(ev, "stream_id", 0)))
            if isinstance(ev, h2.events.ResponseReceived):
                for n, v in ev.headers:
                    if n == b":status":
                        s["status"] = int(v)
                    else:
                        s["headers"].append([n.decode("latin-1"), v.decode("latin-1")])
                after = tunnels.get(ev.stream_id)
                if after is not None and s["status"] == 200:
                    # A tunnel (extended CONNECT) is open: its bytes go out now.
                    conn.send_data(ev.stream_id, after.encode("latin-1"))
            elif isinstance(ev, h2.events.TrailersReceived):
                s["trailers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in ev.headers]
            elif isinstance(ev, h2.events.DataReceived):
                s["data"] += ev.data.decode("latin-1")
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                after = tunnels.get(ev.stream_id)
                if after is not None and len(s["data"]) >= len(after):
                    # Everything came back: the client ends its side.
                    tunnels.pop(ev.stream_id)
                    conn.end_stream(ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                pending.discard(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                if s is not None:
                    s["reset"] = int(ev.error_code)
                pending.discard(ev.stream_id)
            elif isinstance(ev, h2.events.WindowUpdated):
                key = str(ev.stream_id)
                out["window_updates"][key] = out["window_updates"].get(key, 0) + ev.delta
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                for k, v in ev.changed_settings.items():
                    out["server_settings"][str(int(k))] = v.new_value
            elif isinstance(ev, h2.events.ConnectionTerminated):
                out["goaway"] = int(ev.error_code)
                pending.clear()
        if after_heads and all(out["streams"][str(i)]["status"] is not None for i in open_ids):
            for sid, weight, dep, excl in after_heads.get("priority", []):
                conn.prioritize(sid, weight=weight, depends_on=dep, exclusive=excl)
            for sid, incr in after_heads.get("windows", []):
                conn.increment_flow_control_window(incr, stream_id=sid or None)
            after_heads = None
        data = conn.data_to_send()
        if data:
            try:
                sock.sendall(data)
            except OSError:
                break
    print(json.dumps(out))


if __name__ == "__main__":
    main()
