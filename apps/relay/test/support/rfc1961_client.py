"""An RFC 1961 SOCKS5 client (python3-gssapi) for the relay's tests.

usage: rfc1961_client.py PROXY_PORT SERVICE MODE [ECHO_PORT] [options]
MODE "rfc1961": the protection level goes wrapped (RFC 1961); "nec": in clear.
Prints one line per step: the relay's answer to the protection level
("abort", "closed", "level N") or where the login ended ("abort-context").
With ECHO_PORT, it then CONNECTs to 127.0.0.1:ECHO_PORT, in RFC 1961 frames
when the granted level is above 0, and prints "reply C" and the echo:
"echo ping" for the 4-byte default, "echo N ok" for --bytes N, or "closed"
when the relay ended the session (--tamper).

options:
  --level N      the level to ask for (default 2)
  --bytes N      send N bytes of a repeated marker, in frames of --frame bytes
  --frame N      payload bytes per frame sent (default 4096)
  --tamper       flip one byte in the first data frame's token
  --tamper-request  flip one byte in the SOCKS request's frame instead
  --udp          send UDP ASSOCIATE instead of CONNECT; prints "reply C"
  --bind         send BIND for 127.0.0.1 instead of CONNECT, connect a peer to the
                 port of the first reply, print "reply C" for both replies and
                 "peer ok" once "ping" and "pong" crossed the session both ways
"""
import argparse
import socket
import struct
import sys
import threading

import gssapi

MARKER = b"EDGESOCKS-PLAINTEXT-MARKER;"

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("service")
parser.add_argument("mode", choices=["rfc1961", "nec"])
parser.add_argument("echo_port", type=int, nargs="?")
parser.add_argument("--level", type=int, default=2)
parser.add_argument("--bytes", type=int, default=0)
parser.add_argument("--frame", type=int, default=4096)
parser.add_argument("--tamper", action="store_true")
parser.add_argument("--tamper-request", action="store_true")
parser.add_argument("--udp", action="store_true")
parser.add_argument("--bind", action="store_true")
args = parser.parse_args()


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


def frame(mtyp, token):
    return struct.pack("!BBH", 1, mtyp, len(token)) + token


sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
sock.sendall(b"\x05\x01\x01")
assert read_exact(sock, 2) == b"\x05\x01", "relay did not choose GSS-API"
name = gssapi.Name(args.service, gssapi.NameType.hostbased_service)
flags = (
    gssapi.RequirementFlag.mutual_authentication
    | gssapi.RequirementFlag.integrity
    | gssapi.RequirementFlag.confidentiality
    | gssapi.RequirementFlag.replay_detection
    | gssapi.RequirementFlag.out_of_sequence_detection
)
ctx = gssapi.SecurityContext(name=name, usage="initiate", flags=flags)
token = ctx.step()
while True:
    sock.sendall(frame(1, token))
    if ctx.complete:
        break
    mtyp, reply = read_message(sock)
    if mtyp == 0xFF:
        print("abort-context")
        sys.exit(0)
    token = ctx.step(reply)
    if ctx.complete:
        break
level = bytes([args.level])
sock.sendall(frame(2, level if args.mode == "nec" else ctx.wrap(level, False).message))
try:
    mtyp, reply = read_message(sock)
except EOFError:
    print("closed")
    sys.exit(0)
if mtyp == 0xFF:
    print("abort")
    sys.exit(0)
granted = reply[0] if args.mode == "nec" else ctx.unwrap(reply).message[0]
print("level", granted, flush=True)
if args.echo_port is None:
    sys.exit(0)

# Level 1-3: every message is an RFC 1961 encapsulated frame (§5).
encrypt = granted >= 2
pending = b""
sent = 0


def send(data, tamper=False):
    global sent
    if granted == 0:
        sock.sendall(data)
        return
    # Level 3 (selective): this client's choice is to alternate, message by message.
    conf = encrypt if granted != 3 else sent % 2 == 0
    sent += 1
    token = bytearray(ctx.wrap(data, conf).message)
    if tamper:
        token[len(token) // 2] ^= 0x01
    sock.sendall(frame(3, bytes(token)))


def recv_exact(n):
    """n bytes of payload: from frames (unwrapped, checked) or, at level 0, as they come."""
    global pending
    if granted == 0:
        return read_exact(sock, n)
    while len(pending) < n:
        mtyp, token = read_message(sock)
        assert mtyp == 3, f"expected an encapsulated message, got {mtyp}"
        unwrapped = ctx.unwrap(token)
        assert unwrapped.encrypted == encrypt, "the relay's protection differs from the level"
        pending += unwrapped.message
    out, pending = pending[:n], pending[n:]
    return out


if args.udp:
    send(bytes([5, 3, 0, 1, 0, 0, 0, 0, 0, 0]))
elif args.bind:
    send(bytes([5, 2, 0, 1, 127, 0, 0, 1, 0, 0]))
else:
    send(
        bytes([5, 1, 0, 1, 127, 0, 0, 1]) + struct.pack("!H", args.echo_port),
        tamper=args.tamper_request,
    )
try:
    head = recv_exact(10)
except (EOFError, ConnectionResetError):
    print("closed")
    sys.exit(0)
print("reply", head[1], flush=True)
if head[1] != 0 or args.udp:
    sys.exit(0)
if args.bind:
    (bound_port,) = struct.unpack("!H", head[8:10])
    peer = socket.create_connection(("127.0.0.1", bound_port), timeout=10)
    second = recv_exact(10)
    print("reply", second[1], flush=True)
    peer.sendall(b"ping")
    got = recv_exact(4)
    send(b"pong")
    print("peer", "ok" if got == b"ping" and read_exact(peer, 4) == b"pong" else "mismatch")
    sys.exit(0)
try:
    if args.bytes == 0:
        send(b"ping", tamper=args.tamper)
        print("echo", recv_exact(4).decode())
        sys.exit(0)
    payload = (MARKER * (args.bytes // len(MARKER) + 1))[: args.bytes]


    def send_all():
        try:
            for at in range(0, len(payload), args.frame):
                send(payload[at : at + args.frame], tamper=args.tamper and at == 0)
        except OSError:
            pass  # the relay closed the session; the reader says so

    # Sent while the echo is read: a large payload would otherwise fill both ways' buffers.
    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    back = recv_exact(len(payload))
    print("echo", len(back), "ok" if back == payload else "mismatch")
except (EOFError, ConnectionResetError):
    print("closed")
