# The virtual board's Python side (cardsim, src/virtual-board): the VfsFat stand-in and its file
# objects, and the error bridge to the JS host module `_cardsim`.
#
# Rules of the bridge: JS functions never raise. They return -1 (or a value) and keep the exception,
# which `_exc()` fetches as JSON [type, *args] and the shim raises, so Python's try/finally and the
# interpreter's own stack stay intact. Buffers cross as (uctypes.addressof(buf), len): JS copies
# straight into or out of the interpreter's memory. Results of unknown size wait in JS until
# `_take(n)` copies them into a fresh bytearray. JS objects (volumes, files, images) come back as
# opaque handles that MicroPython's garbage collector releases.
import io
import json
import uctypes
import _cardsim as _h

_ERR = -1
_TYPES = {
    "OSError": OSError,
    "ValueError": ValueError,
    "TypeError": TypeError,
    "MemoryError": MemoryError,
    "UnicodeError": UnicodeError,
    "IndexError": IndexError,
    "KeyError": KeyError,
    "OverflowError": OverflowError,
    "NotImplementedError": NotImplementedError,
}


def _exc():
    # The exception the last JS call kept (created here, raised by the caller: one traceback frame).
    t, *args = json.loads(_h.exc())
    return _TYPES.get(t, RuntimeError)(*args)


def _chk(r):
    if r == _ERR:
        raise _exc()
    return r


def _take(n):
    b = bytearray(n)
    if n:
        _h.take(uctypes.addressof(b))
    return b


def _addr(buf):
    return uctypes.addressof(buf) if len(buf) else 0


def _abs(path):
    # imlib resolves paths through the mount table from the current directory, as open() does.
    if path.startswith("/"):
        return path
    import os

    cwd = os.getcwd()
    return (cwd if cwd.endswith("/") else cwd + "/") + path


class _Native:
    # A block device the JS host implements itself (the SD card, the internal flash): a VfsFat on it
    # runs FatFs straight against the simulated device, as the firmware's own mounts do.
    _dev = 0

    def readblocks(self, block, buf):
        return _h.dev_rb(self._dev, block, _addr(buf), len(buf))

    def writeblocks(self, block, buf):
        return _h.dev_wb(self._dev, block, _addr(buf), len(buf))

    def ioctl(self, op, arg):
        return _h.dev_io(self._dev, op, arg)


class _Bridge:
    # Calls from the JS FAT engine into a Python block device. Never raises: an exception of the
    # device is kept and raised again once the FAT call has returned (FatFs sees a disk error).
    def __init__(self, dev):
        self.dev = dev
        self.buf = bytearray(512)
        self.exc = None

    def grow(self, n):
        if len(self.buf) < n:
            self.buf = bytearray(n)
        return uctypes.addressof(self.buf)

    def rb(self, block, n):
        try:
            r = self.dev.readblocks(block, memoryview(self.buf)[:n])
            return 0 if r is None else r
        except BaseException as e:
            self.exc = e
            return -5

    def wb(self, block, n):
        try:
            r = self.dev.writeblocks(block, memoryview(self.buf)[:n])
            return 0 if r is None else r
        except BaseException as e:
            self.exc = e
            return -5

    def io(self, op, arg):
        try:
            r = self.dev.ioctl(op, arg)
            return 0 if r is None else r
        except BaseException as e:
            self.exc = e
            return -5


def _volume(bdev):
    if isinstance(bdev, _Native):
        return None, _h.vol_native(bdev._dev)
    br = _Bridge(bdev)
    return br, _h.vol_py(br)


class VfsFat:
    # `vfs.VfsFat(bdev)` on the project's FAT engine; `bdev` is any block device object.
    def __init__(self, bdev):
        self._br, v = _volume(bdev)
        self._v = self._chk(v)

    def _chk(self, r):
        br = self._br
        if br is not None and br.exc is not None:
            e = br.exc
            br.exc = None
            raise e
        if r == _ERR:
            raise _exc()
        return r

    @staticmethod
    def mkfs(bdev):
        br, v = _volume(bdev)
        r = _h.vol_mkfs(v)
        if br is not None and br.exc is not None:
            raise br.exc
        if r == _ERR:
            raise _exc()

    def mount(self, readonly, mkfs):
        self._chk(_h.vol_mount(self._v, bool(readonly), bool(mkfs)))

    def umount(self):
        self._chk(_h.vol_umount(self._v))

    def ilistdir(self, path=""):
        return iter([tuple(e) for e in json.loads(self._chk(_h.vol_call(self._v, "ilistdir", path, "")))])

    def stat(self, path):
        return tuple(json.loads(self._chk(_h.vol_call(self._v, "stat", path, ""))))

    def statvfs(self, path):
        return tuple(json.loads(self._chk(_h.vol_call(self._v, "statvfs", path, ""))))

    def mkdir(self, path):
        self._chk(_h.vol_call(self._v, "mkdir", path, ""))

    def rmdir(self, path):
        self._chk(_h.vol_call(self._v, "rmdir", path, ""))

    def remove(self, path):
        self._chk(_h.vol_call(self._v, "remove", path, ""))

    def rename(self, old, new):
        self._chk(_h.vol_call(self._v, "rename", old, new))

    def chdir(self, path):
        self._chk(_h.vol_call(self._v, "chdir", path, ""))

    def getcwd(self):
        return json.loads(self._chk(_h.vol_call(self._v, "getcwd", "", "")))

    def open(self, path, mode="r"):
        f = self._chk(_h.f_open(self._v, path, mode))
        return (FileIO if "b" in mode else TextIOWrapper)(f, self)


class _File(io.IOBase):
    def __init__(self, f, vol):
        self._f = f
        self._vol = vol

    def _c(self, r):
        return self._vol._chk(r)

    def readinto(self, buf, nbytes=-1):
        n = len(buf) if nbytes < 0 else min(nbytes, len(buf))
        return self._c(_h.f_readinto(self._f, _addr(buf), n))

    def write(self, data, a=None, b=None):
        if isinstance(data, str):
            data = data.encode()
        mv = memoryview(data)
        if b is not None:
            off = min(a, len(mv))
            mv = mv[off : off + max(0, b)]
        elif a is not None:
            mv = mv[: max(0, a)]
        return self._c(_h.f_write(self._f, _addr(mv), len(mv)))

    def seek(self, offset, whence=0):
        return self._c(_h.f_call(self._f, "seek", offset, whence))

    def tell(self):
        return self._c(_h.f_call(self._f, "tell", 0, 0))

    def flush(self):
        self._c(_h.f_call(self._f, "flush", 0, 0))

    def close(self):
        self._c(_h.f_call(self._f, "close", 0, 0))

    def ioctl(self, req, arg):
        # The stream protocol from C (import, print(file=...)): MP_STREAM_FLUSH 1, MP_STREAM_CLOSE 4.
        if req == 1:
            self.flush()
            return 0
        if req == 4:
            self.close()
            return 0
        return -22

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def readlines(self):
        return [line for line in self]


class FileIO(_File):
    def read(self, size=-1):
        return bytes(_take(self._c(_h.f_read(self._f, -1 if size is None else size, False))))

    def readline(self, size=-1):
        return bytes(_take(self._c(_h.f_read(self._f, size, True))))


class TextIOWrapper(_File):
    def read(self, size=-1):
        return self._c(_h.f_read(self._f, -1 if size is None else size, False))

    def readline(self, size=-1):
        return self._c(_h.f_read(self._f, size, True))


def _boot():
    # OpenMV's frozen _boot.py as far as storage goes (DEVICE-FACTS "Boot"): /flash, then the card
    # at /sdcard as the working directory, unless /flash/SKIPSD exists.
    import os
    import sys
    import vfs
    import machine
    import mimxrt

    vfs.mount(VfsFat(mimxrt.Flash()), "/flash")
    os.chdir("/flash")
    sys.path[:] = ["", ".frozen", "/flash/lib"]
    try:
        os.stat("/flash/SKIPSD")
        return
    except OSError:
        pass
    try:
        vfs.mount(VfsFat(machine.SDCard(1)), "/sdcard")
    except OSError:
        return
    os.chdir("/sdcard")
    sys.path.append("/sdcard")
    sys.path.append("/sdcard/lib")
