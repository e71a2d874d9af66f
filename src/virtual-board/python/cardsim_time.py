# `time` / `utime` on the virtual clock (src/openmv UtimeModule): sleeps advance virtual time at
# once (and let the card's USB host work), ticks wrap at 2**30. Nothing reads the host's clock.
import json
import _cardsim as _h
from cardsim_board import _chk

_PERIOD = 1 << 30


def sleep_ms(ms):
    _chk(_h.t_sleep(ms * 1000))


def sleep_us(us):
    _chk(_h.t_sleep(us))


def sleep(s):
    _chk(_h.t_sleep(int(round(s * 1000000))))


def ticks_ms():
    return _h.t_ticks(False)


def ticks_us():
    return _h.t_ticks(True)


ticks_cpu = ticks_us


def ticks_diff(a, b):
    return ((a - b + _PERIOD // 2) % _PERIOD) - _PERIOD // 2


def ticks_add(t, delta):
    return (t + delta) % _PERIOD


def time():
    return _h.t_time()


def time_ns():
    return _h.t_time() * 1000000000


def localtime(secs=None):
    return tuple(json.loads(_chk(_h.t_localtime(-1 if secs is None else secs))))


gmtime = localtime


def mktime(t):
    return _chk(_h.t_mktime(json.dumps(list(t))))
