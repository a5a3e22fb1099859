"""An emulated network link for the remote-warehouse benchmark (Linux, root).

The warehouse gets a network namespace of its own (``NAMESPACE``) joined to the root
namespace by a veth pair: ``CLIENT_IF`` (``CLIENT_IP``) in the root namespace,
``WAREHOUSE_IF`` (``WAREHOUSE_IP``) in the warehouse's. The subnet is a private /30 used
by nothing else; no route leads anywhere else. Bandwidth is capped with the kernel's token
bucket filter (``tc qdisc ... tbf``) on both ends; latency is added by
``bench.latency_proxy`` (this kernel has no ``netem``).

``Link.create()`` first removes what a killed earlier run may have left under the same
names; ``Link.destroy()`` removes the pair and the namespace (their qdiscs go with them).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

NAMESPACE = "lsync-bench-wh"
CLIENT_IF = "lsync-cli"
WAREHOUSE_IF = "lsync-wh"
SUBNET = "10.231.1.0/30"
CLIENT_IP = "10.231.1.1"
WAREHOUSE_IP = "10.231.1.2"
# tbf queue: at most this much time's worth of bytes waits at the cap, then packets drop.
TBF_LATENCY = "25ms"


class LinkError(RuntimeError):
    """A command setting up the link failed; the message names it and its output."""


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LinkError(
            f"`{' '.join(args)}` failed ({proc.returncode}): {proc.stderr.strip()} "
            "(the remote benchmark needs root on Linux, with iproute2's ip and tc)"
        )
    return proc


def in_namespace(*command: str) -> list[str]:
    """``command`` run inside the warehouse's namespace."""
    return ["ip", "netns", "exec", NAMESPACE, *command]


@dataclass
class Shaping:
    """A bandwidth cap on both ends of the link (None: no qdisc, the veth's full speed)."""

    rate_mbit: float | None

    def tbf_args(self) -> list[str]:
        assert self.rate_mbit is not None
        rate_bytes_per_s = self.rate_mbit * 1e6 / 8
        # A bucket of 2 ms at the rate (at least 32 KiB), so that large (GSO) packets of
        # the veth pass and the cap holds at 1 Gbit/s as well as at 100 Mbit/s.
        burst = max(int(rate_bytes_per_s * 0.002), 32 * 1024)
        return ["tbf", "rate", f"{self.rate_mbit:g}mbit", "burst", str(burst),
                "latency", TBF_LATENCY]  # fmt: skip


class Link:
    """The veth pair between the root namespace and the warehouse's namespace."""

    def __init__(self) -> None:
        self.created = False

    def create(self) -> None:
        self.destroy()  # leftovers of a killed run
        self.created = True
        _run("ip", "netns", "add", NAMESPACE)
        _run("ip", "link", "add", CLIENT_IF, "type", "veth", "peer", "name", WAREHOUSE_IF,
             "netns", NAMESPACE)  # fmt: skip
        _run("ip", "addr", "add", f"{CLIENT_IP}/30", "dev", CLIENT_IF)
        _run("ip", "link", "set", CLIENT_IF, "up")
        _run("ip", "-n", NAMESPACE, "addr", "add", f"{WAREHOUSE_IP}/30", "dev", WAREHOUSE_IF)
        _run("ip", "-n", NAMESPACE, "link", "set", WAREHOUSE_IF, "up")
        _run("ip", "-n", NAMESPACE, "link", "set", "lo", "up")

    def shape(self, shaping: Shaping) -> None:
        """Put ``shaping`` on both ends (replacing what was there)."""
        for prefix, dev in (([], CLIENT_IF), (["-n", NAMESPACE], WAREHOUSE_IF)):
            if shaping.rate_mbit is None:
                _run("tc", *prefix, "qdisc", "del", "dev", dev, "root", check=False)
            else:
                _run("tc", *prefix, "qdisc", "replace", "dev", dev, "root", *shaping.tbf_args())

    def qdiscs(self) -> list[str]:
        """What ``tc qdisc show`` says of both ends (recorded with the results)."""
        client = _run("tc", "qdisc", "show", "dev", CLIENT_IF).stdout.strip()
        warehouse = _run("tc", "-n", NAMESPACE, "qdisc", "show", "dev", WAREHOUSE_IF).stdout
        return [f"{CLIENT_IF}: {client}", f"{WAREHOUSE_IF}: {warehouse.strip()}"]

    @staticmethod
    def counters() -> tuple[int, int]:
        """Bytes received and sent so far by the client's end."""
        stats = Path("/sys/class/net") / CLIENT_IF / "statistics"
        rx = int((stats / "rx_bytes").read_text())
        tx = int((stats / "tx_bytes").read_text())
        return rx, tx

    def destroy(self) -> None:
        """Remove the pair and the namespace if they exist (no error when they do not)."""
        _run("ip", "link", "del", CLIENT_IF, check=False)
        _run("ip", "netns", "del", NAMESPACE, check=False)
        self.created = False
