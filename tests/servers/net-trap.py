#!/usr/bin/env python3
"""A stand-in HTTP(S) proxy that records every request and forwards none.

Clients under test get HTTP_PROXY and HTTPS_PROXY pointing here.  Any
attempt to reach a host other than the local log (a TUF mirror, Fulcio, the
public Rekor) then shows up as one line in the log file.  That line is the
request line, for example "CONNECT tuf-repo-cdn.sigstore.dev:443 HTTP/1.1".
The trap replies 403 to every request except the readiness probe, a GET of
"/", which gets 204 and is not recorded.
"""

import argparse
import http.server
import os
import sys


def make_handler(log_path):
    class Trap(http.server.BaseHTTPRequestHandler):
        def record(self):
            if self.command == "GET" and self.path == "/":
                self.send_response(204)
                self.end_headers()
                return
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(self.requestline + "\n")
            self.send_error(403, "network access is not allowed in tests")

        do_GET = do_POST = do_PUT = do_HEAD = do_CONNECT = record

        def log_message(self, fmt, *args):
            sys.stderr.write("net-trap: " + (fmt % args) + "\n")

    return Trap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pid-file", help="write the server's pid here")
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", args.port), make_handler(args.log))
    # The pid of this process, which may differ from the one its starter
    # saw when a wrapper such as a pyenv shim forked on the way.
    if args.pid_file:
        with open(args.pid_file, "w", encoding="utf-8") as f:
            f.write("%d\n" % os.getpid())
    server.serve_forever()


if __name__ == "__main__":
    main()
