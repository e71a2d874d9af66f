# `mimxrt.Flash()`: the internal flash as a block device (the virtual board keeps it in memory,
# across resets and power cuts, as flash keeps its content).
from cardsim_board import _Native


class Flash(_Native):
    _dev = 1
