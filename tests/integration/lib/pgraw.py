"""A few PostgreSQL protocol messages by hand, for the tests that need to
see what a client library hides: the SSLRequest answer, the ErrorResponse
fields of a refused startup, the SCRAM server-first message, and sockets
that stop half-way.

- connect(port, tls=None): a socket to 127.0.0.1:port; with tls (an
  ssl.SSLContext) it sends SSLRequest, expects 'S' and wraps the socket
  (server name "localhost");
- startup(sock, user): sends the startup packet for user, database duckpond;
- read_msg(sock): (type, body) of the next message;
- error_fields(body): the fields of an ErrorResponse as a dict ('C', 'M', ...);
- scram_salt(port, user, tls=None): the salt (base64) the server shows for user
  in its SCRAM server-first message.
"""
import socket
import struct

SSL_REQUEST = 80877103


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def connect(port, tls=None, timeout=10):
    """A socket to the server, inside TLS when tls (an SSLContext) is given."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls is None:
        return sock
    sock.sendall(struct.pack("!ii", 8, SSL_REQUEST))
    answer = _recv_exact(sock, 1)
    if answer != b"S":
        sock.close()
        raise ConnectionError("the server answered %r to SSLRequest" % answer)
    return tls.wrap_socket(sock, server_hostname="localhost")


def startup(sock, user):
    """Sends the startup packet (protocol 3.0) for user and database duckpond."""
    body = struct.pack("!i", 196608) + b"user\0" + user.encode() + b"\0database\0duckpond\0\0"
    sock.sendall(struct.pack("!i", len(body) + 4) + body)


def read_msg(sock):
    """(type, body) of the next backend message."""
    head = _recv_exact(sock, 5)
    length = struct.unpack("!i", head[1:])[0]
    return head[:1], _recv_exact(sock, length - 4)


def error_fields(body):
    """The fields of an ErrorResponse or NoticeResponse body, by their code letter."""
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def scram_salt(port, user, tls=None):
    """The salt the server's SCRAM-SHA-256 server-first message shows for user."""
    sock = connect(port, tls)
    try:
        startup(sock, user)
        kind, body = read_msg(sock)
        if kind != b"R" or struct.unpack("!i", body[:4])[0] != 10:
            raise ConnectionError("expected AuthenticationSASL, got %r %r" % (kind, body[:40]))
        first = b"n,,n=,r=duckpondtestnonce0123"
        msg = b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first
        sock.sendall(b"p" + struct.pack("!i", len(msg) + 4) + msg)
        kind, body = read_msg(sock)
        if kind != b"R" or struct.unpack("!i", body[:4])[0] != 11:
            raise ConnectionError("expected AuthenticationSASLContinue, got %r %r" % (kind, body[:40]))
        fields = dict(item.split("=", 1) for item in body[4:].decode().split(","))
        return fields["s"]
    finally:
        sock.close()
