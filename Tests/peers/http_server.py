#!/usr/bin/env python3
"""An HTTP/1.1 server for the CRL-fetching tests (python3 standard library only).

It listens on 127.0.0.1 only, one thread per connection (daemon threads, keep-alive), and
serves until SIGTERM or SIGINT (exit 0). Once it accepts connections it writes the port
to --port-file (atomically: a reader never sees a partial number) and prints one line
`READY <port>` on stdout.

usage: http_server.py --root DIR [--port N] [--port-file FILE] [--log FILE]
                      [--delay SECONDS]

GET or HEAD /NAME   the file DIR/NAME (subdirectories allowed, no way out of DIR), read
                    anew for every request: 200 with Content-Length, ETag (a quoted
                    SHA-256 of the content) and Last-Modified (the file's mtime). 304 with
                    no body when If-None-Match names its ETag (or is *; W/ ignored) or,
                    with no If-None-Match, when If-Modified-Since is not older than the
                    mtime (in whole seconds). 404 when there is no such file.
/slow/NAME          as /NAME, answered after --delay seconds (default 30).
/huge               200, Content-Length 200000000, zeros until the client hangs up.
/hugechunk          200, chunked: a 1-byte chunk, then a chunk announced as 2**63 - 1 bytes.
/manyheaders        200 with 300 header fields before an empty body.
/nolength           200 with neither Content-Length nor chunking: 50 MB of zeros, then
                    the connection is closed.
Other methods get 405.

--port N       port to bind (default 0: one the kernel picks)
--log FILE     one JSON line per request, appended and flushed: method, path (as
               requested, query included), if_none_match, if_modified_since (the header
               values, or null), status. It is written when the answer is decided, so for
               /slow/ before the wait, and for /huge and /nolength before the body.
"""
import argparse
import email.utils
import hashlib
import http.server
import json
import os
import signal
import sys
import threading
import urllib.parse

HUGE_LENGTH = 200_000_000
NOLENGTH_LENGTH = 50 * 1024 * 1024
CHUNK = b"\0" * 65536


class Log:
    """Appends JSON lines to a file (or nowhere), one write and flush per line."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.lock = threading.Lock()

    def write(self, record):
        if self.file:
            with self.lock:
                self.file.write(json.dumps(record) + "\n")
                self.file.flush()


def etag_matches(header, etag):
    """Weak comparison (RFC 9110 13.1.2): does If-None-Match `header` name `etag`?"""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def not_modified_since(header, mtime):
    """Is If-Modified-Since `header` a date not older than `mtime`? False if unparsable."""
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since is None or since.tzinfo is None:
        return False
    return int(mtime) <= since.timestamp()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "revocation-http-peer"
    timeout = 120  # an idle keep-alive connection is dropped after this

    def log_message(self, format, *args):  # quiet: --log is the record
        pass

    def version_string(self):
        return self.server_version

    def record(self, status):
        self.server.log.write({
            "method": self.command,
            "path": self.path,
            "if_none_match": self.headers.get("If-None-Match"),
            "if_modified_since": self.headers.get("If-Modified-Since"),
            "status": status,
        })

    def do_GET(self):
        self.answer()

    def do_HEAD(self):
        self.answer()

    def refuse(self):
        self.record(405)
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = refuse

    def answer(self):
        try:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if path == "/huge":
                self.stream(HUGE_LENGTH, with_length=True)
            elif path == "/nolength":
                self.stream(NOLENGTH_LENGTH, with_length=False)
            elif path == "/hugechunk":
                self.record(200)
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"1\r\nA\r\n7fffffffffffffff\r\n" + CHUNK[:4096])
                self.wfile.flush()
                self.close_connection = True
            elif path == "/manyheaders":
                self.record(200)
                self.send_response(200)
                for index in range(300):
                    self.send_header(f"X-Filler-{index}", "x")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path.startswith("/slow/"):
                self.serve_file(path[len("/slow"):], delay=self.server.delay)
            else:
                self.serve_file(path, delay=0)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def stream(self, length, with_length):
        self.record(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if with_length:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        sent = 0
        while sent < length:
            chunk = CHUNK[:length - sent]
            self.wfile.write(chunk)
            sent += len(chunk)
        self.wfile.flush()

    def lookup(self, path):
        """The file under --root that `path` names, or None."""
        parts = [part for part in path.split("/") if part]
        if not parts or any(part in (".", "..") or "\0" in part for part in parts):
            return None
        file = os.path.join(self.server.root, *parts)
        if os.path.commonpath([os.path.realpath(file), self.server.root]) != self.server.root:
            return None
        return file if os.path.isfile(file) else None

    def serve_file(self, path, delay):
        file = self.lookup(path)
        body = None
        if file is not None:
            try:
                with open(file, "rb") as f:
                    mtime = os.fstat(f.fileno()).st_mtime
                    body = f.read()
            except OSError:
                body = None
        if body is None:
            self.record(404)
            self.wait(delay)
            message = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(message)
            return

        etag = '"%s"' % hashlib.sha256(body).hexdigest()
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        if_none_match = self.headers.get("If-None-Match")
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_none_match is not None:
            unchanged = etag_matches(if_none_match, etag)
        else:
            unchanged = if_modified_since is not None and not_modified_since(if_modified_since, mtime)
        status = 304 if unchanged else 200
        self.record(status)
        self.wait(delay)
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        if status == 304:
            self.end_headers()
            return
        self.send_header("Content-Type", content_type(file))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def wait(self, delay):
        if delay > 0:
            threading.Event().wait(delay)


def content_type(file):
    name = os.path.basename(file)
    if name.endswith((".crl", ".crl.der")):
        return "application/pkix-crl"
    if name.endswith((".cer", ".crt", ".der")):
        return "application/pkix-cert"
    if name.endswith(".pem"):
        return "application/x-pem-file"
    return "application/octet-stream"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client hanging up is no news
        exc = sys.exc_info()[1]
        if not isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            super().handle_error(request, client_address)


class Stop(BaseException):  # not caught by socketserver's "except Exception"
    pass


def stop(signum, frame):
    raise Stop()


def write_port_file(path, port):
    temporary = "%s.%d.tmp" % (path, os.getpid())
    with open(temporary, "w") as f:
        f.write("%d\n" % port)
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="directory of the files served")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="written with the port once listening")
    parser.add_argument("--log", help="JSON line per request appended here")
    parser.add_argument("--delay", type=float, default=30.0, help="wait of /slow/NAME")
    args = parser.parse_args()
    if not os.path.isdir(args.root):
        parser.error("--root %s is not a directory" % args.root)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as error:
        print("http_server: cannot listen on 127.0.0.1:%d: %s" % (args.port, error.strerror),
              file=sys.stderr)
        return 1
    server.root = os.path.realpath(args.root)
    server.delay = args.delay
    server.log = Log(args.log)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    print("READY %d" % port, flush=True)
    try:
        server.serve_forever()
    except Stop:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
