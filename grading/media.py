"""The student's own figures and sound, handed back in the feedback without trusting the submitted outputs.

A demonstration cell (tagged ``skip-when-grading``) is not run by the grader, so its figure or audio player
would be missing from the feedback. The submitted notebook has them, but its outputs are the student's to
forge: HTML with scripts, huge blobs, anything. Only two things are kept, each rebuilt from decoded bytes:

- PNG images (``image/png``): kept when the bytes start with the PNG signature;
- audio players (``text/html`` holding one ``<audio>`` element with a base64 ``data:`` source): the bytes
  are decoded, must be a WAV (RIFF/WAVE) or MP3 (ID3 tag or an MPEG frame header), and a new player is
  written around them. Nothing else of the HTML survives.

Sizes are capped (per item and per cell), so a submission cannot make the feedback heavy.
"""
import base64
import binascii
import re

import nbformat

MAX_ITEM = 2_000_000          # bytes of one decoded image or sound
MAX_CELL = 4_000_000          # bytes kept for one cell
PNG = b"\x89PNG\r\n\x1a\n"
_AUDIO_SRC = re.compile(r"""src\s*=\s*["']data:(audio/[\w.+-]+);base64,([A-Za-z0-9+/=\s]+)["']""")


def _decode(text):
    if not isinstance(text, str) or len(text) > MAX_ITEM * 4 // 3 + 16:
        return None
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None


def sound_kind(data):
    """"audio/wav" or "audio/mpeg" when ``data`` starts like one, else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def player(data, kind):
    """The HTML of an audio player around ``data`` (bytes), written by us."""
    b64 = base64.b64encode(data).decode("ascii")
    return f'<audio controls preload="none"><source src="data:{kind};base64,{b64}" type="{kind}"/></audio>'


def _image(data_png):
    data = _decode(data_png)
    if data is None or not data.startswith(PNG) or len(data) > MAX_ITEM:
        return None, 0
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(data).decode("ascii"),
                                                        "text/plain": "<a figure>"}), len(data)


def _sound(html):
    if isinstance(html, list):
        html = "".join(html)
    if not isinstance(html, str) or html.count("<audio") != 1:
        return None, 0
    m = _AUDIO_SRC.search(html)
    data = _decode(m.group(2)) if m else None
    if data is None or len(data) > MAX_ITEM:
        return None, 0
    kind = sound_kind(data)
    if kind is None:
        return None, 0
    return nbformat.v4.new_output("display_data", data={"text/html": player(data, kind),
                                                        "text/plain": "<a sound>"}), len(data)


def kept_outputs(outputs):
    """The outputs worth handing back from a submitted demonstration cell (see the module docstring)."""
    kept, total = [], 0
    for out in outputs or []:
        if not isinstance(out, dict) or out.get("output_type") not in ("display_data", "execute_result"):
            continue
        data = out.get("data") if isinstance(out.get("data"), dict) else {}
        if "image/png" in data:
            item, size = _image(data["image/png"])
        elif "text/html" in data:
            item, size = _sound(data["text/html"])
        else:
            continue
        if item is not None and total + size <= MAX_CELL:
            kept.append(item)
            total += size
    return kept
