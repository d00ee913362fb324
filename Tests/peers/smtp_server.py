#!/usr/bin/env python3
"""An SMTP server for the delivery tests (`smimegate deliver`), built on aiosmtpd.

It listens on 127.0.0.1 only, prints one line `READY <port>` on stdout once it
accepts connections, and serves until SIGTERM or SIGINT (exit 0). Each option
turns on one behaviour of a real server, or one failure, for a test to meet.

usage: smtp_server.py [--port N] [--record FILE] [--log FILE]
                      [--defer ADDR]... [--reject ADDR]... [--reject-data | --defer-data]
                      [--starttls CERT KEY] [--auth USER:PASSWORD] [--size N]
                      [--smtputf8] [--pipelining] [--no-8bitmime] [--drop-after-data]
                      [--delay SECONDS]

--record FILE  one JSON line per accepted message (DATA answered 250, or recorded just
               before --drop-after-data): mail_from ("" for <>), rcpt_tos, mail_options,
               rcpt_options (aiosmtpd upper-cases options), data (base64 of the bytes
               received, dot-unstuffed, CRLF kept), tls, auth (user or null), time;
               flushed and fsync'ed line by line.
--log FILE     `CONNECT <host>:<port>` per connection, then every command line the client
               sent, as sent (AUTH arguments and AUTH responses written as ***).
--no-8bitmime  8BITMIME is not advertised and MAIL ... BODY=8BITMIME is refused; 8-bit
               bytes in DATA are still accepted and recorded, so a test can see them.
Without --size no SIZE is advertised and messages of any size are taken. aiosmtpd answers
500 to a message with a line of more than 999 bytes before its CRLF (RFC 5321 allows 998).
Without --auth no AUTH is offered; with --starttls, only after STARTTLS.
"""
import argparse
import asyncio
import base64
import json
import logging
import os
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult

HOSTNAME = "smtp-peer.test"
DEFERRED = "451 4.3.0 Try again later"


class Recorder:
    """Appends lines to a file (or nowhere), each one flushed and, if asked, fsync'ed."""

    def __init__(self, path, sync):
        self.file = open(path, "ab") if path else None
        self.sync = sync

    def write(self, line):
        if self.file:
            self.file.write(line.encode("utf-8", "backslashreplace") + b"\n")
            self.file.flush()
            if self.sync:
                os.fsync(self.file.fileno())


class Handler:
    """The aiosmtpd hooks: extensions in EHLO, answers per recipient and per message."""

    def __init__(self, options, record):
        self.options = options
        self.record = record
        self.deferred = {a.lower() for a in options.defer}
        self.rejected = {a.lower() for a in options.reject}

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.options.auth is None:
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        if self.options.no_8bitmime:
            responses = [r for r in responses if r[4:] != "8BITMIME"]
        if self.options.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.options.no_8bitmime and "BODY=8BITMIME" in mail_options:
            return "555 5.5.4 BODY=8BITMIME not supported"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.deferred:
            return DEFERRED
        if address.lower() in self.rejected:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if self.options.reject_data:
            return "554 5.6.0 Message rejected"
        if self.options.defer_data:
            return DEFERRED
        if self.options.delay:
            await asyncio.sleep(self.options.delay)  # a server that takes its time over each message
        # aiosmtpd reads MAIL FROM:<> as the address "<>".
        sender = "" if envelope.mail_from == "<>" else envelope.mail_from
        self.record.write(json.dumps({
            "mail_from": sender,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "data": base64.b64encode(envelope.original_content).decode("ascii"),
            "tls": session.ssl is not None,
            "auth": session.auth_data if session.authenticated else None,
            "time": time.time(),
        }))
        if self.options.drop_after_data:
            # Gone without a word, as if the server crashed after taking the message:
            # abort the TCP connection (under TLS too) and wait to be cancelled.
            (server._original_transport or server.transport).abort()
            await asyncio.get_running_loop().create_future()
        return "250 2.0.0 Ok: queued"


class LoggedSMTP(SMTP):
    """aiosmtpd's SMTP, writing the client's command lines to the --log file.

    aiosmtpd reads commands with readuntil() (separator LF), DATA lines with
    readuntil(CRLF) and AUTH responses with readline(): wrapping the reader's
    two methods tells them apart without copying its command loop."""

    log = Recorder(None, False)
    connections = set()

    def connection_made(self, transport):
        if self._original_transport is None:  # a new connection, not the TLS layer of STARTTLS
            peer = transport.get_extra_info("peername")
            self.log.write(f"CONNECT {peer[0]}:{peer[1]}")
            LoggedSMTP.connections.add(self)
        super().connection_made(transport)

    def connection_lost(self, error):
        LoggedSMTP.connections.discard(self)
        super().connection_lost(error)

    def _cb_client_connected(self, reader, writer):
        super()._cb_client_connected(reader, writer)
        readuntil, readline = reader.readuntil, reader.readline
        in_auth = False

        async def logged_readuntil(separator=b"\n"):
            line = await readuntil(separator)
            if separator == b"\n":
                self.log.write("***" if in_auth else redact(line.rstrip(b"\r\n")))
            return line

        async def logged_readline():  # StreamReader.readline calls self.readuntil
            nonlocal in_auth
            in_auth = True
            try:
                return await readline()
            finally:
                in_auth = False

        reader.readuntil, reader.readline = logged_readuntil, logged_readline


def redact(line):
    words = line.split(None, 2)
    if len(words) == 3 and words[0].upper() == b"AUTH":
        line = b"%s %s ***" % (words[0], words[1])
    return line.decode("utf-8", "backslashreplace")


def parse_arguments():
    parser = argparse.ArgumentParser(description="SMTP server for smimegate's delivery tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record")
    parser.add_argument("--log")
    parser.add_argument("--defer", action="append", default=[], metavar="ADDR")
    parser.add_argument("--reject", action="append", default=[], metavar="ADDR")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--reject-data", action="store_true")
    data.add_argument("--defer-data", action="store_true")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    parser.add_argument("--size", type=int)
    parser.add_argument("--smtputf8", action="store_true")
    parser.add_argument("--pipelining", action="store_true")
    parser.add_argument("--no-8bitmime", action="store_true")
    parser.add_argument("--drop-after-data", action="store_true")
    parser.add_argument("--delay", type=float, default=0, metavar="SECONDS")
    options = parser.parse_args()
    if options.auth is not None and ":" not in options.auth:
        parser.error("--auth takes USER:PASSWORD")
    return options


def smtp_factory(options):
    handler = Handler(options, Recorder(options.record, True))
    tls = None
    if options.starttls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(*options.starttls)
    authenticator = None
    if options.auth is not None:
        user, password = options.auth.encode().split(b":", 1)

        def authenticator(server, session, envelope, mechanism, login_password):
            if (login_password.login, login_password.password) == (user, password):
                return AuthResult(success=True, auth_data=user.decode())
            return AuthResult(success=False, handled=False)

    # aiosmtpd warns against AUTH without TLS (this server offers it when asked to), and
    # about its own use of a deprecated attribute at every AUTH: keep stderr for real trouble.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    expected = ("auth_require_tls == False", "login_data is deprecated")
    logging.getLogger("mail.log").addFilter(lambda r: not any(w in r.getMessage() for w in expected))
    return lambda: LoggedSMTP(
        handler,
        hostname=HOSTNAME,
        data_size_limit=options.size,
        enable_SMTPUTF8=options.smtputf8,
        tls_context=tls,
        require_starttls=tls is not None,
        authenticator=authenticator,
        auth_required=authenticator is not None,
        auth_require_tls=tls is not None,
        auth_exclude_mechanism=[] if authenticator else ["LOGIN", "PLAIN"],
    )


async def serve(options):
    LoggedSMTP.log = Recorder(options.log, False)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(smtp_factory(options), host="127.0.0.1", port=options.port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()
    for connection in list(LoggedSMTP.connections):
        if connection.transport is not None:
            connection.transport.close()


def main():
    asyncio.run(serve(parse_arguments()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
