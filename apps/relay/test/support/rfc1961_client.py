"""An RFC 1961 SOCKS5 client (python3-gssapi) for the relay's tests.

usage: rfc1961_client.py PROXY_PORT SERVICE MODE [ECHO_PORT]
MODE "rfc1961": the protection level goes wrapped (RFC 1961); "nec": in clear.
Prints one line: the relay's answer to the protection level ("abort",
"level N"), or where the login ended ("abort-context"). With ECHO_PORT, after
level 0 it CONNECTs to 127.0.0.1:ECHO_PORT and prints a second line: the reply
code and what the echo server sent back ("reply 0 echo ping").
"""
import socket
import struct
import sys

import gssapi

port, service, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
echo_port = int(sys.argv[4]) if len(sys.argv) > 4 else None


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("relay closed")
        data += chunk
    return data


def read_message(sock):
    head = read_exact(sock, 2)
    if head[1] == 0xFF:
        return 0xFF, b""
    (length,) = struct.unpack("!H", read_exact(sock, 2))
    return head[1], read_exact(sock, length)


sock = socket.create_connection(("127.0.0.1", port), timeout=10)
sock.sendall(b"\x05\x01\x01")
assert read_exact(sock, 2) == b"\x05\x01", "relay did not choose GSS-API"
name = gssapi.Name(service, gssapi.NameType.hostbased_service)
flags = (
    gssapi.RequirementFlag.mutual_authentication
    | gssapi.RequirementFlag.integrity
    | gssapi.RequirementFlag.confidentiality
)
ctx = gssapi.SecurityContext(name=name, usage="initiate", flags=flags)
token = ctx.step()
while True:
    sock.sendall(struct.pack("!BBH", 1, 1, len(token)) + token)
    if ctx.complete:
        break
    mtyp, reply = read_message(sock)
    if mtyp == 0xFF:
        print("abort-context")
        sys.exit(0)
    token = ctx.step(reply)
    if ctx.complete:
        break
level = bytes([2])
payload = level if mode == "nec" else ctx.wrap(level, False).message
sock.sendall(struct.pack("!BBH", 1, 2, len(payload)) + payload)
try:
    mtyp, reply = read_message(sock)
except EOFError:
    print("closed")
    sys.exit(0)
if mtyp == 0xFF:
    print("abort")
    sys.exit(0)
granted = reply[0] if mode == "nec" else ctx.unwrap(reply).message[0]
print("level", granted, flush=True)
if echo_port is not None and granted == 0:
    sock.sendall(b"\x05\x01\x00\x01\x7f\x00\x00\x01" + struct.pack("!H", echo_port))
    head = read_exact(sock, 10)
    sock.sendall(b"ping")
    print("reply", head[1], "echo", read_exact(sock, 4).decode() if head[1] == 0 else "-")
