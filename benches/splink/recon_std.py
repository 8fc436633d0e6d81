"""Python ports of recon's standardisers and blocking-key functions.

Each function mirrors the Rust function named in its docstring
(`pipeline/src/normalize.rs`, `pipeline/src/matching/block.rs`,
`pipeline/src/matching/compare.rs`), so that Splink sees exactly the values recon
compares and blocks on. All functions take a string (or None) and return a string or
None; None means "no value" (recon's null level / no blocking key).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from functools import lru_cache

__all__ = [
    "fold",
    "company_name",
    "address",
    "email",
    "email_parts",
    "phone",
    "postcode",
    "soundex",
    "std_text",
    "std_date",
    "key_email",
    "key_phone",
    "key_first_token",
    "key_prefix",
    "key_year",
    "key_exact",
    "key_company",
    "key_postcode",
    "phone_last7",
]

_TRANSLIT = {
    "ß": "ss",
    "æ": "ae",
    "Æ": "ae",
    "œ": "oe",
    "Œ": "oe",
    "ø": "o",
    "Ø": "o",
    "ł": "l",
    "Ł": "l",
    "đ": "d",
    "Đ": "d",
    "ð": "d",
    "Ð": "d",
    "þ": "th",
    "Þ": "th",
    "ı": "i",
}
_DROP = {"'", "’", "`", "´"}
_ASCII_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _fold_slow(s: str) -> str:
    out: list[str] = []
    pending = False

    def push(text: str) -> None:
        nonlocal pending
        if pending and out:
            out.append(" ")
        pending = False
        out.append(text)

    for c in unicodedata.normalize("NFKD", s):
        if unicodedata.category(c) in ("Mn", "Mc", "Me"):
            continue
        t = _TRANSLIT.get(c)
        if t is not None:
            push(t)
        elif c == "&":
            pending = True
            push("and")
            pending = True
        elif c in _DROP:
            continue
        elif c.isalnum():
            push(c.lower())
        else:
            pending = True
    return "".join(out)


@lru_cache(maxsize=1 << 18)
def fold(s: str) -> str:
    """normalize::fold: NFKD, accents removed, a few letters transliterated, lower
    case, every run of punctuation/whitespace one space, trimmed, `&` → `and`."""
    if s.isascii():
        t = s.replace("'", "").replace("`", "").lower()
        t = t.replace("&", " and ")
        return _ASCII_NON_ALNUM.sub(" ", t).strip()
    return _fold_slow(s)


LEGAL_SUFFIXES = frozenset(
    "inc incorporated llc llp lp ltd limited gmbh mbh corp corporation co company sa "
    "sas sarl srl spa ag kg bv nv plc pty pte oy ab as aps kk se sl lda cv sia kft doo "
    "ohg ug eg ev the".split()
)


@lru_cache(maxsize=1 << 18)
def company_name(s: str) -> str:
    """normalize::company_name: folded, single letters joined ("S.A." → "sa"), legal
    forms removed from the end repeatedly, a leading "the" dropped."""
    tokens: list[str] = []
    letters = ""
    for t in fold(s).split(" "):
        if not t:
            continue
        if len(t) == 1 and t.isalpha():
            letters += t
            continue
        if letters:
            tokens.append(letters)
            letters = ""
        tokens.append(t)
    if letters:
        tokens.append(letters)
    end = len(tokens)
    while end > 1 and tokens[end - 1] in LEGAL_SUFFIXES:
        end -= 1
    start = 1 if end > 1 and tokens[0] == "the" else 0
    return " ".join(tokens[start:end])


ADDRESS_WORDS = {
    "st": "street",
    "str": "strasse",
    "ave": "avenue",
    "av": "avenue",
    "rd": "road",
    "ln": "lane",
    "dr": "drive",
    "blvd": "boulevard",
    "ct": "court",
    "pl": "place",
    "sq": "square",
    "hwy": "highway",
    "pkwy": "parkway",
    "cres": "crescent",
    "ter": "terrace",
    "tce": "terrace",
    "cir": "circle",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
    "apt": "apartment",
    "ste": "suite",
    "fl": "floor",
    "bldg": "building",
}


@lru_cache(maxsize=1 << 18)
def address(s: str) -> str:
    """normalize::address: folded, street abbreviations spelt out."""
    out = []
    for t in fold(s).split(" "):
        full = ADDRESS_WORDS.get(t)
        if full is not None:
            out.append(full)
        elif len(t) > 4 and t.endswith("str"):
            out.append(t + "asse")
        else:
            out.append(t)
    return " ".join(out)


def email(s: str | None) -> str | None:
    """normalize::email / Standardize::Email: trimmed, lower-cased."""
    if s is None:
        return None
    t = s.strip()
    return t.lower() if t else None


def email_parts(std: str | None) -> tuple[str | None, str | None]:
    """The local part and domain the `email` comparison method uses
    (compare.rs: `rsplit_once('@')` of the standardised value, both non-empty)."""
    if std is None or "@" not in std:
        return None, None
    local, _, domain = std.rpartition("@")
    if not local or not domain:
        return None, None
    return local, domain


_CALLING = {}
for _cc in (
    "US CA PR BS BB JM TT AG DM GD KN LC VC BM KY VG VI TC AI MS GU AS MP SX DO".split()
):
    _CALLING[_cc] = "1"
for _cc in "GB UK GG JE IM".split():
    _CALLING[_cc] = "44"
_CALLING.update(
    {
        "DE": "49",
        "FR": "33",
        "ES": "34",
        "IT": "39",
        "NL": "31",
        "BE": "32",
        "CH": "41",
        "AT": "43",
        "IE": "353",
        "PT": "351",
        "LU": "352",
        "SE": "46",
        "NO": "47",
        "DK": "45",
        "FI": "358",
        "PL": "48",
        "CZ": "420",
        "GR": "30",
        "AU": "61",
        "NZ": "64",
        "JP": "81",
        "CN": "86",
        "IN": "91",
        "BR": "55",
        "MX": "52",
        "AR": "54",
        "ZA": "27",
        "SG": "65",
        "HK": "852",
        "KR": "82",
        "IL": "972",
        "AE": "971",
        "TR": "90",
        "RU": "7",
    }
)
_NOT_DIGIT = re.compile(r"[^0-9]")
_SPLIT_EXT = re.compile(r"[x#]")


def phone(s: str | None, country: str | None) -> str | None:
    """normalize::phone: `+<country code><number>` when it can be placed, else the
    digits; extensions dropped; None without digits."""
    if s is None:
        return None
    t = s.strip()
    if not t:
        return None
    lower = "".join(c.lower() if c.isascii() else c for c in t)
    main = _SPLIT_EXT.split(lower, 1)[0].split("ext", 1)[0]
    trimmed = main.lstrip()
    digits = "".join(c for c in main if "0" <= c <= "9")
    if not digits:
        return None
    if trimmed.startswith("+"):
        return "+" + digits
    if digits.startswith("00") and len(digits) - 2 >= 8:
        return "+" + digits[2:]
    cc = _CALLING.get(country.strip().upper()) if country is not None else None
    if cc == "1":
        if len(digits) == 11 and digits.startswith("1"):
            return "+" + digits
        return "+1" + digits
    if cc is not None:
        national = digits[1:] if digits.startswith("0") else digits
        if digits.startswith(cc) and len(digits) > 9 + max(len(cc) - 1, 0):
            return "+" + digits
        return "+" + cc + national
    return digits


def phone_last7(std: str | None) -> str | None:
    """The `phone` comparison method's second level: the last 7 digits of the
    standardised number (None when it has fewer)."""
    if std is None:
        return None
    d = _NOT_DIGIT.sub("", std)
    return d[-7:] if len(d) >= 7 else None


def postcode(s: str) -> str:
    """normalize::postcode: upper case, letters and digits only."""
    return "".join(c.upper() for c in s if c.isalnum())


_SOUNDEX = {}
for _letters, _d in (("bfpv", "1"), ("cgjkqsxz", "2"), ("dt", "3"), ("l", "4"), ("mn", "5"), ("r", "6")):
    for _c in _letters:
        _SOUNDEX[_c] = _d


@lru_cache(maxsize=1 << 18)
def soundex(s: str) -> str | None:
    """block.rs `soundex`: letter + 3 digits of the first word of the folded text."""
    word = fold(s).split(" ", 1)[0]
    letters = [c for c in word if c.isascii() and c.isalpha()]
    if not letters:
        return None
    first = letters[0]
    out = first.upper()
    last = _SOUNDEX.get(first)
    for c in letters[1:]:
        if len(out) == 4:
            break
        k = _SOUNDEX.get(c)
        if k is not None and k != last:
            out += k
        if c not in "hw":
            last = k
    return out.ljust(4, "0")


# --- Standardize::* of compare.rs (None for empty results) ---------------------------


def _none_if_empty(v: str | None) -> str | None:
    return v if v else None


def std_text(s: str | None) -> str | None:
    """Standardize::Text (the default for exact, jaro_winkler, damerau_levenshtein)."""
    if s is None or not s.strip():
        return None
    return _none_if_empty(fold(s.strip()))


def std_company(s: str | None) -> str | None:
    if s is None or not s.strip():
        return None
    return _none_if_empty(company_name(s.strip()))


def std_address(s: str | None) -> str | None:
    if s is None or not s.strip():
        return None
    return _none_if_empty(address(s.strip()))


def std_postcode(s: str | None) -> str | None:
    if s is None or not s.strip():
        return None
    return _none_if_empty(postcode(s.strip()))


def std_phone(s: str | None, country: str | None) -> str | None:
    if s is None or not s.strip():
        return None
    return _none_if_empty(phone(s.strip(), country))


def std_date(s: str | None) -> str | None:
    """Standardize::Date: ISO date (first 10 chars), `%Y%m%d` or `%m/%d/%Y`."""
    if s is None or not s.strip():
        return None
    t = s.strip()
    for text, fmt in ((t[:10], "%Y-%m-%d"), (t, "%Y%m%d"), (t, "%m/%d/%Y")):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


# --- blocking keys (block.rs key_part); None = no key ---------------------------------


def key_exact(s: str | None) -> str | None:
    return None if s is None else _none_if_empty(fold(s))


def key_company(s: str | None) -> str | None:
    return None if s is None else _none_if_empty(company_name(s))


def key_first_token(s: str | None) -> str | None:
    return None if s is None else _none_if_empty(company_name(s).split(" ", 1)[0])


def key_prefix(s: str | None, n: int) -> str | None:
    return None if s is None else _none_if_empty(fold(s).replace(" ", "")[:n])


def key_email(s: str | None) -> str | None:
    return email(s)


def key_phone(s: str | None) -> str | None:
    if s is None:
        return None
    d = "".join(c for c in s if "0" <= c <= "9")
    if len(d) < 7:
        return None
    return d[-9:]


def key_postcode(s: str | None) -> str | None:
    return None if s is None else _none_if_empty(postcode(s))


def key_year(s: str | None) -> str | None:
    if s is None:
        return None
    v = "".join(c for c in s.strip()[:4] if "0" <= c <= "9")
    return v if len(v) == 4 else None


def key_soundex(s: str | None) -> str | None:
    return None if s is None else soundex(s)


def _selftest() -> None:
    # The Rust unit tests of normalize.rs and block.rs, ported.
    assert fold("  Café  Müller—GmbH ") == "cafe muller gmbh"
    assert fold("Straße & Söhne") == "strasse and sohne"
    assert fold("O'Brien") == "obrien"
    assert fold("ÆØÅ") == "aeoa", fold("ÆØÅ")
    assert fold("Łódź") == "lodz"
    assert fold("ＡＣＭＥ") == "acme"
    assert fold("a&b") == "a and b"
    assert company_name("ACME Corp.") == "acme"
    assert company_name("Acme Corporation") == "acme"
    assert company_name("Globex, Inc.") == "globex"
    assert company_name("Duff Beer S.A.") == "duff beer"
    assert company_name("Café Müller GmbH") == "cafe muller"
    assert company_name("Dunder Mifflin Paper Company, Inc.") == "dunder mifflin paper"
    assert company_name("The Company") == "the"
    assert company_name("Inc") == "inc"
    assert company_name("") == ""
    assert address("100 Main St.") == "100 main street"
    assert address("Friedrichstr 68") == "friedrichstrasse 68"
    assert address("Fichtenstraße 36") == "fichtenstrasse 36"
    assert address("12000 Coors Blvd NW") == "12000 coors boulevard northwest"
    assert phone("+1 217-555-0100", None) == "+12175550100"
    assert phone("(217) 555-0100", "US") == "+12175550100"
    assert phone("1-217-555-0100", "US") == "+12175550100"
    assert phone("030 5550 1234", "DE") == "+493055501234"
    assert phone("0049 30 5550 1234", "DE") == "+493055501234"
    assert phone("+1 212 555 0124 x 12", None) == "+12125550124"
    assert phone("call me", None) is None
    assert postcode("wc2h 0aw") == "WC2H0AW"
    assert soundex("Robert") == "R163"
    assert soundex("Rupert") == "R163"
    assert soundex("Ashcraft") == "A261"
    assert soundex("Tymczak") == "T522"
    assert soundex("Pfister") == "P236"
    assert soundex("Lee") == "L000"
    assert soundex("123") is None
    assert std_date("19560409") == "1956-04-09"
    assert std_date("2020-01-02T03:04:05Z") == "2020-01-02"
    assert email_parts("ap@acme.com") == ("ap", "acme.com")
    assert key_year(" 19560409") == "1956"
    assert key_phone("+1 (217) 555-0100") == "175550100"
    assert key_phone("555-01") is None


if __name__ == "__main__":
    _selftest()
    print("recon_std: ok")
