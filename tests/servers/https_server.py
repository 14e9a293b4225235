#!/usr/bin/env python3
"""A real HTTPS file server on 127.0.0.1 for the fetch tests, with faults chosen per request.

Serves the files of --dir. The URL path picks the behaviour: /<modes>/<file>, where <modes> is a
comma-separated list; the n-th request for that path uses the n-th mode and the last one repeats
(so /reset,ok/f fails once, then serves). /files/<file> is plain "ok".

Modes:
  ok            200, or 206 for a Range request (Content-Range checked by the client)
  norange       always 200 with the whole file, ignoring Range
  badrange      206 whose Content-Range starts elsewhere than asked
  reset         half of the body, then a TCP reset
  stall         half of the body, then silence
  short         Content-Length of the whole, half of the body, then a clean close
  wrong         the right length, wrong bytes
  drip          the body in 16 KiB pieces every 50 ms
  503, 429      with Retry-After: 1
  404, 403, 500
  redirect      302 to /files/<file> on this server
  redirect-http 302 to the same file over plain http
  redirect-loop 302 to itself
  limited       ok while fewer than --max-active requests of this mode are being answered, else 429 with
                Retry-After: --retry-after (a busy mirror; counted per request in flight, as nginx's limit_conn)
Listeners (ports written as JSON to --port-file): good (trusted certificate), http (plain),
wrong_host, expired, unknown_ca. Every request is logged to --log as "port mode path range"; with
--stats FILE, each answered request also adds a JSON line there: start and end (time.time()), listener,
mode, status, body bytes sent.
"""
import argparse
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 64 * 1024


def make_handler(args, state, ports, listener):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *fields):
            pass

        def handle(self):
            if isinstance(self.connection, ssl.SSLSocket):
                try:
                    self.connection.do_handshake()
                except (ssl.SSLError, OSError):
                    return  # the client refused this listener's certificate, as the tests expect
            super().handle()

        def record(self, mode):
            with state["lock"]:
                with open(args.log, "a") as log:
                    log.write("%s %s %s %s\n" % (listener, mode, self.path, self.headers.get("Range", "-")))

        def send_response(self, code, message=None):
            self.answered = code
            super().send_response(code, message)

        def simple(self, status, extra=None, body=b""):
            self.send_response(status)
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.body_bytes += len(body)

        def do_GET(self):
            self.answered, self.body_bytes, self.mode = 0, 0, "-"
            started = time.time()
            try:
                self.respond()
            finally:
                if args.stats:
                    line = json.dumps({"start": started, "end": time.time(), "listener": listener, "mode": self.mode,
                                       "status": self.answered, "bytes": self.body_bytes})
                    with state["lock"]:
                        with open(args.stats, "a") as stats:
                            stats.write(line + "\n")

        def respond(self):
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) != 2:
                return self.simple(404)
            modes, name = parts
            modes = ["ok"] if modes == "files" else modes.split(",")
            with state["lock"]:
                count = state["counts"].get(self.path, 0)
                state["counts"][self.path] = count + 1
            mode = modes[min(count, len(modes) - 1)]
            self.mode = mode
            self.record(mode)
            path = os.path.join(args.dir, name)
            if not os.path.isfile(path):
                return self.simple(404, body=b"no such file\n")
            if mode in ("503", "429"):
                return self.simple(int(mode), {"Retry-After": "1"}, b"busy\n")
            if mode in ("404", "403", "500"):
                return self.simple(int(mode), body=b"error page\n")
            if mode == "redirect":
                return self.simple(302, {"Location": "/files/" + name})
            if mode == "redirect-http":
                return self.simple(302, {"Location": "http://127.0.0.1:%d/files/%s" % (ports["http"], name)})
            if mode == "redirect-loop":
                return self.simple(302, {"Location": self.path})
            if mode == "limited":
                return self.serve_limited(path)
            return self.serve(path, mode)

        def serve_limited(self, path):
            with state["lock"]:
                admitted = state["active"] < args.max_active
                if admitted:
                    state["active"] += 1
            if not admitted:
                return self.simple(429, {"Retry-After": str(args.retry_after)}, b"too many requests\n")
            try:
                return self.serve(path, "ok")
            finally:
                with state["lock"]:
                    state["active"] -= 1

        def serve(self, path, mode):
            size = os.path.getsize(path)
            start = 0
            wanted = self.headers.get("Range")
            if wanted and mode not in ("norange",) and wanted.startswith("bytes=") and wanted.endswith("-"):
                start = int(wanted[6:-1])
                if start >= size:
                    return self.simple(416, {"Content-Range": "bytes */%d" % size})
            if start > 0 or (wanted and mode != "norange"):
                shown = start + 7 if mode == "badrange" else start
                self.send_response(206)
                self.send_header("Content-Range", "bytes %d-%d/%d" % (shown, size - 1, size))
            else:
                self.send_response(200)
            length = size - start
            self.send_header("Content-Length", str(length))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            limit = length // 2 if mode in ("reset", "stall", "short") else length
            sent = 0
            with open(path, "rb") as source:
                source.seek(start)
                while sent < limit:
                    data = source.read(min(CHUNK if mode != "drip" else 16384, limit - sent))
                    if not data:
                        break
                    if mode == "wrong":
                        data = bytes(b ^ 0x5A for b in data)
                    try:
                        self.wfile.write(data)
                    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                        return
                    sent += len(data)
                    self.body_bytes += len(data)
                    if mode == "drip":
                        time.sleep(0.05)
            if mode == "reset":
                self.wfile.flush()
                raw = self.connection
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw.close()
                self.close_connection = True
            elif mode == "stall":
                self.wfile.flush()
                time.sleep(3600)
            elif mode == "short":
                self.wfile.flush()
                self.close_connection = True

    return Handler


class Listener(ThreadingHTTPServer):
    """Accepts at once and leaves the TLS handshake to the connection's thread: a fleet connecting
    together is neither queued behind one handshake nor dropped by socketserver's backlog of 5."""

    daemon_threads = True
    request_queue_size = 256
    tls = None

    def get_request(self):
        connection, address = self.socket.accept()
        if self.tls:
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--certs", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--stats", help="also write one JSON line per answered request here")
    parser.add_argument("--max-active", type=int, default=8, help="requests the 'limited' mode answers at once")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, in the 'limited' mode's 429 answers")
    parser.add_argument("--port", type=int, default=0,
                        help="the 'good' listener's port (default: any free one); a URL written before the server runs needs it")
    args = parser.parse_args()
    state = {"lock": threading.Lock(), "counts": {}, "active": 0}
    ports = {}
    servers = []
    for listener in ("good", "http", "wrong_host", "expired", "unknown_ca"):
        server = Listener(("127.0.0.1", args.port if listener == "good" else 0), make_handler(args, state, ports, listener))
        if listener != "http":
            server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server.tls.load_cert_chain(os.path.join(args.certs, listener + ".pem"),
                                       os.path.join(args.certs, listener + ".key"))
        ports[listener] = server.server_address[1]
        servers.append(server)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    temporary = args.port_file + ".tmp"
    with open(temporary, "w") as out:
        json.dump(ports, out)
    os.rename(temporary, args.port_file)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
