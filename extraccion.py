"""Text -> parking slots (plate, stay, covered preference).

Pure text on purpose: no torch or whisper import, so the assistant and the tests load it instantly.
"""

# Spoken names of each plate letter (Rioplatense Spanish). The first name is the plain one; the
# synthesizer speaks any of them and the extractor must understand all of them. One table for both.
LETTER_NAMES: dict[str, tuple[str, ...]] = {
    "A": ("a",),
    "B": ("be", "be larga", "be grande", "be alta", "be de burro"),
    "C": ("ce", "ce de casa"),
    "D": ("de", "de de dedo"),
    "E": ("e",),
    "F": ("efe",),
    "G": ("ge",),
    "H": ("hache",),
    "I": ("i", "i latina"),
    "J": ("jota",),
    "K": ("ka",),
    "L": ("ele",),
    "M": ("eme",),
    "N": ("ene",),
    "O": ("o",),
    "P": ("pe",),
    "Q": ("cu",),
    "R": ("erre", "ere"),
    "S": ("ese",),
    "T": ("te",),
    "U": ("u",),
    "V": ("ve", "uve", "ve corta", "ve chica", "ve de vaca"),
    "W": ("doble ve", "doble u", "doble uve", "uve doble"),
    "X": ("equis",),
    "Y": ("i griega", "y griega", "ye"),
    "Z": ("zeta", "seta"),
}
