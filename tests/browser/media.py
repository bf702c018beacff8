"""Media for Chromium's fake camera and microphone, made by the test suite.

Video: YUV4MPEG2 clips (640x480, 4:2:0 chroma, 10 frames a second) built from
the face photo that ships with scikit-image (``skimage.data.astronaut()``):
one face, two faces side by side, no face (the suit below the face) and one
face in a nearly dark room. Chromium loops the file. Each clip drifts a
pixel a frame, so the detector sees a live-looking picture, not one frozen
frame.

Audio: speech from espeak-ng (Debian's ``espeak-ng``) and a wav of zeros.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from skimage import data
from skimage.transform import resize

WIDTH, HEIGHT, FPS, FRAMES = 640, 480, 10, 10
BACKGROUND = 200  # a light grey wall behind the candidate
SPEECH = (
    "Can you tell me the answer to question three? I think it is Paris. "
    "No, wait, the capital of Peru is Lima, and the answer to the next one is Madrid. "
    "Read me the fourth question again, slowly, please."
)

Image = NDArray[np.uint8]


@dataclass(frozen=True)
class Media:
    one_face: Path
    two_faces: Path
    no_face: Path
    dark: Path
    speech: Path
    silence: Path


def _fit(img: Image, width: int, height: int) -> Image:
    out = resize(img, (height, width), anti_aliasing=True, preserve_range=True)
    return np.clip(out, 0, 255).astype(np.uint8)


def _canvas() -> Image:
    return np.full((HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8)


def one_face() -> Image:
    frame = _canvas()
    face = _fit(data.astronaut(), 480, 480)
    frame[:, 80:560] = face
    return frame


def two_faces() -> Image:
    frame = _canvas()
    face = _fit(data.astronaut(), 320, 320)
    frame[80:400, :320] = face
    frame[80:400, 320:] = face
    return frame


def no_face() -> Image:
    # The suit, the badge and the helmet: a person-like picture with no face in it.
    return _fit(data.astronaut()[250:, :], WIDTH, HEIGHT)


def dark() -> Image:
    return (one_face().astype(np.float32) * 0.04).astype(np.uint8)


def _yuv420(rgb: Image) -> bytes:
    """Full-range (JPEG) Y'CbCr with 2x2-averaged chroma: what C420jpeg means."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b

    def half(p: NDArray[np.float32]) -> NDArray[np.float32]:
        h, w = p.shape
        q: NDArray[np.float32] = p.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        return q

    planes = (y, half(cb), half(cr))
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m(path: Path, frame: Image) -> Path:
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode()
    with path.open("wb") as out:
        out.write(header)
        for i in range(FRAMES):
            # A slow sway left and right, back where it started when the clip loops.
            shift = i if i < FRAMES // 2 else FRAMES - i
            out.write(b"FRAME\n" + _yuv420(np.roll(frame, shift * 2, axis=1)))
    return path


def write_silence(path: Path, seconds: float = 2.0, rate: int = 48_000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return path


def write_speech(path: Path, text: str = SPEECH) -> Path:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed: `apt-get install -y espeak-ng`")
    subprocess.run([espeak, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    return path


def build(folder: Path) -> Media:
    folder.mkdir(parents=True, exist_ok=True)
    return Media(
        one_face=write_y4m(folder / "one-face.y4m", one_face()),
        two_faces=write_y4m(folder / "two-faces.y4m", two_faces()),
        no_face=write_y4m(folder / "no-face.y4m", no_face()),
        dark=write_y4m(folder / "dark.y4m", dark()),
        speech=write_speech(folder / "speech.wav"),
        silence=write_silence(folder / "silence.wav"),
    )
