# OpenMV `sensor`, backed by the simulator's seeded sensor (src/openmv/sensor.ts): frames are the
# same bytes as on the simulated target for the same seed.
import _cardsim as _h
from cardsim_board import _chk
from image import Image, JPEG, RGB565, GRAYSCALE

QVGA = "QVGA"
VGA = "VGA"
HD = "HD"


def reset():
    _chk(_h.sensor("reset", ""))


def set_pixformat(fmt):
    _chk(_h.sensor("set_pixformat", fmt))


def set_framesize(size):
    _chk(_h.sensor("set_framesize", size))


def skip_frames(n=10, time=None):
    _chk(_h.sensor("skip_frames", n))


def snapshot():
    return Image._wrap(_chk(_h.sensor("snapshot", "")))
