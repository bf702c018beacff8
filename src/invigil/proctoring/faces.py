"""Looking at a webcam snapshot on the server: can it be judged, and how many
faces are in it. Pure functions of the image bytes (no database, no clock).

Quality first: a picture too dark (mean luminance) or too blurred (variance
of the Laplacian, on a contrast-normalised grey image of a fixed width) is
unreadable, and no face count is given for it. The thresholds were set on
astronaut-based pictures: every sharp one (JPEG quality 60 to 85, 320 to
640 pixels wide) measured 350 or more; a Gaussian blur of 6 pixels (at 640
wide), where both detectors miss most faces, at most 20; of 3 pixels, where
the CNN still counts right, 23 at the median.

Faces are counted by the best detector installed (:func:`detector`):

- ``yunet``: libfacedetection's CNN (the ``yuface`` wheel; its weights are
  compiled into the library, so it runs offline). It counted every one of
  the astronaut-based test pictures right, rotated, small and noisy ones
  included. Its wheels exist for CPython 3.11 on x86-64 Linux only.
- ``haar``: OpenCV's Haar cascade ``haarcascade_frontalface_alt2`` (shipped
  in ``cv2.data``; OpenCV 5 dropped them, hence ``opencv-python-headless<5``).
  Right on upright faces; it misses small or tilted second faces more often.

Every reading names the detector that made it, so a decision can be traced.
"""

from __future__ import annotations

import ctypes
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

WORK_WIDTH = 640  # pictures are judged at this width, whatever size they came in
MAX_PIXELS = 4096 * 4096  # larger pictures are refused before decoding
MIN_BRIGHTNESS = 20.0  # mean luminance, 0-255 (the browser's face check: 0.08)
MIN_SHARPNESS = 30.0  # variance of the Laplacian, at SHARPNESS_WIDTH and CONTRAST
SHARPNESS_WIDTH = 320  # sharpness is measured at this width
CONTRAST = 50.0  # ... once the grey image is scaled to this standard deviation

Grey = NDArray[np.uint8]
Colour = NDArray[np.uint8]


class Undecodable(Exception):
    """The bytes are not a picture that can be judged."""


@dataclass(frozen=True)
class Reading:
    brightness: float
    sharpness: float
    faces: int | None  # None when unreadable
    problem: str | None  # "too_dark" | "blurred" | None
    detector: str

    @property
    def readable(self) -> bool:
        return self.problem is None


class FaceCounter(Protocol):
    name: str

    def count(self, colour: Colour, grey: Grey) -> int: ...


class HaarCounter:
    """OpenCV's frontal-face Haar cascade. Parameters tuned on astronaut-based
    pictures (one, two side by side, none; JPEG quality 60 and 85; 640 and
    320 pixels wide): minNeighbors 5 to 7 all counted every one right, 6 is
    the middle; faces smaller than 7% of the picture's height are ignored."""

    name = "haar"

    def __init__(self) -> None:
        path = str(cv2.data.haarcascades) + "haarcascade_frontalface_alt2.xml"  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"the Haar cascade {path} could not be loaded")
        self._lock = threading.Lock()  # one classifier, used from worker threads

    def count(self, colour: Colour, grey: Grey) -> int:
        side = max(24, int(grey.shape[0] * 0.07))
        with self._lock:
            found = self._cascade.detectMultiScale(
                grey, scaleFactor=1.1, minNeighbors=6, minSize=(side, side)
            )
        return len(found)


class YunetCounter:
    """libfacedetection's CNN through the ``yuface`` wheel, on one thread: its
    OpenMP threads would spin against the web server's (on two cores, 4 to
    8 times slower than one thread: about 30 ms a 640x480 picture)."""

    name = "yunet"
    MIN_CONFIDENCE = 0.7  # 0.5 once counted a third face in two-face pictures

    def __init__(self, module: Any) -> None:
        self._detect = module.detect
        self._lock = threading.Lock()  # the C++ side is not documented as thread-safe
        self._one_thread = _openmp_threads(Path(module.__file__).parent.parent / "yuface.libs")

    def count(self, colour: Colour, grey: Grey) -> int:
        with self._lock:
            self._one_thread()  # OpenMP's setting is per calling thread
            confidences, _, _ = self._detect(np.ascontiguousarray(colour), self.MIN_CONFIDENCE)
        return len(confidences)


def _openmp_threads(folder: Path) -> Callable[[], None]:
    """A call that limits the wheel's own OpenMP runtime to one thread."""
    for path in sorted(folder.glob("libgomp*.so*")):
        setter = ctypes.CDLL(str(path)).omp_set_num_threads
        return lambda: setter(1)
    return lambda: None


@cache
def detector(prefer: str | None = None) -> FaceCounter:
    """The face counter in use: yunet when its wheel is installed, else haar
    (``prefer`` picks one by name, for tests and comparisons)."""
    if prefer in (None, "yunet"):
        try:
            import yuface  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:
            if prefer == "yunet":
                raise
        else:
            return YunetCounter(yuface)
    return HaarCounter()


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, without decoding."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def decode(data: bytes) -> Colour:
    size = dimensions(data)
    if size is None:
        raise Undecodable("not a JPEG or PNG picture with a readable header")
    if size[0] * size[1] > MAX_PIXELS or 0 in size:
        raise Undecodable(f"a {size[0]}x{size[1]} picture is not a webcam snapshot")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise Undecodable("the picture could not be decoded")
    return image  # type: ignore[return-value,unused-ignore]


def _at_work_width(image: Colour) -> Colour:
    height, width = image.shape[:2]
    if width == WORK_WIDTH:
        return image
    scale = WORK_WIDTH / width
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    size = (WORK_WIDTH, max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=interpolation)  # type: ignore[return-value,unused-ignore]


def brightness_of(grey: Grey) -> float:
    return float(grey.mean())


def sharpness_of(grey: Grey) -> float:
    """Variance of the Laplacian at ``SHARPNESS_WIDTH``, once the picture's
    contrast is brought to ``CONTRAST``: a dim but focused picture stays
    sharp, a blurred one does not (blur removes edges, not the spread of
    grey levels)."""
    height, width = grey.shape[:2]
    if width > SHARPNESS_WIDTH:
        size = (SHARPNESS_WIDTH, max(1, round(height * SHARPNESS_WIDTH / width)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)  # type: ignore[assignment,unused-ignore]
    spread = float(grey.std())
    if spread < 1.0:
        return 0.0  # one flat colour: nothing in it can be judged
    normalised = (grey.astype(np.float32) - float(grey.mean())) * (CONTRAST / spread)
    return float(cv2.Laplacian(normalised, cv2.CV_32F).var())


def read(data: bytes, counter: FaceCounter | None = None) -> Reading:
    """Judge a snapshot's bytes: quality, then (when readable) its faces."""
    counter = counter or detector()
    colour = _at_work_width(decode(data))
    grey: Grey = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)  # type: ignore[assignment,unused-ignore]
    brightness, sharpness = brightness_of(grey), sharpness_of(grey)
    problem = None
    if brightness < MIN_BRIGHTNESS:
        problem = "too_dark"
    elif sharpness < MIN_SHARPNESS:
        problem = "blurred"
    faces = None if problem else counter.count(colour, grey)
    return Reading(round(brightness, 2), round(sharpness, 2), faces, problem, counter.name)
