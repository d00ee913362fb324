#!/usr/bin/env python3
"""A misbehaving SMTP server for the delivery tests: each MODE is one way a server (or
something pretending to be one) can break the protocol. It listens on 127.0.0.1, prints
`READY <port>`, and appends each message body it took to RECORD (one line "MESSAGE n"
per message) when given.

usage: hostile_smtp.py MODE [--record FILE] [--cert CERT --key KEY]

modes: code099-mail, code199-mail, code199-rcpt, code099-dot, code354-dot  (replies outside 2xx-5xx
       where a 2xx, 4xx or 5xx belongs); drip (a greeting that never ends, a byte at a time);
       close-after-dot (the content taken, then the connection closed without a reply);
       rcpt552 (552 "too many recipients" to every RCPT after the first); escapes (a 550 to the
       content full of terminal escapes, C1 controls and bytes that are not UTF-8);
       one-connection (a second concurrent connection gets 421 at the greeting);
       auth-echo (STARTTLS with --cert/--key, then AUTH refused with the client's line echoed);
       auth-echo-raw (the same, but the client's line comes back bare, as no reply at all)
"""
import argparse
import socket
import ssl
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("mode")
parser.add_argument("--record")
parser.add_argument("--cert")
parser.add_argument("--key")
options = parser.parse_args()
mode = options.mode
lock = threading.Lock()
busy = [0]
taken = [0]


def record():
    with lock:
        taken[0] += 1
        if options.record:
            with open(options.record, "a") as out:
                out.write(f"MESSAGE {taken[0]}\n")


def serve(conn):
    stream = conn.makefile("rb")

    def send(data):
        conn.sendall(data if isinstance(data, bytes) else data.encode())

    def line():
        return stream.readline()

    with lock:
        busy[0] += 1
        crowded = busy[0] > 1
    try:
        if mode == "one-connection" and crowded:
            send("421 4.7.0 too many connections\r\n")
            return
        if mode == "drip":
            send("220-")
            while True:
                send(b"x")
                time.sleep(0.3)
        send("220 hostile.test ESMTP\r\n")
        line()  # EHLO
        if mode in ("auth-echo", "auth-echo-raw"):
            send("250-hostile.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n")
            line()
            send("220 go ahead\r\n")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(options.cert, options.key)
            conn = context.wrap_socket(conn, server_side=True)
            stream = conn.makefile("rb")
            line()  # EHLO again
            send("250-hostile.test\r\n250 AUTH PLAIN LOGIN\r\n")
            auth = line().strip()
            if mode == "auth-echo-raw":
                send(auth + b"\r\n")
            else:
                send(b"535 5.7.8 Authentication failed for " + auth + b"\r\n")
            line()
            return
        send("250-hostile.test\r\n250 8BITMIME\r\n")
        recipients = 0
        while True:
            command = line().upper()
            if not command:
                return
            if command.startswith(b"QUIT"):
                send("221 bye\r\n")
                return
            if command.startswith(b"RSET"):
                recipients = 0
                send("250 ok\r\n")
            elif command.startswith(b"MAIL"):
                send({"code099-mail": "099 odd\r\n", "code199-mail": "199 odd\r\n"}.get(mode, "250 ok\r\n"))
            elif command.startswith(b"RCPT"):
                recipients += 1
                if mode == "code199-rcpt":
                    send("199 odd\r\n")
                elif mode == "rcpt552" and recipients > 1:
                    send("552 5.5.3 too many recipients\r\n")
                else:
                    send("250 ok\r\n")
            elif command.startswith(b"DATA"):
                send("354 go ahead\r\n")
                while line() not in (b".\r\n", b""):
                    pass
                record()
                if mode == "close-after-dot":
                    conn.close()
                    return
                if mode == "escapes":
                    send(b"550-5.1.1 \x1b[31mRED\x1b]0;title\x07 \xc2\x9b31m \xe2\x80\xae\r\n550 5.1.1 \xff\xfe end\r\n")
                    continue
                send({"code099-dot": "099 odd\r\n", "code354-dot": "354 odd\r\n"}.get(mode, "250 2.0.0 queued\r\n"))
            else:
                send("500 5.5.1 what\r\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        with lock:
            busy[0] -= 1
        try:
            conn.close()
        except OSError:
            pass


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(64)
print("READY", server.getsockname()[1], flush=True)
while True:
    client, _ = server.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
