# `machine` of the OpenMV RT1062 as far as the virtual board models it: SDCard(1) on the simulated
# card (through the fault plan), unique_id(), reset() (MCU reset: the card keeps power), RTC.
import json
import _cardsim as _h
from cardsim_board import _Native, _take, _chk


class SDCard(_Native):
    # A singleton, as ports/mimxrt/machine_sdcard.c makes it: readblocks/writeblocks(block, buf)
    # return 0 or -EIO; ioctl 1 init, 2 power off, 3 sync (always 0), 4 block count, 5 block size.
    _inst = None
    _dev = 0

    def __new__(cls, slot=1):
        if cls._inst is None:
            cls._inst = object.__new__(cls)
        return cls._inst

    def __init__(self, slot=1):
        pass


def unique_id():
    return bytes(_take(_h.uid()))


def reset():
    # The MCU restarts now; the REPL host boots a fresh interpreter on the same card.
    _h.reset()
    raise SystemExit


def soft_reset():
    raise SystemExit


def freq():
    return 600000000


def idle():
    pass


class RTC:
    def datetime(self, t=None):
        # (year, month, day, weekday, hours, minutes, seconds, subseconds); weekday 0 = Monday.
        if t is None:
            return tuple(json.loads(_chk(_h.rtc_get())))
        _chk(_h.rtc_set(json.dumps(list(t))))
