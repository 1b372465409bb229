"""Starts a process from an image's root filesystem as a kubelet would, without a container runtime.

Run as root: `python -m support_operator.testing.container SPEC.json`. In a private mount namespace it
bind-mounts the root filesystem (read-only when the pod asks for readOnlyRootFilesystem), mounts /proc, the
host's /dev and /etc/resolv.conf and the pod's volumes (its /etc/hosts among them), chroots, drops every
capability from the bounding set, takes the pod's UID with group 0 and no supplementary groups, sets
no_new_privs (allowPrivilegeEscalation: false) and execs the command. The network is the host's: the
process reaches the loopback kube-apiserver. Not applied: seccomp, cgroups, PID/UTS namespaces. The mounts
vanish with the process (its namespace).

SPEC holds: rootfs, argv, env, workdir, uid, gid, read_only_root and mounts, each {target, type: "bind" or
"tmpfs", source (bind), read_only, options (tmpfs)}.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path, PurePosixPath
from typing import Any

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(
    source: str | None, target: Path, fstype: str | None, flags: int, options: str | None = None
) -> None:
    def encode(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    result = _libc.mount(encode(source), str(target).encode(), encode(fstype), flags, encode(options))
    _check(result, f"mount {source} on {target}")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option}, {value})")


def within(root: Path, path: str) -> Path:
    """`path` as seen inside `root`: symlinks on the way resolve inside it (Debian's /var/run -> /run)."""
    current = root
    for part in PurePosixPath(path).parts[1:]:
        candidate = current / part
        for _ in range(40):
            if not candidate.is_symlink():
                break
            link = str(candidate.readlink())
            candidate = root / link.lstrip("/") if link.startswith("/") else candidate.parent / link
        current = Path(os.path.normpath(candidate))
        if root not in (current, *current.parents):
            current = root
    return current


def bind(source: str, target: Path, read_only: bool) -> None:
    if Path(source).is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(exist_ok=True)
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def prepare_root(spec: dict[str, Any]) -> Path:
    root = Path(spec["rootfs"])
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount(None, Path("/"), None, MS_REC | MS_PRIVATE)
    mount(str(root), root, None, MS_BIND | MS_REC)
    proc = within(root, "/proc")
    proc.mkdir(exist_ok=True)
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    bind("/dev", within(root, "/dev"), read_only=False)
    bind("/etc/resolv.conf", within(root, "/etc/resolv.conf"), read_only=True)
    for volume in spec["mounts"]:
        target = within(root, volume["target"])
        if volume["type"] == "tmpfs":
            target.mkdir(parents=True, exist_ok=True)
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, volume.get("options"))
        else:
            bind(volume["source"], target, volume.get("read_only", False))
    if spec["read_only_root"]:
        mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    return root


def drop_privileges(uid: int, gid: int) -> None:
    last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for capability in range(last_cap + 1):
        prctl(PR_CAPBSET_DROP, capability)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # a non-zero UID clears the permitted and effective capabilities
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    root = prepare_root(spec)
    os.chroot(root)
    os.chdir(spec["workdir"] or "/")
    drop_privileges(spec["uid"], spec["gid"])
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])


if __name__ == "__main__":
    main(sys.argv[1])
