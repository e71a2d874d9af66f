# cardsim on-board agent for the OpenMV RT1062 (protocol cardsim-agent/1).
#
# Uploaded to /flash/agent.py by cardsim's board target (sim/board-target.ts) and driven over the
# raw REPL, one short exec per call (on the WebAssembly board garbage is collected only between
# execs). It swaps /sdcard to VfsFat(LogBdev(machine.SDCard(1))) before any file is opened, logs
# every block operation, can cut at write N, and runs the scenario steps of the openmv-rt1062
# profile with the board's own APIs, printing one JSON line per call.
#
# Same inputs as the simulator: the host stages the frames the simulator would save (JPEG bytes,
# saved byte for byte with image.Image(w, h, image.JPEG, buffer=...)) and the os.urandom stream the
# simulator would draw (a seeded stream), so file contents match byte for byte. Behaviour follows
# src/pipeline/as-reported.ts and src/profiles/openmv-rt1062/session.ts; the lax PKCS#1 v1.5 RSA
# is our own (DEVICE-FACTS: the board's rsa/ library does not check the 00 02 prefix).
import sys
import os
import gc
import json
import binascii
import hashlib
from array import array
import machine
import image

try:
    import utime as time
except ImportError:
    import time
try:
    import ucryptolib as cryptolib
except ImportError:
    import cryptolib

# Guarded import: OpenMV 4.x has vfs.VfsFat (older firmware os.VfsFat); the WebAssembly board
# provides a stand-in in place of the frozen vfs module.
try:
    import vfs as _vfs

    VfsFat = _vfs.VfsFat
    _mount = _vfs.mount
    _umount = _vfs.umount
except (ImportError, AttributeError):
    VfsFat = os.VfsFat
    _mount = os.mount
    _umount = os.umount

PROTOCOL = "cardsim-agent/1"
SECTOR = 512
K_READ, K_WRITE, K_SYNC, K_IOCTL, K_ERASE = 0, 1, 2, 3, 4
SNAPSHOT_US = 33333  # one frame at 30 fps, as the simulator's sensor.snapshot()


def _sha_file(path):
    h = hashlib.sha256()
    buf = bytearray(1024)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(memoryview(buf)[:n])
    return binascii.hexlify(h.digest()).decode()


try:
    AGENT_SHA = _sha_file(__file__)
except Exception:
    AGENT_SHA = None


class LogBdev:
    """A window of the card (sectors [0, sectors)) that logs every operation in preallocated arrays
    and can cut at write N: a torn prefix of whole sectors, then dead (every write -EIO)."""

    def __init__(self, dev, sectors, cap, keep=0):
        self.dev = dev
        self.sectors = sectors
        self.cap = cap
        self.kind = bytearray(cap)
        self.lba = array("I", [0] * cap)
        self.cnt = array("I", [0] * cap)
        self.crc = array("I", [0] * cap)
        self.res = array("i", [0] * cap)
        self.tim = array("I", [0] * cap)
        self.n = 0
        self.seq = 0
        self.writes = 0
        self.lost = 0
        self.dead = False
        self.cut_at = -1
        self.torn = 0
        self.cut = None
        # Keep-written-bytes mode (a trace with "data":"inline"): one pool preallocated at init,
        # sized by the host for the largest step; every write's buffer is appended to it in order and
        # the host fetches them after each step. A write that does not fit is not kept, nor is any
        # later one of the step (klost counts them): the host refuses the trace then, never guesses.
        self.pool = bytearray(keep) if keep else None
        self.kpos = 0
        self.klost = 0

    def _log(self, kind, lba, count, crc, result):
        i = self.n
        self.seq += 1
        if i >= self.cap:
            self.lost += 1
            return
        self.kind[i] = kind
        self.lba[i] = lba
        self.cnt[i] = count
        self.crc[i] = crc
        self.res[i] = result
        self.tim[i] = time.ticks_us()
        self.n = i + 1

    def readblocks(self, block, buf):
        n = len(buf) // SECTOR
        if block + n > self.sectors:
            self._log(K_READ, block, n, 0, -5)
            return -5
        r = self.dev.readblocks(block, buf)
        r = 0 if r is None else r
        self._log(K_READ, block, n, binascii.crc32(buf) if r == 0 else 0, r)
        return r

    def writeblocks(self, block, buf):
        n = len(buf) // SECTOR
        w = self.writes
        self.writes = w + 1
        crc = binascii.crc32(buf)
        if self.pool is not None:
            p = self.kpos
            m = len(buf)
            if self.klost or p + m > len(self.pool):
                self.klost += 1
            else:
                self.pool[p : p + m] = buf
                self.kpos = p + m
        if self.dead or block + n > self.sectors:
            self._log(K_WRITE, block, n, crc, -5)
            return -5
        if w == self.cut_at:
            torn = min(self.torn, n)
            if torn:
                self.dev.writeblocks(block, memoryview(buf)[: torn * SECTOR])
            self._log(K_WRITE, block, n, crc, -5)
            self.dead = True
            self.cut = [w, torn, self.seq]
            return -5
        r = self.dev.writeblocks(block, buf)
        r = 0 if r is None else r
        self._log(K_WRITE, block, n, crc, r)
        return r

    def ioctl(self, op, arg):
        if op == 4:
            r = self.sectors
        elif op == 5:
            r = SECTOR
        else:
            r = self.dev.ioctl(op, arg)
        if op == 3:
            self._log(K_SYNC, 0, 0, 0, r or 0)
        elif op == 6:
            self._log(K_ERASE, arg or 0, 1, 0, r or 0)
        else:
            self._log(K_IOCTL, op, arg or 0, 0, 0 if r is None else r)
        return r

    def cut_now(self):
        # A cut between two writes (the cut_power step): nothing in flight.
        if not self.dead:
            self.dead = True
            self.cut = [self.writes, None, self.seq]

    def take(self):
        # The ops logged since the last take, as base64 of each column (little-endian arrays).
        n = self.n
        out = {"n": n, "lost": self.lost}
        if self.pool is not None:
            # The bytes stay in the pool until the next write: the host fetches them first.
            out["kept"] = self.kpos
            out["klost"] = self.klost
            self.kpos = 0
            self.klost = 0
        if n:
            out["kind"] = _hex(memoryview(self.kind)[:n])
            for name in ("lba", "cnt", "crc", "res", "tim"):
                out[name] = _hex(bytes(memoryview(getattr(self, name))[:n]))
        self.n = 0
        self.lost = 0
        return out


def fetch(off, n, chunk):
    # Kept bytes [off, off+n) of the pool, one line per chunk: "<offset> <crc32 8 hex> <hex>" (hex:
    # native on every port; the CRC lets the host name the chunk a garbled line broke).
    mv = memoryview(BD.pool)
    end = off + n
    while off < end:
        m = min(chunk, end - off)
        c = mv[off : off + m]
        print("%d %08x %s" % (off, binascii.crc32(c) & 0xFFFFFFFF, binascii.hexlify(c).decode()))
        c = None
        off += m
    mv = None


def _hex(b):
    # Hex, not base64: bytes.hex/fromhex are native everywhere (the WebAssembly port's binascii
    # base64 is pure Python).
    return bytes(b).hex()


# --- state of one boot -------------------------------------------------------------------------

BD = None
CFG = {}
T0 = 0
BUF = bytearray(0)
POOL = None
PPOS = 0
CAPTURED = 0
EV = []
LOG = []
MARKS = []
HANDLES = {}
NEXT_H = [1]
IMAGES = {}
LAST = {"raw": None, "enc": None}
PAYLOAD = None


class StepError(Exception):
    # A step the scenario cannot run here (ScenarioStepError on the simulator).
    pass


class DecryptionError(Exception):
    pass


def stage(n):
    # A staging buffer for the next call's inputs (frames, the urandom stream, data).
    global BUF
    if len(BUF) < n:
        BUF = None
        gc.collect()
        BUF = bytearray(n)
    print('{"staged":%d}' % n)


def put(off, hx):
    b = bytes.fromhex(hx)
    BUF[off : off + len(b)] = b
    print('{"put":%d}' % len(b))


def hello():
    print(json.dumps({"protocol": PROTOCOL, "sha256": AGENT_SHA, "platform": sys.platform}))


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def init(cfg_json):
    # Boot of a run: swap /sdcard to the logging window (provisioning it first when asked), set
    # the RTC, reset the step state. Prints warnings the host shows.
    global BD, CFG, T0
    cfg = json.loads(cfg_json)
    CFG.clear()
    CFG.update(cfg)
    LIVE.clear()
    warn = []
    for p in ("/flash/main.py", "/sdcard/main.py"):
        if _exists(p):
            warn.append("%s exists: it runs after every reset of this board" % p)
    try:
        _umount("/sdcard")
    except OSError:
        pass
    sd = machine.SDCard(1)
    total = sd.ioctl(4, 0)
    sectors = cfg["sectors"]
    if total is not None and total < sectors:
        raise OSError("card has %d sectors, the scenario's window needs %d" % (total, sectors))
    prov = cfg.get("provision")
    done = None
    if prov:
        done = _provision(sd, prov["zeroUpTo"], prov["records"])
    if done is not None and prov.get("check"):
        done["crc"] = _window_crc(sd, sectors)
    BD = None
    gc.collect()
    keep = cfg.get("keep", 0)
    try:
        BD = LogBdev(sd, sectors, cfg.get("cap", 8192), keep)
    except MemoryError:
        raise OSError("cardsim agent: no memory for a keep pool of %d bytes (free %d)" % (keep, gc.mem_free()))
    _mount(VfsFat(BD), "/sdcard")
    os.chdir("/sdcard")
    machine.RTC().datetime(tuple(cfg["rtc"]))
    T0 = time.ticks_us()
    _reset_step_state()
    HANDLES.clear()
    IMAGES.clear()
    LAST["raw"] = LAST["enc"] = None
    del EV[:], LOG[:], MARKS[:]
    gc.collect()
    print(json.dumps({"ok": 1, "warn": warn, "provisioned": done, "t0": T0}))


def _provision(sd, zero_upto, records):
    # Makes sectors [0, zero_upto) zero unless the image gives them, then writes the image's
    # sectors (staged as records of a 4-byte little-endian LBA + 512 bytes).
    chunk = bytearray(32 * SECTOR)
    zero = bytes(32 * SECTOR)
    zeroed = 0
    lba = 0
    while lba < zero_upto:
        n = min(32, zero_upto - lba)
        mv = memoryview(chunk)[: n * SECTOR]
        sd.readblocks(lba, mv)
        if (chunk if n == 32 else bytes(mv)) != (zero if n == 32 else zero[: n * SECTOR]):
            sd.writeblocks(lba, memoryview(zero)[: n * SECTOR])
            zeroed += n
        lba += n
    mv = memoryview(BUF)
    for i in range(records):
        at = i * (4 + SECTOR)
        b = mv[at : at + 4]
        lba = b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)
        sd.writeblocks(lba, mv[at + 4 : at + 4 + SECTOR])
    return {"zeroed": zeroed, "written": records}


def _window_crc(sd, sectors):
    # CRC-32 of the whole window as the card holds it (the host checks it against the base image).
    chunk = bytearray(32 * SECTOR)
    crc = 0
    lba = 0
    while lba < sectors:
        n = min(32, sectors - lba)
        mv = memoryview(chunk)[: n * SECTOR]
        sd.readblocks(lba, mv)
        crc = binascii.crc32(mv, crc)
        lba += n
    return crc & 0xFFFFFFFF


def _reset_step_state():
    global POOL, PPOS, CAPTURED, PAYLOAD
    POOL = None
    PPOS = 0
    CAPTURED = 0
    PAYLOAD = None


def readback(lba, count):
    # Raw sectors of the window, not logged (the host's evidence after the run).
    sd = machine.SDCard(1)
    b = bytearray(count * SECTOR)
    sd.readblocks(lba, b)
    print('{"lba":%d,"hex":"%s"}' % (lba, _hex(b)))


def cut_at(n, torn):
    # Arms a cut at write n (0-based among this boot's writes) with a torn prefix of whole sectors.
    BD.cut_at = n
    BD.torn = torn
    print('{"ok":1}')


# --- inputs ------------------------------------------------------------------------------------


def urandom(n):
    # The simulator's os.urandom stream (staged by the host): n bytes, the stream advances by whole
    # 32-bit words as the simulator's generator does.
    global PPOS
    if CFG.get("devRandom"):
        # The board's own randomness (--device-random): files such as .enc differ from the
        # simulator's byte for byte; the host compares what their reader recovers.
        return os.urandom(n)
    if POOL is None or PPOS + n > len(POOL):
        raise RuntimeError("cardsim agent: the host's random stream is exhausted (%d bytes asked)" % n)
    b = bytes(POOL[PPOS : PPOS + n])
    PPOS += (n + 3) & ~3
    return b


def _nonzero_byte():
    b = 0
    while b == 0:
        b = urandom(4)[0]
    return b


# --- file events (FileHistoryRecorder's methods, replayed by the host) ---------------------------


def _pos():
    return [BD.writes, BD.seq]


def _ev(_name, **kw):
    # Paths as the simulator's VFS observer reports them: absolute (relative ones against the cwd).
    if "path" in kw:
        kw["path"] = _abs(kw["path"])
    kw["e"] = _name
    kw["at"] = _pos()
    EV.append(kw)


def _writes_mode(mode):
    for c in "wax+":
        if c in mode:
            return True
    return False


def _read_or_none(path):
    # As the simulator reads a file for its evidence (src/crash/read-file.ts): stat, then one read of
    # the file's size. f.read() without a size reads in small chunks (MicroPython's readall), and
    # every partial-sector read goes through FatFs's one window (FF_FS_TINY), evicting the FAT
    # sector: the FAT is read again for every cluster, the card's reads take virtual time and the
    # clock runs ahead of the simulator's (card-full's image names came a second later).
    try:
        st = os.stat(path)
        if st[0] & 0x4000:
            return None
        with open(path, "rb") as f:
            return f.read(st[6])
    except OSError:
        return None


def _under_mount(path):
    return _abs(path).upper().startswith("/SDCARD/")


def _will_open(path, mode):
    path = _abs(path)
    if not _writes_mode(mode) or not _under_mount(path):
        return
    ev = {}
    if path.upper() not in CFG.get("tracked", []):
        cur = _read_or_none(path)
        ev["cur"] = None if cur is None else _hex(cur)
        CFG.setdefault("tracked", []).append(path.upper())
    _ev("willOpen", path=path, mode=mode, **ev)


def _track_before(path):
    path = _abs(path)
    if _under_mount(path) and path.upper() not in CFG.get("tracked", []):
        cur = _read_or_none(path)
        CFG.setdefault("tracked", []).append(path.upper())
        return None if cur is None else _hex(cur)
    return False


def _data_ref(data):
    # Bytes written: a slice of the staged inputs (by offset) when they came from there, else inline.
    if PAYLOAD is not None:
        return {"src": "payload", "off": PAYLOAD}
    if isinstance(data, str):
        data = data.encode()
    return {"hex": _hex(data)}


class _Tracked:
    # open() as the scenario's steps and the pipeline use it, reporting file events.
    def __init__(self, path, mode):
        _will_open(path, mode)
        self.f = open(path, mode)
        self.path = _abs(path)
        self.mode = mode
        self.h = NEXT_H[0]
        NEXT_H[0] += 1
        self.follow = _writes_mode(mode) and _under_mount(path)
        if self.follow:
            _ev("opened", h=self.h, path=path, mode=mode)

    def write(self, data):
        pos = self.f.tell() if self.follow else 0
        n = self.f.write(data)
        if self.follow:
            ev = _data_ref(data)
            _ev("wrote", h=self.h, pos=pos, n=n, **ev)
        return n

    def read(self, size=-1):
        return self.f.read(size)

    def readline(self):
        return self.f.readline()

    def flush(self):
        self.f.flush()
        if self.follow:
            _ev("committed", h=self.h, kind="flush")

    def close(self):
        self.f.close()
        if self.follow:
            _ev("committed", h=self.h, kind="close")

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def _save_image(path, jpeg, w, h, quality, off=None):
    # img.save of a JPEG image: imlib writes the bytes as they are (f_open CREATE_ALWAYS, one
    # f_write, f_close); the events are the ones the simulator's VFS observer reports.
    global PAYLOAD
    _will_open(path, "wb")
    img = image.Image(w, h, image.JPEG, buffer=jpeg)
    try:
        img.save(path, quality=quality)
    except Exception:
        # imlib closes the file on a failed save; on a dead card (after a cut) that close fails too and
        # nothing is committed, as the simulator's VFS observer sees it.
        if not BD.dead and _exists(path):
            hh = NEXT_H[0]
            NEXT_H[0] += 1
            _ev("opened", h=hh, path=path, mode="wb")
            _ev("committed", h=hh, kind="close")
        raise
    hh = NEXT_H[0]
    NEXT_H[0] += 1
    _ev("opened", h=hh, path=path, mode="wb")
    PAYLOAD = off
    _ev("wrote", h=hh, pos=0, n=len(jpeg), **_data_ref(jpeg))
    PAYLOAD = None
    _ev("committed", h=hh, kind="close")


# --- the pipeline (src/pipeline/as-reported.ts) ----------------------------------------------------

IMAGE_DIR = "/sdcard/myimages"


def log(line):
    LOG.append(line)


def _abs(path):
    if path.startswith("/"):
        return path
    cwd = os.getcwd()
    return ("" if cwd == "/" else cwd) + "/" + path


def _name_ms():
    return int(time.time()) * 1000


def _raw_path(ms):
    return "%s/%s_%d_raw.jpg" % (IMAGE_DIR, CFG["id"], ms)


def _enc_path(ms):
    return "%s/%s_%d.enc" % (IMAGE_DIR, CFG["id"], ms)


def _ensure_dir():
    if "myimages" not in os.listdir("/sdcard"):
        os.mkdir(IMAGE_DIR)


# --live-sensor: frames come from the board's own sensor (JPEG at quality 50, kept across steps as
# [jpeg, w, h, format]); the staged frames are ignored and contents no longer match the simulator's.
LIVE = []


def _live():
    return CFG.get("live", False)


def _frame(i):
    # The i-th frame: (jpeg memoryview, width, height, payload offset or None).
    if _live():
        f = LIVE[i]
        return memoryview(f[0]), f[1], f[2], None
    f = CFG["step"]["frames"][i]
    return memoryview(BUF)[f[0] : f[0] + f[1]], f[2], f[3], f[0]


def _snapshot():
    import sensor

    t0 = time.ticks_us()
    img = sensor.snapshot()
    w, h, fmt = img.width(), img.height(), img.format()
    LIVE.append([bytes(img.compress(quality=50).bytearray()), w, h, fmt])
    # At least one frame time, as the simulator's snapshot.
    left = SNAPSHOT_US - time.ticks_diff(time.ticks_us(), t0)
    if left > 0:
        time.sleep_us(left)
    return len(LIVE) - 1


def _capture():
    global CAPTURED
    i = CAPTURED
    CAPTURED += 1
    if _live():
        return _snapshot()
    time.sleep_us(SNAPSHOT_US)
    return i


def save_raw(frame, ms):
    _ensure_dir()
    path = _raw_path(ms)
    jpeg, w, h, off = _frame(frame)
    _save_image(path, jpeg, w, h, 50, off)
    log("INFO, [IMG] Saved raw image file:%s" % path)
    return path


def read_back(path):
    try:
        return image.Image(path)
    except Exception as e:
        log("ERROR, [IMG] Failed read raw image file:%s, error: %s" % (path, e))
        return None


def read_public_key(path):
    with _Tracked(path, "r") as f:
        return int(f.readline())


def _pad(msg, k):
    out = bytearray(k)
    out[1] = 2
    for i in range(2, k - len(msg) - 1):
        out[i] = _nonzero_byte()
    out[k - len(msg) :] = msg
    return out


def _byte_size(n):
    return (len("%x" % n) + 1) // 2


def rsa_encrypt(msg, n, e=65537):
    k = _byte_size(n)
    if len(msg) > k - 11:
        raise OverflowError("%d bytes needed for message, but there is only space for %d" % (len(msg), k - 11))
    m = int.from_bytes(bytes(_pad(msg, k)), "big")
    return pow(m, e, n).to_bytes(k, "big")


def rsa_decrypt_lax(crypto, key):
    # The board's lax PKCS#1 v1.5 (DEVICE-FACTS): int(hexlify(c), 16), c^d mod n, then everything
    # after the first zero byte from index 2; no check of the 00 02 prefix or the padding length.
    n, e, d = key[0], key[1], key[2]
    k = _byte_size(n)
    if len(crypto) == 0:
        # int(hexlify(b""), 16) as an OpenMV build reports it (MICROPY_ERROR_REPORTING_NORMAL; a
        # DETAILED build, such as the WebAssembly one, would append ": ''").
        raise ValueError("invalid syntax for integer with base 16")
    c = int(binascii.hexlify(crypto).decode(), 16)
    clear = pow(c, d, n).to_bytes(k, "big")
    try:
        sep = clear.index(b"\x00", 2)
    except ValueError:
        raise DecryptionError("Decryption failed")
    return clear[sep + 1 :]


def _pkcs7(data):
    p = 16 - len(data) % 16
    return bytes(data) + bytes([p]) * p


def write_enc(plain, dst, pub_path):
    n = read_public_key(pub_path)
    key = urandom(32)
    iv = urandom(16)
    body = cryptolib.aes(key, 2, iv).encrypt(_pkcs7(plain))
    data = rsa_encrypt(key, n) + rsa_encrypt(iv, n) + body
    with _Tracked(dst, "wb") as f:
        f.write(data)
    os.sync()


def encrypt_file(src, dst, pub_path):
    try:
        with _Tracked(src, "rb") as f:
            plain = f.read()
        write_enc(plain, dst, pub_path)
        log("INFO, [IMG] Saved encrypted image file:%s" % dst)
        return True
    except Exception as e:
        log("ERROR, [IMG] Failed to encrypt and save image: %s" % e)
        return False


def decrypt_enc(data, key):
    k = _byte_size(key[0])
    ak = rsa_decrypt_lax(data[0:k], key)
    iv = rsa_decrypt_lax(data[k : 2 * k], key)
    plain = cryptolib.aes(ak, 2, iv).decrypt(data[2 * k :])
    if len(plain) == 0:
        raise IndexError("bytes index out of range")
    pad = plain[-1]
    return plain[: 0 if pad == 0 else max(0, len(plain) - pad)]


def decrypt_file(src, dst, key):
    try:
        with _Tracked(src, "rb") as f:
            data = f.read()
        plain = decrypt_enc(data, key)
        _save_image(dst, plain, 320, 240, 50)
        log("INFO, [IMG] Decrypted and saved image file:%s" % dst)
        return True
    except Exception as e:
        log("ERROR, [IMG] Failed to decrypt and save image: %s" % e)
        return False


def private_key(path):
    with _Tracked(path, "r") as f:
        text = f.read()
    text = text.strip()
    if text.startswith("PrivateKey(") and text.endswith(")"):
        text = text[len("PrivateKey(") : -1]
    return [int(x) for x in text.replace(",", " ").split()]


def _exc_line(e):
    s = str(e)
    return "%s: %s" % (type(e).__name__, s) if s else type(e).__name__


def script_main(frames, interval_ms, touched):
    ident = CFG["id"]
    pub = "%s.pub" % ident
    try:
        log("INFO, [SYS] Device id: %s" % ident)
        for _ in range(frames):
            fr = _capture()
            ms = _name_ms()
            raw = save_raw(fr, ms)
            enc = _enc_path(ms)
            os.sync()
            time.sleep_ms(500)
            back = read_back(raw)
            if back:
                try:
                    write_enc(back.bytearray(), enc, pub)
                    log("INFO, [IMG] Saved encrypted image file:%s" % enc)
                except Exception as e:
                    log("ERROR, [IMG] Failed to encrypt and save image: %s" % e)
            back = None
            touched.append(raw)
            touched.append(enc)
            LAST["raw"] = raw
            LAST["enc"] = enc
            gc.collect()
            time.sleep_ms(interval_ms)
    except Exception as e:
        log("Traceback (most recent call last):")
        log(_exc_line(e))
        raise StepError("main.py stopped: %s" % _exc_line(e))


# --- the hardened pipeline (src/pipeline/hardened.ts, .enc v2 of src/pipeline/enc-format.ts) -----
#
# Every file goes to <name>.tmp (open 'wb', one write, close), is read back and compared, then renamed
# over the final name; .enc files are v2 (magic, lengths, HMAC-SHA256 tag) with strict PKCS#1 v1.5.
# Every failure is logged as "<ErrorName>: <message>" with the simulator's exact texts.

TMP_SUFFIX = ".tmp"


class FileIntegrityError(Exception):
    def __init__(self, path, offset, expected, found):
        super().__init__("%s offset %d: expected %s, found %s" % (path, offset, expected, found))


class EncError(Exception):
    def __init__(self, offset, expected, found):
        super().__init__(".enc offset %d: expected %s, found %s" % (offset, expected, found))


class EncTruncatedError(EncError):
    pass


class EncFormatError(EncError):
    pass


class EncKeyError(EncError):
    pass


class EncIntegrityError(EncError):
    pass


def _hardened_text(e):
    # hardenedErrorText: every failure as "<ErrorName>: <message>".
    return "%s: %s" % (type(e).__name__, e)


def _jpeg_header(b):
    # The firmware's image header check (src/openmv/image.ts checkImageHeader) on bytes in memory.
    if len(b) < 4:
        raise OSError("Failed to read requested bytes!")
    if b[0] == 0x50 and b[1] in (0x32, 0x33, 0x35, 0x36):
        return
    if b[0] == 0x42 and b[1] == 0x4D:
        return
    if b[0] == 0x89 and b[1] == 0x50 and b[2] == 0x4E and b[3] == 0x47:
        return
    if not (b[0] == 0xFF and b[1] == 0xD8):
        raise OSError("Unsupported format!")
    pos = 0
    n = len(b)
    while True:
        if pos + 2 > n:
            raise OSError("Failed to read requested bytes!")
        m = (b[pos] << 8) | b[pos + 1]
        pos += 2
        if 0xFFD0 <= m <= 0xFFD9:
            continue
        if 0xFFC0 <= m <= 0xFFCF or 0xFFDA <= m <= 0xFFFE:
            if pos + 2 > n:
                raise OSError("Failed to read requested bytes!")
            size = (b[pos] << 8) | b[pos + 1]
            pos += 2
            if m in (0xFFC4, 0xFFC8, 0xFFCC) or m > 0xFFCF:
                pos = min(n, pos + size - 2)
                continue
            if pos + 5 > n:
                raise OSError("Failed to read requested bytes!")
            return
        raise OSError("File corrupted!")


def _verify_jpeg(path, b):
    try:
        _jpeg_header(b)
    except OSError as e:
        raise FileIntegrityError(path, 0, "a JPEG header (FF D8 ... SOF)", str(e))
    n = len(b)
    if n < 4 or b[n - 2] != 0xFF or b[n - 1] != 0xD9:
        raise FileIntegrityError(path, max(0, n - 2), "JPEG end marker FF D9", "other bytes or end of file")


def _verify_same(path, got, want):
    if len(got) == len(want) and bytes(got) == bytes(want):
        return
    n = min(len(got), len(want))
    at = -1
    for i in range(n):
        if got[i] != want[i]:
            at = i
            break
    if at < 0:
        if len(got) == len(want):
            return
        raise FileIntegrityError(path, n, "%d bytes" % len(want), "%d bytes" % len(got))
    raise FileIntegrityError(path, at, "byte 0x%02x as written" % want[at], "0x%02x" % got[at])


def _read_all(path):
    with _Tracked(path, "rb") as f:
        return f.read()


def _remove(path):
    p = _abs(path)
    cur = _track_before(p)
    _ev("willRemove", path=p, cur=cur)
    os.remove(path)
    _ev("removed", path=p)


def _rename(src, dst):
    s, d = _abs(src), _abs(dst)
    c1 = _track_before(s)
    c2 = _track_before(d)
    _ev("willRename", src=s, dst=d, cur=[c1, c2])
    os.rename(src, dst)
    _ev("renamed", src=s, dst=d, now=_hex(_read_or_none(d) or b""))


def atomic_write(path, data, off=None):
    # <path>.tmp, read back and compared, renamed over path; the .tmp is removed on a mismatch.
    global PAYLOAD
    tmp = path + TMP_SUFFIX
    with _Tracked(tmp, "wb") as f:
        PAYLOAD = off
        try:
            f.write(data)
        finally:
            PAYLOAD = None
    back = _read_all(tmp)
    try:
        _verify_same(tmp, back, data)
    except Exception:
        try:
            _remove(tmp)
        except Exception:
            pass
        raise
    _rename(tmp, path)


def h_save_raw(frame, ms):
    _ensure_dir()
    path = _raw_path(ms)
    jpeg, w, h, off = _frame(frame)
    atomic_write(path, jpeg, off)
    log("INFO, [IMG] Saved raw image file:%s" % path)
    return path, jpeg


def h_read_back(path, expected=None):
    try:
        img = image.Image(path)
        if expected is not None:
            _verify_same(path, img.bytearray(), expected)
        else:
            _verify_jpeg(path, img.bytearray())
        return img
    except Exception as e:
        log("ERROR, [IMG] Failed read raw image file:%s, error: %s" % (path, _hardened_text(e)))
        return None


def _hmac_sha256(key, msg):
    # RFC 2104 over hashlib.sha256 (64-byte blocks); the key here is 32 bytes.
    k = bytes(key) + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(x ^ 0x36 for x in k))
    inner.update(msg)
    outer = hashlib.sha256(bytes(x ^ 0x5C for x in k))
    outer.update(inner.digest())
    return outer.digest()


def _v2_tag(aes_key, covered):
    mk = hashlib.sha256(b"cardsim-enc-v2 mac")
    mk.update(aes_key)
    return _hmac_sha256(mk.digest(), covered)


def encrypt_v2(plain, n):
    k = _byte_size(n)
    key = urandom(32)
    iv = urandom(16)
    body = cryptolib.aes(key, 2, iv).encrypt(_pkcs7(plain))
    block = rsa_encrypt(key + iv, n)
    head = b"CENC" + bytes([2, 0]) + k.to_bytes(2, "big") + len(plain).to_bytes(4, "big")
    head += len(body).to_bytes(4, "big")
    covered = head + block + body
    return covered + _v2_tag(key, covered)


def h_encrypt_bytes(plain, src, dst, pub_path):
    _verify_jpeg(src, plain)
    n = read_public_key(pub_path)
    atomic_write(dst, encrypt_v2(plain, n))


def h_encrypt_file(src, dst, pub_path):
    try:
        h_encrypt_bytes(_read_all(src), src, dst, pub_path)
        log("INFO, [IMG] Saved encrypted image file:%s" % dst)
        return True
    except Exception as e:
        log("ERROR, [IMG] Failed to encrypt and save image: %s" % _hardened_text(e))
        return False


def rsa_decrypt_strict(crypto, key):
    # python-rsa 4.x rsa/pkcs1.py decrypt(): 00 02, at least 8 padding bytes, a zero separator.
    n, d = key[0], key[2]
    k = _byte_size(n)
    c = int.from_bytes(bytes(crypto), "big") if len(crypto) else 0
    clear = pow(c, d, n).to_bytes(k, "big")
    if len(crypto) > k:
        raise DecryptionError("Decryption failed")
    try:
        sep = clear.index(b"\x00", 2)
    except ValueError:
        sep = -1
    if clear[0] != 0 or clear[1] != 2 or sep < 10:
        raise DecryptionError("Decryption failed")
    return clear[sep + 1 :]


def _hex_spaced(b):
    return " ".join("%02x" % x for x in b) or "(nothing)"


def decrypt_v2(data, key):
    k0 = _byte_size(key[0])
    if len(data) < 16:
        raise EncTruncatedError(len(data), "a 16-byte header", "%d bytes" % len(data))
    if data[0:4] != b"CENC":
        raise EncFormatError(0, 'magic "CENC"', _hex_spaced(data[0:4]))
    if data[4] != 2:
        raise EncFormatError(4, "version 2", "version %d" % data[4])
    if data[5] != 0:
        raise EncFormatError(5, "flags 0", "flags %d" % data[5])
    k = int.from_bytes(data[6:8], "big")
    plain_len = int.from_bytes(data[8:12], "big")
    body_len = int.from_bytes(data[12:16], "big")
    if k != k0:
        raise EncFormatError(6, "RSA block of %d bytes (this key)" % k0, "%d bytes" % k)
    padded_len = 16 * (plain_len // 16 + 1)
    if body_len != padded_len:
        raise EncFormatError(12, "ciphertext length %d for plaintext length %d" % (padded_len, plain_len), "%d" % body_len)
    total = 16 + k + body_len + 32
    if len(data) < total:
        raise EncTruncatedError(len(data), "file of %d bytes" % total, "end of file at %d bytes" % len(data))
    if len(data) > total:
        raise EncFormatError(total, "end of file at %d bytes" % total, "%d trailing bytes" % (len(data) - total))
    try:
        key_iv = rsa_decrypt_strict(data[16 : 16 + k], key)
    except Exception as e:
        raise EncKeyError(16, "an RSA block that decrypts with this private key", _hardened_text(e))
    if len(key_iv) != 48:
        raise EncKeyError(16, "48 bytes of AES key and IV in the RSA block", "%d bytes" % len(key_iv))
    ak, iv = key_iv[:32], key_iv[32:]
    tag_at = 16 + k + body_len
    if _v2_tag(ak, data[:tag_at]) != bytes(data[tag_at : tag_at + 32]):
        raise EncIntegrityError(tag_at, "HMAC-SHA256 tag matching header, RSA block and ciphertext", "a different tag")
    padded = cryptolib.aes(ak, 2, iv).decrypt(data[16 + k : tag_at])
    pad = padded[-1]
    body_at = 16 + k
    if pad < 1 or pad > 16 or len(padded) - pad != plain_len:
        raise EncIntegrityError(body_at, "PKCS#7 padding leaving %d bytes" % plain_len, "pad byte %d" % pad)
    for i in range(len(padded) - pad, len(padded)):
        if padded[i] != pad:
            raise EncIntegrityError(body_at, "PKCS#7 padding bytes", "byte %d" % padded[i])
    return padded[:plain_len]


def decrypt_v1_strict(data, key):
    # decryptEncChecked(data, key, "strict"): the v1 layout first, then the script's steps.
    k = _byte_size(key[0])
    least = 2 * k + 16
    if len(data) < least:
        field = "RSA key block" if len(data) < k else ("RSA IV block" if len(data) < 2 * k else "AES body")
        raise EncTruncatedError(
            len(data),
            "%s: at least %d bytes (2 RSA blocks of %d + 16)" % (field, least, k),
            "end of file at %d bytes" % len(data),
        )
    body = len(data) - 2 * k
    if body % 16:
        size = len(data) + (16 - body % 16)
        raise EncTruncatedError(
            len(data),
            "AES body of whole 16-byte blocks (file size %d or %d)" % (size, size - 16),
            "%d body bytes (%d bytes in all)" % (body, len(data)),
        )
    try:
        ak = rsa_decrypt_strict(data[0:k], key)
        iv = rsa_decrypt_strict(data[k : 2 * k], key)
        plain = cryptolib.aes(ak, 2, iv).decrypt(data[2 * k :])
    except DecryptionError as e:
        raise EncKeyError(0, "RSA blocks that decrypt with this private key", str(e))
    except ValueError as e:
        raise EncKeyError(0, "a 32-byte AES key and a 16-byte IV", _hardened_text(e))
    pad = plain[-1]
    return plain[: 0 if pad == 0 else max(0, len(plain) - pad)]


def decrypt_strict(data, src, key):
    plain = decrypt_v2(data, key) if data[0:4] == b"CENC" else decrypt_v1_strict(data, key)
    _verify_jpeg("%s (decrypted)" % src, plain)
    return plain


def h_decrypt_file(src, dst, key):
    try:
        plain = decrypt_strict(_read_all(src), src, key)
        atomic_write(dst, plain)
        log("INFO, [IMG] Decrypted and saved image file:%s" % dst)
        return True
    except Exception as e:
        log("ERROR, [IMG] Failed to decrypt and save image: %s" % _hardened_text(e))
        return False


def h_script_main(frames, interval_ms, touched):
    ident = CFG["id"]
    pub = "%s.pub" % ident
    try:
        log("INFO, [SYS] Device id: %s" % ident)
        for _ in range(frames):
            fr = _capture()
            ms = _name_ms()
            raw = _raw_path(ms)
            enc = _enc_path(ms)
            touched.append(raw)
            touched.append(enc)
            try:
                raw, saved = h_save_raw(fr, ms)
                time.sleep_ms(500)
                if h_read_back(raw, saved) is not None:
                    # Encrypt the bytes known to be good, not what a (possibly stale) read returned.
                    h_encrypt_bytes(saved, raw, enc, pub)
                    log("INFO, [IMG] Saved encrypted image file:%s" % enc)
            except Exception as e:
                log("ERROR, [IMG] Frame %d failed: %s" % (ms, _hardened_text(e)))
            LAST["raw"] = raw
            LAST["enc"] = enc
            gc.collect()
            time.sleep_ms(interval_ms)
    except Exception as e:
        log(_exc_line(e))
        raise StepError("main.py stopped: %s" % _exc_line(e))


def _hardened():
    return CFG.get("pipeline") == "hardened"


# --- steps -------------------------------------------------------------------------------------


def _handle(name):
    h = HANDLES.get(name)
    if h is None:
        raise StepError("no open file handle named '%s'" % name)
    return h


def _image(name):
    img = IMAGES.get(name or "img")
    if img is None:
        raise StepError("no captured image named '%s' (add a capture step)" % (name or "img"))
    return img


def _sub_end(s, old, new):
    # s.replace(/old$/i, new) of the simulator
    if s.lower().endswith(old):
        return s[: len(s) - len(old)] + new
    return s


def _execute(op, a, touched):
    global PAYLOAD
    if op == "open":
        path = _abs(a["path"])
        HANDLES[a["as"]] = _Tracked(path, a["mode"])
        return None
    if op == "write":
        f = _handle(a["handle"])
        touched.append(f.path)
        if "data" in a:
            data = a["data"]
        elif "hex" in a:
            data = binascii.unhexlify(a["hex"])
        else:
            off = CFG["step"]["pool"][0] + PPOS
            data = urandom(a["bytes"])
            PAYLOAD = off
        n = f.write(data)
        PAYLOAD = None
        return {"written": n}
    if op in ("flush", "close"):
        f = _handle(a["handle"])
        touched.append(f.path)
        if op == "flush":
            f.flush()
        else:
            f.close()
            del HANDLES[a["handle"]]
        return None
    if op == "read":
        if "handle" in a:
            f = _handle(a["handle"])
            b = f.read(a["size"]) if "size" in a else f.read()
        else:
            with open(a["path"], "rb") as f:
                b = f.read(a["size"]) if "size" in a else f.read()
        if isinstance(b, str):
            b = b.encode()
        return {"size": len(b), "sha256": binascii.hexlify(hashlib.sha256(b).digest()).decode()}
    if op == "remove":
        touched.append(_abs(a["path"]))
        _remove(a["path"])
        return None
    if op == "rename":
        touched.append(_abs(a["from"]))
        touched.append(_abs(a["to"]))
        _rename(a["from"], a["to"])
        return None
    if op == "mkdir":
        os.mkdir(a["path"])
        return None
    if op == "listdir":
        return os.listdir(a.get("path", os.getcwd()))
    if op == "os_sync":
        os.sync()
        return None
    if op == "sleep":
        time.sleep_ms(a["ms"])
        return None
    if op == "mark":
        MARKS.append([a["name"], BD.seq, time.ticks_us()])
        return None
    if op == "cut_power":
        BD.cut_now()
        HANDLES.clear()
        return None
    if op == "capture":
        if _live() and (a.get("pixformat") or a.get("framesize")):
            import sensor

            sensor.reset()
            sensor.set_pixformat(getattr(sensor, a.get("pixformat") or "RGB565"))
            sensor.set_framesize(getattr(sensor, a.get("framesize") or "QVGA"))
        fr = _capture()
        info = LIVE[fr][1:] if _live() else CFG["step"]["frames"][fr][2:]
        IMAGES[a.get("as", "img")] = fr
        return {"width": info[0], "height": info[1], "format": info[2]}
    if op == "save":
        fr = _image(a.get("image"))
        path = a.get("path")
        jpeg, w, h, off = _frame(fr if _live() else CFG["step"]["saveFrame"])
        if path is None:
            target = _raw_path(_name_ms())
            touched.append(target)
            _ensure_dir()
            if _hardened():
                atomic_write(target, jpeg, off)
            else:
                _save_image(target, jpeg, w, h, 50, off)
            log("INFO, [IMG] Saved raw image file:%s" % target)
        else:
            target = _abs(path)
            touched.append(target)
            _save_image(path, jpeg, w, h, a.get("quality", 50), off)
        LAST["raw"] = _abs(target)
        return {"path": LAST["raw"]}
    if op == "read_back":
        path = a.get("path") or LAST["raw"]
        if not path:
            raise StepError("read_back: no path and nothing saved yet")
        img = h_read_back(path) if _hardened() else read_back(path)
        if not img:
            raise StepError("read_back failed (see the device log)")
        return {"width": img.width(), "height": img.height(), "size": len(img.bytearray())}
    if op == "encrypt":
        src = a.get("src") or LAST["raw"]
        if not src:
            raise StepError("encrypt: no src and nothing saved yet")
        dst = a.get("dst") or _sub_end(src, "_raw.jpg", ".enc")
        touched.append(_abs(dst))
        LAST["enc"] = _abs(dst)
        encrypt = h_encrypt_file if _hardened() else encrypt_file
        if not encrypt(src, dst, a.get("pub", "221.pub")):
            raise StepError("encrypt failed (see the device log)")
        return {"path": LAST["enc"]}
    if op == "decrypt":
        src = a.get("src") or LAST["enc"]
        if not src:
            raise StepError("decrypt: no src and nothing encrypted yet")
        dst = a.get("dst") or _sub_end(src, ".enc", ".jpg")
        touched.append(_abs(dst))
        decrypt = h_decrypt_file if _hardened() else decrypt_file
        if not decrypt(src, dst, private_key(a.get("key", "/flash/221.priv"))):
            raise StepError("decrypt failed (see the device log)")
        return {"path": _abs(dst)}
    if op == "run_script":
        return _run_script(a, touched)
    raise StepError("step '%s' is not implemented by the board agent" % op)


def _run_script(a, touched):
    script = a["script"]
    hardened = _hardened()
    if script == "main":
        if _live():
            import sensor

            sensor.reset()
            sensor.set_pixformat(sensor.RGB565)
            sensor.set_framesize(sensor.QVGA)
        (h_script_main if hardened else script_main)(a.get("frames", 1), a.get("intervalMs", 1000), touched)
        return {"frames": len(touched) // 2}
    if script == "test1":
        src = LAST["raw"]
        dst = _sub_end(src, "_raw.jpg", ".enc") if src else None
        if dst:
            touched.append(dst)
        src = src or "/sdcard/myimages/221_1735689810000_raw.jpg"
        dst = dst or _sub_end(src, "_raw.jpg", ".enc")
        try:
            if hardened:
                ok = h_encrypt_file(src, dst, "221.pub")
            else:
                ok = encrypt_file(src, dst, "221.pub")
                time.sleep_ms(500)
        except Exception:
            ok = False
        if not ok:
            raise StepError("test1.py failed (see the device log)")
        return None
    src = LAST["enc"]
    dst = _sub_end(src, ".enc", ".jpg") if src else None
    if dst:
        touched.append(dst)
    key = private_key("/flash/221.priv")
    src = src or "/sdcard/myimages/221_1735689700000.enc"
    dst = dst or (_sub_end(src, ".enc", "") + ".jpg")
    try:
        ok = (h_decrypt_file if hardened else decrypt_file)(src, dst, key)
    except Exception:
        ok = False
    if not ok:
        raise StepError("test2.py failed (see the device log)")
    return None


def _describe(path):
    if BD is None or BD.dead:
        return [path, None, None]
    try:
        b = _read_or_none(path)
    except Exception:
        b = None
    if b is None:
        return [path, None, None]
    return [path, len(b), binascii.hexlify(hashlib.sha256(b).digest()).decode()]


def _error_of(e):
    if isinstance(e, StepError):
        return ["ScenarioStepError", str(e)]
    return [type(e).__name__, str(e)]


def run(spec_json):
    # One scenario step; prints {ok, err, value, files, log, ev, ops, marks, cut, rnd, cap, t}.
    global POOL, PPOS, CAPTURED
    spec = json.loads(spec_json)
    CFG["step"] = spec
    CFG["tracked"] = spec.get("tracked", CFG.get("tracked", []))
    pool = spec.get("pool")
    POOL = memoryview(BUF)[pool[0] : pool[0] + pool[1]] if pool else None
    PPOS = 0
    CAPTURED = 0
    touched = []
    err = None
    value = None
    try:
        value = _execute(spec["op"], spec.get("args", {}), touched)
    except Exception as e:
        err = _error_of(e)
    files = [_describe(p) for p in touched]
    out = {
        "ok": 0 if err else 1,
        "err": err,
        "value": value,
        "files": files,
        "log": LOG[:],
        "ev": EV[:],
        "ops": BD.take(),
        "marks": MARKS[:],
        "cut": BD.cut,
        "writes": BD.writes,
        "seq": BD.seq,
        "rnd": PPOS,
        "cap": CAPTURED,
        "t": time.ticks_diff(time.ticks_us(), T0),
    }
    del LOG[:], EV[:], MARKS[:]
    POOL = None
    spec = None
    CFG["step"] = None
    print(json.dumps(out))
    out = None
    gc.collect()
