"""One SOCKS5 session's throughput through the relay, for bench/gssapi-bench.ts.

usage: gssapi_throughput.py PROXY_PORT LEVEL TARGET_PORT up|down BYTES
LEVEL "plain": no authentication (method 0x00); 0-2: GSS-API (method 0x01)
as rcmd@localhost with the level asked for (0 in NEC form, 1-2 wrapped, RFC
1961). The target reads an 8-byte length first: "up" sends that many bytes
and the target answers one byte once all arrived; "down" has the target send
them. Prints "SECONDS GRANTED_LEVEL": from the first payload byte to the last
one arriving, so the relay's work in both directions is inside the time.
"""
import socket
import struct
import sys
import time

port, level_arg, target, direction, total = sys.argv[1:6]
port, target, total = int(port), int(target), int(total)
plain = level_arg == "plain"
sock = socket.create_connection(("127.0.0.1", port), timeout=60)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
PIECE = 65000  # payload per frame: its wrap token fits the 16-bit length


def read_exact(n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("relay closed")
        data += chunk
    return bytes(data)


def read_message():
    head = read_exact(2)
    if head[1] == 0xFF:
        raise SystemExit("relay aborted")
    (length,) = struct.unpack("!H", read_exact(2))
    return head[1], read_exact(length)


granted = 0
ctx = None
if plain:
    sock.sendall(b"\x05\x01\x00")
    assert read_exact(2) == b"\x05\x00"
else:
    import gssapi

    sock.sendall(b"\x05\x01\x01")
    assert read_exact(2) == b"\x05\x01"
    ctx = gssapi.SecurityContext(
        name=gssapi.Name("rcmd@localhost", gssapi.NameType.hostbased_service),
        usage="initiate",
        flags=gssapi.RequirementFlag.mutual_authentication
        | gssapi.RequirementFlag.integrity
        | gssapi.RequirementFlag.confidentiality
        | gssapi.RequirementFlag.replay_detection
        | gssapi.RequirementFlag.out_of_sequence_detection,
    )
    token = ctx.step()
    while True:
        sock.sendall(struct.pack("!BBH", 1, 1, len(token)) + token)
        if ctx.complete:
            break
        _, reply = read_message()
        token = ctx.step(reply)
        if ctx.complete:
            break
    wanted = int(level_arg)
    ask = bytes([wanted]) if wanted == 0 else ctx.wrap(bytes([wanted]), False).message
    sock.sendall(struct.pack("!BBH", 1, 2, len(ask)) + ask)
    _, reply = read_message()
    granted = reply[0] if wanted == 0 else ctx.unwrap(reply).message[0]
encrypt = granted >= 2
pending = bytearray()


def send(data):
    if granted == 0:
        sock.sendall(data)
        return
    out = bytearray()
    for at in range(0, len(data), PIECE):
        token = ctx.wrap(data[at : at + PIECE], encrypt).message
        out += struct.pack("!BBH", 1, 3, len(token)) + token
    sock.sendall(out)


def recv_some():
    """Some payload: one read at level 0, one frame otherwise."""
    if granted == 0:
        chunk = sock.recv(262144)
        if not chunk:
            raise EOFError("relay closed")
        return chunk
    _, token = read_message()
    return ctx.unwrap(token).message


def recv_exact(n):
    global pending
    while len(pending) < n:
        pending += recv_some()
    out = bytes(pending[:n])
    del pending[:n]
    return out


send(bytes([5, 1, 0, 1, 127, 0, 0, 1]) + struct.pack("!H", target))
assert recv_exact(10)[1] == 0, "CONNECT refused"
send(struct.pack("!Q", total) + (b"u" if direction == "up" else b"d"))
block = b"\xa5" * (PIECE * 4)
started = time.perf_counter()
if direction == "up":
    left = total
    while left > 0:
        piece = block if left >= len(block) else block[:left]
        send(piece)
        left -= len(piece)
    recv_exact(1)
else:
    got = len(pending)
    pending.clear()
    while got < total:
        got += len(recv_some())
print(f"{time.perf_counter() - started:.6f} {granted}")
