# OpenMV `image`, backed by the simulator's image module (src/openmv): the same header checks, the
# same file I/O pattern through the mount table, the firmware's error texts.
import json
import _cardsim as _h
from cardsim_board import _chk, _take, _abs, _addr

JPEG = "JPEG"
RGB565 = "RGB565"
GRAYSCALE = "GRAYSCALE"


class Image:
    def __init__(self, arg, height=None, pixformat=None, buffer=None, copy_to_fb=False):
        if isinstance(arg, str):
            self._i = _chk(_h.img_load(_abs(arg)))
        elif buffer is None:
            self._i = _chk(_h.img_new(arg, height, pixformat, 0, -1))
        else:
            self._i = _chk(_h.img_new(arg, height, pixformat, _addr(buffer), len(buffer)))

    @staticmethod
    def _wrap(handle):
        img = object.__new__(Image)
        img._i = handle
        return img

    def _info(self):
        return json.loads(_chk(_h.img_info(self._i)))

    def width(self):
        return self._info()[0]

    def height(self):
        return self._info()[1]

    def format(self):
        return self._info()[2]

    def size(self):
        return self._info()[3]

    def save(self, path, roi=None, quality=50):
        _chk(_h.img_save(self._i, _abs(path), quality))
        return self

    def compress(self, quality=90):
        _chk(_h.img_compress(self._i, quality))
        return self

    to_jpeg = compress

    def bytearray(self):
        # A copy of the pixel data (on the board a view: writes to it do not change the image here).
        return _take(_chk(_h.img_bytes(self._i)))

    def __len__(self):
        return self.size()
