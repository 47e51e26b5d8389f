"""The rtnetlink requests pyorch's networks need, packed by hand (linux/rtnetlink.h).

Plumbing a container is five requests: the veth pair (its peer created inside the container's
netns), then, inside it, the peer's index, its address, link up and the default route. Through
pyroute2 0.9 each request sets up and tears down an asyncio loop and parses every reply into
objects: ~7 ms of Python per container, the largest part of the engine's work in an `up` of
many replicas, and it held the network manager's lock meanwhile. Packed with `struct` on a
socket of the caller's own, they cost a fraction of that and need no lock, so connects run side
by side (the kernel serialises them under RTNL only for the moment each takes).

The network manager's other requests (a bridge made, addressed and set up; links looked up and
deleted; the host's routes and addresses listed) are here too, so the engine never imports
pyroute2 for them: its ~190 modules were ~9 MiB of the engine's RSS (issue 17). pyroute2 stays
for conntrack (published UDP ports, a rollout's drain), imported by those calls.
Kernel ABI facts: rtnetlink(7), netlink(7), linux/if_link.h, linux/veth.h, linux/if_addr.h.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x300, 0x200, 0x400
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 20, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_BR_FORWARD_DELAY, IFLA_BR_STP_STATE = 1, 5
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_GATEWAY, RTA_OIF = 1, 5, 4
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


def _mac(address: str) -> bytes:
    return bytes(int(part, 16) for part in address.split(":"))


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    """A message's attributes from ``offset`` on (type without its flag bits → payload)."""
    found: dict[int, bytes] = {}
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        found[kind & 0x3FFF] = data[offset + 4:offset + length]
        offset += length + (-length % 4)
    return found


def _text(payload: bytes) -> str:
    return payload.split(b"\0", 1)[0].decode(errors="replace")


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
        mac = _attrs(reply, _IFINFO.size).get(IFLA_ADDRESS, b"")
        return Link(index, ":".join(f"{b:02x}" for b in mac))

    def index(self, ifname: str) -> int | None:
        """The interface's index, or None when there is none of that name."""
        try:
            return self.link(ifname).index
        except NetlinkFailure as exc:
            if exc.errno == errno.ENODEV:
                return None
            raise

    def add_bridge(self, ifname: str, mtu: int | None) -> None:
        """A bridge without STP and without forwarding delay (`ip link add IF type bridge stp_state 0
        forward_delay 0`), so a port forwards as soon as it is up."""
        data = _attr(IFLA_BR_FORWARD_DELAY, _u32(0)) + _attr(IFLA_BR_STP_STATE, _u32(0))
        info = _attr(IFLA_INFO_KIND, _name("bridge")) + _attr(IFLA_INFO_DATA | NLA_F_NESTED, data)
        body = (_IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(ifname))
                + (_attr(IFLA_MTU, _u32(mtu)) if mtu else b"") + _attr(IFLA_LINKINFO | NLA_F_NESTED, info))
        self._transact([(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)])

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        """`ip addr add ADDRESS/PREFIXLEN dev INDEX` (EEXIST when it is there already)."""
        packed = _ipv4(address)
        body = (_IFADDR.pack(socket.AF_INET, prefixlen, 0, 0, index) + _attr(IFA_LOCAL, packed)
                + _attr(IFA_ADDRESS, packed))
        self._transact([(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)])

    def set_up(self, index: int, mac: str | None = None, alias: str | None = None, mtu: int | None = None) -> None:
        """`ip link set INDEX up [address MAC] [alias ALIAS] [mtu MTU]`."""
        body = (_IFINFO.pack(0, 0, index, IFF_UP, IFF_UP) + (_attr(IFLA_ADDRESS, _mac(mac)) if mac else b"")
                + (_attr(IFLA_IFALIAS, _name(alias)) if alias else b"") + (_attr(IFLA_MTU, _u32(mtu)) if mtu else b""))
        self._transact([(RTM_NEWLINK, 0, body)])

    def delete(self, index: int) -> None:
        """`ip link del INDEX` (ENODEV when it is gone already)."""
        self._transact([(RTM_DELLINK, 0, _IFINFO.pack(0, 0, index, 0, 0))])

    def links(self) -> list[tuple[str, str]]:
        """Every interface of this netns as (name, alias); alias "" when it has none."""
        found = []
        for payload in self._dump(RTM_GETLINK, _IFINFO.pack(0, 0, 0, 0, 0)):
            attrs = _attrs(payload, _IFINFO.size)
            found.append((_text(attrs.get(IFLA_IFNAME, b"")), _text(attrs.get(IFLA_IFALIAS, b""))))
        return found

    def ipv4_networks(self) -> list[ipaddress.IPv4Network]:
        """The destination of every IPv4 route (all tables) and the network of every IPv4 address:
        what a new subnet must not overlap."""
        found = []
        for payload in self._dump(RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)):
            dst_len = payload[1]
            dst = _attrs(payload, _RTMSG.size).get(RTA_DST)
            if dst is not None and len(dst) == 4:
                found.append(ipaddress.IPv4Network((dst, dst_len), strict=False))
        for payload in self._dump(RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
            prefixlen = payload[1]
            address = _attrs(payload, _IFADDR.size).get(IFA_ADDRESS)
            if address is not None and len(address) == 4:
                found.append(ipaddress.IPv4Network((address, prefixlen), strict=False))
        return found

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
    def _dump(self, kind: int, body: bytes) -> list[bytes]:
        """Every message of a dump request's answer (their payloads), up to NLMSG_DONE."""
        self._seq += 1
        seq = self._seq
        self.sock.send(_HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
        found: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, msg_type, _flags, msg_seq, _pid = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    break
                payload = data[offset + _HEADER.size:offset + length]
                offset += length + (-length % 4)
                if msg_seq != seq:
                    continue
                if msg_type == NLMSG_DONE:
                    return found
                if msg_type == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", payload, 0)
                    if code:
                        raise NetlinkFailure(-code, os.strerror(-code))
                    return found
                found.append(payload)

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
