"""How many SMS segments a text takes, and in which encoding (GSM 03.38 7-bit or UCS-2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# GSM 03.38 basic character set (one septet each).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: an escape septet plus the character, so two septets each.
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SmsSegments:
    """A text's length as the SMS network counts it, and the parts it is sent in."""

    encoding: SmsEncoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int

    @property
    def per_segment(self) -> int:
        """How much one part holds at this length (160/153 or 70/67)."""
        if self.encoding is SmsEncoding.GSM7:
            return GSM_SINGLE if self.segments <= 1 else GSM_PART
        return UCS2_SINGLE if self.segments <= 1 else UCS2_PART


def _parts(units: int, single: int, part: int) -> int:
    if units == 0:
        return 0
    if units <= single:
        return 1
    return -(-units // part)


def count_segments(text: str) -> SmsSegments:
    """GSM-7 when every character is in the GSM alphabet (160 alone, 153 per part when
    concatenated; extension characters count twice), else UCS-2 (70, 67 per part)."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        return SmsSegments(SmsEncoding.GSM7, units, _parts(units, GSM_SINGLE, GSM_PART))
    # Characters beyond the BMP (most emoji) take two UTF-16 code units.
    units = len(text.encode("utf-16-le")) // 2
    return SmsSegments(SmsEncoding.UCS2, units, _parts(units, UCS2_SINGLE, UCS2_PART))
