"""The container side of a start: runs in processes forked from the shim, never in the engine.

Stage 1 (forked from the shim) wires stdio, unshares the namespaces that do not depend on the
container (UTS, IPC, network, PID), forks stage 2 into them, reports its pid and exits. Stage 2 is
PID 1 of the new PID namespace; it waits for a spec, makes its mount namespace, builds the root
filesystem, drops privileges, reports "ready", waits for "start" and execs the command.

The shim keeps one stage 2 forked ahead of time (a warm process), so a create pays neither for
the forks nor for the namespaces; the spec goes down a pipe. Making the mount namespace only then
means the container sees the host's mounts as they are at create time.

The shim places stage 2 in the container's cgroups while stage 2 builds the root filesystem: the
first write to a `cgroup.procs` waits for an RCU grace period (the kernel's cgroup threadgroup
lock), several milliseconds on a loaded host, so doing it beside the mount work instead of before
it takes it off the start's critical path (runc's parent attaches the child the same way). Stage 2
waits for the ``A`` byte before it unshares its cgroup namespace (whose root is the cgroup it is in
then) and drops privileges; if the shim cannot attach it, stage 2 sees end-of-file and gives up.

Both stages talk to the shim over one channel whose end here is close-on-exec; its messages are
defined in sync.py. End-of-file after START means execve succeeded. Nothing here may raise out of
the child: every path ends in ``os._exit``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import stat
import struct
import termios
import traceback
from typing import NoReturn

from runtime.container import sync
from runtime.container.file_mounts import mount_files
from runtime.container.spec import ContainerSpec, DeviceNode, capability_mask
from runtime.linux import syscalls as sc
from runtime.volume.copy_up import fill_volume, open_image_dir

NAMESPACE_FLAGS = (
    sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWNET | sc.CLONE_NEWPID | sc.CLONE_NEWCGROUP
)
# Stage 1 unshares these ahead of time; stage 2 adds the mount namespace when it gets its spec
# and the cgroup namespace once it is in its cgroups.
STAGE1_NAMESPACE_FLAGS = NAMESPACE_FLAGS & ~sc.CLONE_NEWCGROUP & ~sc.CLONE_NEWNS
INIT_TARGET = "/dev/.pyorch-init"
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_TIOCSPTLCK, _TIOCGPTN, _TIOCGPTPEER = 0x40045431, 0x80045430, 0x5441  # unlock, number, peer (>= 4.13)
_IFREQ_FLAGS = "16sH22x"  # struct ifreq: the name, then ifr_flags in a 24-byte union

_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("tty", 5, 0), ("random", 1, 8), ("urandom", 1, 9))
_DEV_LINKS = (
    ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"),
)


class SetupError(Exception):
    """A setup step failed; the message is what the user sees."""


class ConfigError(SetupError):
    """A setup step the container's own configuration makes fail (an unknown user, a command that
    is not there): the shim is told so (`sync.Kind.REFUSED`), and the engine does not retry it."""


# execve failures that the image or the command line cause (Docker's exit code 126/127 cases)
_COMMAND_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR, errno.ELOOP, errno.EISDIR,
                             errno.ENAMETOOLONG, errno.E2BIG})


def run_stage1(channel_fd: int, out_w: int, err_w: int) -> None:
    """Entry point right after the shim's fork, before any container is chosen. Never returns.

    Makes the namespaces whose creation is spec-independent (all but mount and cgroup) and forks
    the future PID 1 into them, reports its pid and exits. The shim keeps one such process warm.
    """
    ch = sync.Channel.from_fd(channel_fd)
    try:
        os.setsid()
        _default_signals()
        _redirect_stdio(out_w, err_w)
        _close_all_but((0, 1, 2, channel_fd))
        sc.unshare(STAGE1_NAMESPACE_FLAGS)
        pid = os.fork()
        if pid == 0:
            run_waiting_stage2(ch)
        sync.report_pid(ch, pid)
        os._exit(0)
    except BaseException as exc:
        _fail(ch, f"stage 1: {exc}")


def run_waiting_stage2(ch: sync.Channel) -> None:
    """PID 1 of fresh namespaces, waiting for the spec of the container it will become.

    The mount namespace is made only now, so the container sees the host's mounts as they are
    when it is created, not as they were when this process was forked. End-of-file instead of a
    spec means the shim let this process go. Never returns.
    """
    try:
        got = sync.wait_spec(ch)
        if got is None:
            os._exit(0)
        raw, stdin_fd = got
        if stdin_fd is not None:  # stdin_open without a terminal: a pipe the shim writes
            os.dup2(stdin_fd, 0)
            os.close(stdin_fd)
        spec = ContainerSpec.from_dict(json.loads(raw))
        sc.unshare(sc.CLONE_NEWNS)
        if spec.oom_score_adj is not None:
            _write("/proc/self/oom_score_adj", str(spec.oom_score_adj))
    except BaseException as exc:
        _fail(ch, f"stage 2: {exc}")
    run_stage2(spec, ch)


def run_stage2(spec: ContainerSpec, ch: sync.Channel) -> None:
    """PID 1 of the container until execve. Never returns."""
    try:
        _join_network(spec.netns_path)
        rootfs = os.path.join(spec.bundle_dir, "rootfs")
        seccomp_program = _read_program(spec.seccomp_path)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        _mount_rootfs(spec, rootfs)
        _mount_kernel_filesystems(spec, rootfs)
        # The device allowlist must be complete before the first mknod: a warm PID 1 sits in its
        # spare cgroups while the client writes it, and cgroup v1 has no atomic switch (deny all,
        # then allow each rule: a mknod in between is refused, EPERM).
        if not sync.wait_attached(ch):
            raise SetupError("the shim could not place the container in its cgroups")
        _make_devices(rootfs)
        for node in spec.device_nodes:
            _make_device_node(rootfs, node)
        for bind in spec.binds:
            if bind.populate:
                fill_volume(open_image_dir(_safe_path(rootfs, bind.target)), bind.source)
            _bind(bind.source, rootfs, bind.target, bind.read_only)
        for mount in spec.tmpfs:
            image_dir = open_image_dir(_safe_path(rootfs, mount.target)) if mount.populate else -1
            _tmpfs(rootfs, mount.target, mount.size, mount.mode, mount.options)
            fill_volume(image_dir, _safe_path(rootfs, mount.target))
        mount_files(spec.bundle_dir, spec.files, lambda source, target: _bind(source, rootfs, target, True))
        if spec.init_path:
            _bind(spec.init_path, rootfs, INIT_TARGET, True)
        _pivot(rootfs)
        _apply_sysctls(spec.sysctls)
        for path in spec.readonly_paths:
            _readonly(path)
        for path in spec.masked_paths:
            _mask(path)
        if spec.read_only_rootfs:
            sc.mount(None, "/", None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_REC)
        if spec.hostname:
            sc.sethostname(spec.hostname)
        if spec.domainname:
            sc.setdomainname(spec.domainname)
        uid, gid, groups = resolve_user(spec.user)
        groups = _with_extra_groups(groups, spec.group_add)
        if spec.tty:
            _make_console(ch, uid, spec.console_size)
        _apply_rlimits(spec.rlimits)
        _make_workdir(spec.cwd or "/")
        sc.unshare(sc.CLONE_NEWCGROUP)  # in the container's cgroups since the wait above
        _give_stdio_to(uid)
        _drop_privileges(spec, uid, gid, groups, seccomp_program)
        env = _environment(spec.env, uid)
        _enter_workdir(spec.cwd or "/")
        args = list(spec.args)
        if not args:
            raise ConfigError("no command: the image has no Cmd/Entrypoint and none was given")
        if spec.init_path:
            args = [INIT_TARGET, "--", *args]
        sync.report_ready(ch)
        if not sync.wait_start(ch):
            os._exit(0)
        os.umask(0o022)
        try:
            os.execvpe(args[0], args, env)
        except OSError as exc:
            error = ConfigError if exc.errno in _COMMAND_ERRNOS else SetupError
            raise error(f"exec {args[0]!r}: {exc.strerror}") from exc
    except BaseException as exc:
        _fail(ch, _described(exc), isinstance(exc, ConfigError))


# --- helpers --------------------------------------------------------------------------------------

def _described(exc: BaseException) -> str:
    """What a failed setup says. An OSError of Python's own os functions names no step (a bare
    `[Errno 1] Operation not permitted`), so the step of this file it failed in is added."""
    if not isinstance(exc, OSError) or exc.filename is not None:
        return str(exc)
    ours = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == __file__]
    return f"{exc} (in {ours[-1].name})" if ours else str(exc)


def _fail(ch: sync.Channel, message: str, refused: bool = False) -> NoReturn:
    try:
        sync.report_error(ch, message, refused)
    finally:
        os._exit(127)


def _join_network(path: str) -> None:
    """network_mode host or container:<id>: leave the new network namespace for that one, first,
    so that the sysfs mounted below shows the joined namespace's interfaces."""
    if not path:
        _loopback_up()
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(fd, sc.CLONE_NEWNET)
    finally:
        os.close(fd)


def _loopback_up() -> None:
    """A namespace of its own has `lo`, up (as Docker): two ioctls here instead of netlink round
    trips by the engine."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        request = struct.pack(_IFREQ_FLAGS, b"lo", 0)
        flags = struct.unpack(_IFREQ_FLAGS, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ_FLAGS, b"lo", flags | _IFF_UP))


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _default_signals() -> None:
    """A fork of the shim has Python's dispositions: SIGPIPE and SIGXFSZ ignored (execve keeps
    that, so `yes | head` would see EPIPE instead of dying) and the shim's handlers, which write to
    a wakeup fd closed here (a SIGCHLD then printed a traceback into an exec's stderr). A container
    starts with the defaults, as under runc."""
    signal.set_wakeup_fd(-1)
    for number in signal.valid_signals():
        if number not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(number, signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # the C library's own real-time signals


def _redirect_stdio(out_w: int, err_w: int, stdin_r: int | None = None) -> None:
    stdin = os.open("/dev/null", os.O_RDONLY) if stdin_r is None else stdin_r
    os.dup2(stdin, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    for fd in {stdin, out_w, err_w} - {0, 1, 2}:
        os.close(fd)


def _make_console(ch: sync.Channel, uid: int, size: list[int] | None) -> None:
    """A pty from the container's own devpts (so `tty` names /dev/pts/N inside), as runc makes one:
    its slave becomes stdin, stdout, stderr and the controlling terminal of a new session, owned
    by the user the command runs as; its master goes to the shim, which holds it from then on."""
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        if size:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        try:
            slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        except OSError:  # before Linux 4.13: by its name
            number = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, b"\0" * 4))[0]
            slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY)
        sync.hand_terminal(ch, master)
    finally:
        os.close(master)
    os.fchown(slave, uid, -1)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def _close_all_but(keep: tuple[int, ...]) -> None:
    low = 0
    for fd in sorted(keep):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _safe_path(rootfs: str, target: str) -> str:
    """Join ``target`` under ``rootfs`` refusing symlinks on the way (an image must not redirect mounts)."""
    path = rootfs
    for part in [p for p in target.split("/") if p and p != "."]:
        if part == "..":
            raise ConfigError(f"mount target {target!r} escapes the root filesystem")
        path = os.path.join(path, part)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise ConfigError(f"mount target {target!r}: {path[len(rootfs):]} is a symlink")
        except FileNotFoundError:
            pass
    return path


def _ensure_dir(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _ensure_file(path: str) -> None:
    _ensure_dir(os.path.dirname(path))
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _mount_rootfs(spec: ContainerSpec, rootfs: str) -> None:
    upper = os.path.join(spec.bundle_dir, "upper")
    work = os.path.join(spec.bundle_dir, "work")
    lower = ":".join(spec.lower_dirs)
    sc.mount("overlay", rootfs, "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work}")


def _mount_kernel_filesystems(spec: ContainerSpec, rootfs: str) -> None:
    nse = sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_NODEV
    table: list[tuple[str, str, str, int, str | None]] = [
        ("proc", "/proc", "proc", nse, None),
        ("tmpfs", "/dev", "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k"),
        ("devpts", "/dev/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"),
        ("shm", "/dev/shm", "tmpfs", nse, f"mode=1777,size={spec.shm_size}"),
        ("mqueue", "/dev/mqueue", "mqueue", nse, None),
        ("sysfs", "/sys", "sysfs", nse | sc.MS_RDONLY, None),
    ]
    for source, target, fstype, flags, data in table:
        path = _safe_path(rootfs, target)
        _ensure_dir(path)
        sc.mount(source, path, fstype, flags, data)


def _make_devices(rootfs: str) -> None:
    dev = os.path.join(rootfs, "dev")
    old = os.umask(0)
    try:
        for name, major, minor in _DEVICES:
            os.mknod(os.path.join(dev, name), 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    finally:
        os.umask(old)
    for name, target in _DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))


def _make_device_node(rootfs: str, node: DeviceNode) -> None:
    """`devices:` — a node with the host device's numbers, mode and owner (replacing a default one)."""
    path = _safe_path(rootfs, node.path)
    _ensure_dir(os.path.dirname(path))
    if os.path.lexists(path):
        os.unlink(path)
    kind = stat.S_IFCHR if node.kind == "c" else stat.S_IFBLK
    old = os.umask(0)
    try:
        os.mknod(path, kind | node.mode, os.makedev(node.major, node.minor))
    finally:
        os.umask(old)
    os.chown(path, node.uid, node.gid)


def _bind(source: str, rootfs: str, target: str, read_only: bool) -> None:
    path = _safe_path(rootfs, target)
    if not os.path.lexists(source):  # removed since the create checked it (a restart, say)
        raise ConfigError(f"bind source path does not exist: {source}")
    if os.path.isdir(source):
        _ensure_dir(path)
    else:
        _ensure_file(path)
    sc.mount(source, path, None, sc.MS_BIND | sc.MS_REC)
    if read_only:
        sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)


def _tmpfs(rootfs: str, target: str, size: int | None, mode: int | None, extra: str = "") -> None:
    path = _safe_path(rootfs, target)
    _ensure_dir(path)
    options = ",".join(o for o in (f"size={size}" if size else "", f"mode={mode:o}" if mode is not None else "",
                                   extra) if o)
    sc.mount("tmpfs", path, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, options or None)


def _pivot(rootfs: str) -> None:
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY)
    try:
        os.fchdir(new_root)
        sc.pivot_root(".", ".")
        os.fchdir(old_root)
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        sc.umount2(".", sc.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def _readonly(path: str) -> None:
    if not os.path.exists(path):
        return
    sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY | sc.MS_REC)


def _mask(path: str) -> None:
    if not os.path.exists(path):
        return
    if os.path.isdir(path):
        sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
    else:
        sc.mount("/dev/null", path, None, sc.MS_BIND)


def resolve_user(user: str) -> tuple[int, int, list[int]]:
    """Turn ``user[:group]`` (names or numbers) into ids using the container's /etc files."""
    if not user:
        return 0, 0, []
    name, _, group = user.partition(":")
    passwd = _read_db("/etc/passwd")
    uid: int | None = None
    gid: int | None = None
    username = ""
    if name.isdigit():
        uid = int(name)
        for entry in passwd:
            if len(entry) > 3 and entry[2] == name:
                username, gid = entry[0], int(entry[3])
                break
    else:
        for entry in passwd:
            if len(entry) > 3 and entry[0] == name:
                username, uid, gid = name, int(entry[2]), int(entry[3])
                break
        if uid is None:
            raise ConfigError(f"unable to find user {name}: no matching entries in passwd file")
    groups_db = _read_db("/etc/group")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = [int(g[2]) for g in groups_db if len(g) > 2 and g[0] == group]
            if not match:
                raise ConfigError(f"unable to find group {group}: no matching entries in group file")
            gid = match[0]
    supplementary = [
        int(g[2]) for g in groups_db if len(g) > 3 and username and username in g[3].split(",")
    ]
    return uid, gid if gid is not None else 0, supplementary


def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def _drop_privileges(spec: ContainerSpec, uid: int, gid: int, groups: list[int], seccomp_program: bytes) -> None:
    """Capabilities, ids, no_new_privs and the seccomp filter, in runc's order.

    Without no_new_privs the kernel only accepts a filter from a process holding CAP_SYS_ADMIN,
    so it goes in first (the default profile allows every call made after it); with
    no_new_privs it goes in last, right before exec, as late as possible.
    """
    if seccomp_program and not spec.no_new_privileges:
        sc.seccomp_set_filter(seccomp_program)
    keep = capability_mask(spec.capabilities)
    for cap in range(sc.last_cap() + 1):
        if not keep & (1 << cap):
            sc.prctl(sc.PR_CAPBSET_DROP, cap)
    sc.prctl(sc.PR_SET_KEEPCAPS, 1)
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    sc.prctl(sc.PR_SET_KEEPCAPS, 0)
    # Like Docker: root gets the configured set; another user keeps only the bounding set.
    granted = keep if uid == 0 else 0
    sc.capset(granted, granted, 0)
    if spec.no_new_privileges:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        if seccomp_program:
            sc.seccomp_set_filter(seccomp_program)


def _give_stdio_to(uid: int) -> None:
    """The stdio pipes are the shim's (root's): opening /dev/stdout reopens the pipe through
    /proc/self/fd/1 and checks its owner, so a non-root nginx could not log. Like runc, hand them
    to the process's user (the group stays), leaving /dev/null alone."""
    null = os.stat("/dev/null").st_rdev
    for fd in (0, 1, 2):
        st = os.fstat(fd)
        if st.st_uid != uid and not (stat.S_ISCHR(st.st_mode) and st.st_rdev == null):
            os.fchown(fd, uid, -1)


def _read_program(path: str) -> bytes:
    if not path:
        return b""
    with open(path, "rb") as f:
        return f.read()


def _apply_sysctls(sysctls: dict[str, str]) -> None:
    """Write namespaced sysctls through the container's own /proc (before it turns read-only)."""
    for key, value in sysctls.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            _write(path, value)
        except OSError as exc:
            raise ConfigError(f"sysctl {key}={value}: {exc.strerror}") from exc


def _apply_rlimits(rlimits: list[tuple[str, int, int]]) -> None:
    for name, soft, hard in rlimits:
        try:
            sc.setrlimit(name, soft, hard)
        except (OSError, KeyError) as exc:
            raise ConfigError(f"ulimit {name}={soft}:{hard}: {exc}") from exc


def _with_extra_groups(groups: list[int], extra: list[str]) -> list[int]:
    """`group_add`: numbers as given, names from the container's /etc/group."""
    if not extra:
        return groups
    result = list(groups)
    db = _read_db("/etc/group")
    for group in extra:
        if group.isdigit():
            gid = int(group)
        else:
            match = [int(g[2]) for g in db if len(g) > 2 and g[0] == group]
            if not match:
                raise ConfigError(f"group_add: unable to find group {group}: no matching entries in group file")
            gid = match[0]
        if gid not in result:
            result.append(gid)
    return result


def _make_workdir(cwd: str) -> None:
    """Like runc: a missing working directory is created, as root, before ids are dropped.

    This runs after pivot_root, so symlinks in the path resolve inside the container's root and
    cannot lead out of it; a symlink to a missing directory gets its target created, as runc does.
    """
    try:
        os.makedirs(os.path.realpath(cwd), 0o755, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"working directory {cwd!r}: {exc.strerror}") from exc


def _enter_workdir(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise ConfigError(f"working directory {cwd!r}: {exc.strerror}") from exc


def _environment(env: list[str], uid: int) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        result[key] = value
    result.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    result.setdefault("HOME", "/root" if uid == 0 else "/")
    return result


_EXEC_NAMESPACES = ("cgroup", "ipc", "uts", "net", "pid", "mnt")


def run_exec(
    spec: ContainerSpec, target_pid: int, request: dict[str, object], channel_fd: int, out_w: int, err_w: int,
    stdin_r: int | None = None,
) -> None:
    """Stage 1 of `exec`: join the container's cgroup and namespaces, fork into its PID namespace.

    Never returns. The grandchild gets the container's security profile (capabilities, user,
    no_new_privs) before it execs; its exit status reaches the shim, its subreaper.
    """
    ch = sync.Channel.from_fd(channel_fd)
    try:
        os.setsid()
        _default_signals()
        _redirect_stdio(out_w, err_w, stdin_r)
        _close_all_but((0, 1, 2, channel_fd))
        seccomp_program = _read_program(spec.seccomp_path)  # a host path: read before joining the mount ns
        ns_fds = [os.open(f"/proc/{target_pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in _EXEC_NAMESPACES]
        for procs in spec.cgroup_procs_files:
            _write(procs, str(os.getpid()))
        for fd in ns_fds:
            sc.setns(fd, 0)
            os.close(fd)
        pid = os.fork()
        if pid == 0:
            _exec_stage2(spec, request, ch, seccomp_program)
        sync.report_pid(ch, pid)
        os._exit(0)
    except BaseException as exc:
        _fail(ch, f"exec: {exc}")


def _exec_stage2(spec: ContainerSpec, request: dict[str, object], ch: sync.Channel, seccomp_program: bytes) -> None:
    try:
        os.chdir("/")
        user = str(request.get("user") or spec.user)
        uid, gid, groups = resolve_user(user)
        groups = _with_extra_groups(groups, spec.group_add)
        terminal = request.get("session") or {}
        if isinstance(terminal, dict) and terminal.get("tty"):
            size = terminal.get("size")
            _make_console(ch, uid, [int(n) for n in size] if isinstance(size, list) else None)
        else:
            os.setpgid(0, 0)  # a group of its own, which a client's hang-up reaches
        _give_stdio_to(uid)
        _drop_privileges(spec, uid, gid, groups, seccomp_program)
        extra = [str(e) for e in request.get("env") or []]  # type: ignore[attr-defined]
        env = _environment([*spec.env, *extra], uid)
        cwd = str(request.get("workdir") or spec.cwd or "/")
        try:
            os.chdir(cwd)
        except OSError as exc:
            raise SetupError(f"working directory {cwd!r}: {exc.strerror}") from exc
        args = [str(a) for a in request.get("args") or []]  # type: ignore[attr-defined]
        if not args:
            raise SetupError("exec needs a command")
        os.umask(0o022)
        try:
            os.execvpe(args[0], args, env)
        except OSError as exc:
            error = ConfigError if exc.errno in _COMMAND_ERRNOS else SetupError
            raise error(f"exec {args[0]!r}: {exc.strerror}") from exc
    except BaseException as exc:
        _fail(ch, _described(exc), isinstance(exc, ConfigError))
