#!/usr/bin/env python3
"""A local stand-in for the Azure Instance Metadata Service, for tests and the simulated VM.

Serves GET /metadata/instance/compute and the whole instance document at /metadata/instance
(compute nested under "compute") like IMDS does: only with the header "Metadata: true" and an
api-version query (else 400, as IMDS answers), on 127.0.0.1. Writes the port it listens on to
--port-file once it is ready.

Modes (--mode): ok, 404, 500, garbage (not JSON), no-vmsize (JSON without vmSize), not-object,
stall (accepts, never answers), huge (an endless body). --fail-first N answers the first N
requests with --fail-status (default 500) before behaving as --mode, to test retries (IMDS answers
410 early in boot: --fail-first 1 --fail-status 410). --log records "GET PATH" per request.
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--port", type=int, default=0, help="listen here (default: any free port)")
    parser.add_argument("--vm-size", default="Standard_HB120rs_v3")
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--log", default=None, help="append one line per request here")
    args = parser.parse_args()
    state = {"requests": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *fields):
            if args.log:
                with open(args.log, "a") as log:
                    log.write("%s %s\n" % (self.command, self.path))

        def reply(self, status, body, content_type="application/json; charset=utf-8"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with lock:
                state["requests"] += 1
                number = state["requests"]
            if self.headers.get("Metadata") != "true":
                return self.reply(400, json.dumps({"error": "Bad request. Required metadata header not specified"}))
            path, _, query = self.path.partition("?")
            if path not in ("/metadata/instance/compute", "/metadata/instance"):
                return self.reply(404, json.dumps({"error": "Not found"}))
            if "api-version=" not in query:
                return self.reply(400, json.dumps({"error": "Bad request. api-version was not specified in the request"}))
            if number <= args.fail_first:
                return self.reply(args.fail_status, json.dumps({"error": "failing on purpose"}))
            mode = args.mode
            if mode == "ok":
                compute = {
                    "vmSize": args.vm_size, "offer": "ubuntu-hpc", "publisher": "microsoft-dsvm",
                    "sku": "2204", "location": "southcentralus", "osType": "Linux",
                    "name": "ibdriver-test", "vmId": "6d2b7f59-1c4e-4a4b-9c8f-3f5e1e0f2a11"}
                if path == "/metadata/instance":
                    return self.reply(200, json.dumps({"compute": compute, "network": {"interface": [
                        {"macAddress": "000D3A4B5C6D", "ipv4": {"ipAddress": [
                            {"privateIpAddress": "10.0.0.4", "publicIpAddress": ""}]}}]}}))
                return self.reply(200, json.dumps(compute))
            if mode in ("404", "500", "503", "429"):
                return self.reply(int(mode), json.dumps({"error": "mode " + mode}))
            if mode == "garbage":
                return self.reply(200, b"\x00\xffnot json at all<html>", "text/html")
            if mode == "no-vmsize":
                return self.reply(200, json.dumps({"offer": "ubuntu-hpc", "location": "westeurope"}))
            if mode == "not-object":
                return self.reply(200, json.dumps(["Standard_HB120rs_v3"]))
            if mode == "stall":
                time.sleep(3600)
                return None
            if mode == "huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                chunk = b"{" * 65536
                try:
                    while True:
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return None
            return self.reply(500, json.dumps({"error": "unknown mode"}))

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    temporary = args.port_file + ".tmp"
    with open(temporary, "w") as out:
        out.write(str(server.server_address[1]))
    os.rename(temporary, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
