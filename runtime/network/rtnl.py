"""The few rtnetlink requests a container's network needs, packed by hand (linux/rtnetlink.h).

Plumbing a container is five requests: the veth pair (its peer created inside the container's
netns), then, inside it, the peer's index, its address, link up and the default route. Through
pyroute2 0.9 each request sets up and tears down an asyncio loop and parses every reply into
objects: ~7 ms of Python per container, the largest part of the engine's work in an `up` of
many replicas, and it held the network manager's lock meanwhile. Packed with `struct` on a
socket of the caller's own, they cost a fraction of that and need no lock, so connects run side
by side (the kernel serialises them under RTNL only for the moment each takes). pyroute2 stays
for everything else the network manager does (bridges, lookups, dumps), where it is not hot.
Kernel ABI facts: rtnetlink(7), netlink(7), linux/if_link.h, linux/veth.h.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

NLMSG_ERROR = 2
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY, RTA_OIF = 5, 4
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
NLA_F_NESTED = 0x8000

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBi")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags


class NetlinkFailure(OSError):
    """The kernel refused a request (``errno`` says why, as pyroute2's NetlinkError ``code``)."""


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _name(text: str) -> bytes:
    return text.encode() + b"\0"


def _u32(value: int) -> bytes:
    return struct.pack("=I", value)


def _ipv4(address: str) -> bytes:
    return ipaddress.IPv4Address(address).packed


@dataclass(frozen=True)
class Link:
    index: int
    mac: str


class Rtnl:
    """One NETLINK_ROUTE socket (in whichever netns it was made) and its requests, each acknowledged."""

    def __init__(self, fd: int | None = None) -> None:
        if fd is None:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, 0)
        else:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, 0, fileno=fd)
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- requests ------------------------------------------------------------------------------------
    def add_veth(self, ifname: str, peer: str, peer_netns_fd: int, master: int, mtu: int | None) -> None:
        """A veth pair: ``ifname`` up on the bridge ``master`` here, ``peer`` inside the netns of
        ``peer_netns_fd`` (`ip link add IF master BR up type veth peer name PEER netns NS`)."""
        mtu_attr = _attr(IFLA_MTU, _u32(mtu)) if mtu else b""
        peer_msg = (_IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(peer))
                    + _attr(IFLA_NET_NS_FD, _u32(peer_netns_fd)) + mtu_attr)
        info = (_attr(IFLA_INFO_KIND, _name("veth"))
                + _attr(IFLA_INFO_DATA | NLA_F_NESTED, _attr(VETH_INFO_PEER | NLA_F_NESTED, peer_msg)))
        body = (_IFINFO.pack(0, 0, 0, IFF_UP, IFF_UP) + _attr(IFLA_IFNAME, _name(ifname)) + mtu_attr
                + _attr(IFLA_MASTER, _u32(master)) + _attr(IFLA_LINKINFO | NLA_F_NESTED, info))
        self._transact([(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)])

    def link(self, ifname: str) -> Link:
        """The interface's index and MAC address (`ip link show IF`)."""
        body = _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(ifname))
        reply = self._transact([(RTM_GETLINK, 0, body)], want_reply=True)
        _, _, index, _, _ = _IFINFO.unpack_from(reply, 0)
        mac = ""
        offset = _IFINFO.size
        while offset + 4 <= len(reply):
            length, kind = struct.unpack_from("=HH", reply, offset)
            if length < 4:
                break
            if kind & 0x3FFF == IFLA_ADDRESS:
                mac = ":".join(f"{b:02x}" for b in reply[offset + 4:offset + length])
            offset += length + (-length % 4)
        return Link(index, mac)

    def configure(self, index: int, address: str, prefixlen: int, gateway: str | None) -> None:
        """Address, link up and (with ``gateway``) the default route, in one datagram of three
        requests (`ip addr add`, `ip link set up`, `ip route add default via`)."""
        packed = _ipv4(address)
        requests = [
            (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
             _IFADDR.pack(socket.AF_INET, prefixlen, 0, 0, index) + _attr(IFA_LOCAL, packed)
             + _attr(IFA_ADDRESS, packed)),
            (RTM_NEWLINK, 0, _IFINFO.pack(0, 0, index, IFF_UP, IFF_UP)),
        ]
        if gateway is not None:
            requests.append((RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
                             _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                                         RTN_UNICAST, 0)
                             + _attr(RTA_GATEWAY, _ipv4(gateway)) + _attr(RTA_OIF, _u32(index))))
        self._transact(requests)

    # --- the exchange --------------------------------------------------------------------------------
    def _transact(self, requests: list[tuple[int, int, bytes]], want_reply: bool = False) -> bytes:
        """Send the requests in one datagram; wait for each one's acknowledgement (or its reply)."""
        datagram = b""
        pending: dict[int, int] = {}
        for kind, flags, body in requests:
            self._seq += 1
            pending[self._seq] = kind
            datagram += _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, self._seq, 0)
            datagram += body
        self.sock.send(datagram)
        reply = b""
        while pending:
            data = self.sock.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _flags, seq, _pid = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    break
                payload = data[offset + _HEADER.size:offset + length]
                offset += length + (-length % 4)
                if seq not in pending:
                    continue
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", payload, 0)
                    del pending[seq]
                    if code:
                        raise NetlinkFailure(-code, os.strerror(-code))
                elif want_reply:
                    reply = payload  # the ACK that follows a reply ends the exchange
        return reply
