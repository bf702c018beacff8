"""Webcam snapshots made by the test suite, as a browser would send them
(640x480 JPEG), from the face photo that ships with scikit-image
(``skimage.data.astronaut()``): one face, two faces side by side, no face
(the suit below the face), a nearly dark room, and an out-of-focus camera.

The same compositions as the fake camera of the browser tests
(``tests/browser/media.py``), so both detectors judge the same pictures.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
from numpy.typing import NDArray
from skimage import data

WIDTH, HEIGHT = 640, 480
WALL = 200  # a light grey wall behind the candidate

Image = NDArray[np.uint8]


def _fit(img: Image, width: int, height: int) -> Image:
    out = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(out, dtype=np.uint8)


def _canvas() -> Image:
    return np.full((HEIGHT, WIDTH, 3), WALL, dtype=np.uint8)


def _astronaut() -> Image:
    bgr = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return np.asarray(bgr, dtype=np.uint8)


def one_face_image() -> Image:
    frame = _canvas()
    frame[:, 80:560] = _fit(_astronaut(), 480, 480)
    return frame


def two_faces_image() -> Image:
    frame = _canvas()
    face = _fit(_astronaut(), 320, 320)
    frame[80:400, :320] = face
    frame[80:400, 320:] = face[:, ::-1]  # the second person, not a copy-paste
    return frame


def no_face_image() -> Image:
    # The suit, the badge and the helmet: a person-like picture with no face in it.
    return _fit(_astronaut()[250:, :], WIDTH, HEIGHT)


def dark_image() -> Image:
    return (one_face_image().astype(np.float32) * 0.04).astype(np.uint8)


def blurred_image() -> Image:
    # A smeared lens: a Gaussian blur of 8 pixels, where no detector can judge.
    return np.asarray(cv2.GaussianBlur(one_face_image(), (0, 0), 8), dtype=np.uint8)


def to_jpeg(image: Image, quality: int = 80, width: int = WIDTH) -> bytes:
    if width != image.shape[1]:
        image = _fit(image, width, round(image.shape[0] * width / image.shape[1]))
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buffer.tobytes())


@cache
def one_face() -> bytes:
    return to_jpeg(one_face_image())


@cache
def two_faces() -> bytes:
    return to_jpeg(two_faces_image())


@cache
def no_face() -> bytes:
    return to_jpeg(no_face_image())


@cache
def dark() -> bytes:
    return to_jpeg(dark_image())


@cache
def blurred() -> bytes:
    return to_jpeg(blurred_image())
