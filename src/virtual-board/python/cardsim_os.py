# `os` / `uos` as the board has it: the interpreter's own VFS functions (they reach the VfsFat
# stand-ins), plus urandom (seeded), sync (ioctl(3) to every mounted card, nothing else), uname.
from os import *
import os as _builtin
import _cardsim as _h
from cardsim_board import _chk, _take


def urandom(n):
    return bytes(_take(_chk(_h.urandom(n))))


def sync():
    _chk(_h.os_sync())


class _Uname:
    sysname = "mimxrt"
    nodename = "mimxrt"
    release = "1.27.0"
    version = "cardsim virtual board"
    machine = "OpenMV RT1062 (virtual) with MIMXRT1062DVJ6A"

    def __repr__(self):
        return "(sysname='mimxrt', nodename='mimxrt', release='1.27.0', version='cardsim virtual board', machine='%s')" % self.machine


def uname():
    return _Uname()


def mount(fs, point, readonly=False):
    import vfs

    vfs.mount(fs, point, readonly=readonly)


def umount(what):
    import vfs

    vfs.umount(what)
