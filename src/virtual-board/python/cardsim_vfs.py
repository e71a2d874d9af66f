# `vfs` with VfsFat: the interpreter's frozen module lacks it, so this module stands in for `vfs`.
# mount/umount are the interpreter's, and also tell the host where a VfsFat stand-in sits (imlib
# resolves image paths through the same mount table).
import vfs as _builtin
import _cardsim as _h
from cardsim_board import VfsFat, _chk

VfsPosix = _builtin.VfsPosix


def mount(fs, point, readonly=False, mkfs=False):
    _builtin.mount(fs, point, readonly=readonly, mkfs=mkfs)
    if isinstance(fs, VfsFat):
        _chk(_h.vol_point(fs._v, point))


def umount(what):
    _builtin.umount(what)
