"""git's ``proc-receive`` hook for simulated repositories (runs inside ``git receive-pack``).

It speaks the pkt-line protocol of ``githooks(5)``: negotiate version 1, read the ref
updates, ask the simulator (an HTTP callback with a per-push secret) to judge and apply
them, print GitHub's ``remote:`` messages on stderr and answer ``ok``/``ng`` per ref.
Standard library only and run with ``python -I``: it must start fast and import nothing
from the simulator.
"""

import json
import os
import sys
import urllib.request
from typing import BinaryIO


def read_pkt(stream: BinaryIO) -> bytes | None:
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError("unexpected end of pkt-line stream")
    size = int(head, 16)
    return None if size == 0 else stream.read(size - 4)


def write_pkt(stream: BinaryIO, data: bytes | None) -> None:
    stream.write(b"0000" if data is None else b"%04x" % (len(data) + 4) + data)


def read_until_flush(stream: BinaryIO) -> list[bytes]:
    packets = []
    while (pkt := read_pkt(stream)) is not None:
        packets.append(pkt)
    return packets


def ask_simulator(commands: list[dict[str, str]]) -> list[dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 - the simulator's own loopback URL
        os.environ["SHOAL_SIM_CALLBACK"],
        data=json.dumps({"commands": commands}).encode(),
        headers={
            "content-type": "application/json",
            "authorization": "Bearer " + os.environ["SHOAL_SIM_PUSH_SECRET"],
        },
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        results: list[dict[str, object]] = json.load(response)["results"]
        return results


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    read_until_flush(stdin)  # "version=1\0<capabilities>"
    write_pkt(stdout, b"version=1\n")
    write_pkt(stdout, None)
    stdout.flush()
    commands = []
    for pkt in read_until_flush(stdin):
        old, new, ref = pkt.decode().strip().split(" ", 2)
        commands.append({"before": old, "after": new, "ref": ref})
    try:
        results = ask_simulator(commands)
    except OSError as exc:
        sys.stderr.write(f"error: simulator unreachable: {exc}\n")
        results = [
            {"ref": c["ref"], "ok": False, "reason": "simulator unavailable", "remote_lines": []}
            for c in commands
        ]
    for result in results:
        for line in result.get("remote_lines", []):  # type: ignore[attr-defined]
            sys.stderr.write(f"{line}\n")
        status = f"ok {result['ref']}" if result["ok"] else f"ng {result['ref']} {result['reason']}"
        write_pkt(stdout, status.encode() + b"\n")
    write_pkt(stdout, None)
    stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
