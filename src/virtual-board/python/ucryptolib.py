# `ucryptolib` / `cryptolib` (extmod/modcryptolib.c), backed by src/openmv/ucryptolib.ts: ECB and
# CBC, the firmware's ValueError texts.
import _cardsim as _h
from cardsim_board import _chk, _take, _addr


class aes:
    def __init__(self, key, mode, IV=None):
        iv = b"" if IV is None else IV
        self._a = _chk(_h.aes_new(_addr(key), len(key), mode, _addr(iv), -1 if IV is None else len(iv)))

    def _run(self, enc, data, out):
        n = _chk(_h.aes_run(self._a, enc, _addr(data), len(data), -1 if out is None else len(out)))
        if out is None:
            return bytes(_take(n))
        _h.take(_addr(out))
        return out

    def encrypt(self, data, out=None):
        return self._run(True, data, out)

    def decrypt(self, data, out=None):
        return self._run(False, data, out)
