#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into corpus/<target>/.

The CSV, NDJSON and coercion inputs start with a fixed block of option bytes, read in
order by `recon::fuzzing` (pipeline/src/fuzzing.rs); this script builds that block with
the same reads so each seed means what its name says. Run it from anywhere; it only
rewrites the generated seeds (config and rule seeds are copied from the repository).
"""

import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OPTION_BYTES = 64
COERCE_OPTION_BYTES = 40

ENCODINGS = {"utf-8": 0, "windows-1252": 2, "latin-1": 3, "utf-16": 4}
TIME_ZONES = {"UTC": 0, "America/New_York": 1, "Europe/Berlin": 2, "Asia/Kolkata": 3}
FORMATS = [
    "%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%d/%m/%y", "%j/%Y",
    "%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%z", "%s", "%e %B %Y",
]
TYPES = {"string": 0, "integer": 2, "decimal": 3, "boolean": 4, "date": 5, "timestamp": 6}


class Opts:
    def __init__(self):
        self.b = bytearray()

    def byte(self, v):
        self.b.append(v & 0xFF)

    def below(self, v):
        self.b += int(v).to_bytes(2, "little")

    def block(self, size):
        assert len(self.b) <= size, len(self.b)
        return bytes(self.b) + bytes(size - len(self.b))


def column(o, ty, header=True, csv=True, formats=(), index=None, required=False, p=12, s=2,
           frm=3):
    o.byte(TYPES[ty])
    if ty == "decimal":
        o.byte(p - 1)
        o.byte(s)
        if p == 38 and s == 9:
            o.byte(0)
    if ty in ("date", "timestamp"):
        o.byte(len(formats))
        for f in formats:
            o.byte(0)
            o.below(FORMATS.index(f))
    # from: 3 = "c<i>"; CSV 0 = "C<i>", 1 = "c0"; NDJSON 0 = "n.c<i>", 1 = "n.m.c<i>", 2 = "c0"
    o.byte(frm)
    if csv and not header:
        o.below(index - 1)
    o.byte(0 if required else 1)


def csv_seed(body, delim=",", quote='"', header=True, enc="utf-8", bom=0, gen_header=True,
             eol="\n", cols=(("string", {}),), tz="UTC", batch=8, max_lines=50,
             small_records=False, raw=200, trim=True, nulls=0, two_keys=False):
    o = Opts()
    o.byte(",;\t| ".index(delim))
    o.byte("\"'".index(quote))
    o.byte(1 if header else 0)
    o.below(ENCODINGS[enc])
    o.byte(bom)
    if header:
        o.byte(1 if gen_header else 0)
    o.below(["\n", "\r\n", "\r"].index(eol))
    o.below(len(cols) - 1)
    o.below(TIME_ZONES[tz])
    o.below(batch - 1)
    o.below(max_lines - 1)
    o.byte(0 if small_records else 1)
    o.below(raw - 1)
    o.byte(1 if trim else 0)
    o.below(nulls)
    for ty, kw in cols:
        column(o, ty, header=header, csv=True, **kw)
    if len(cols) > 1:
        o.byte(1 if two_keys else 0)
    return o.block(OPTION_BYTES) + body


def ndjson_seed(body, enc="utf-8", bom=0, cols=(("string", {}),), tz="UTC", batch=8,
                small_records=False, raw=200, trim=True, nulls=0):
    o = Opts()
    o.below(ENCODINGS[enc])
    o.byte(bom)
    o.below(len(cols) - 1)
    o.below(TIME_ZONES[tz])
    o.below(batch - 1)
    o.byte(0 if small_records else 1)
    o.below(raw - 1)
    o.byte(1 if trim else 0)
    o.below(nulls)
    for ty, kw in cols:
        column(o, ty, csv=False, **kw)
    return o.block(OPTION_BYTES) + body


def coerce_seed(ty, text, formats=(), tz="UTC", p=12, s=2):
    o = Opts()
    o.byte({"string": 0, "integer": 1, "decimal": 2, "boolean": 3, "date": 4, "timestamp": 5}[ty])
    if ty == "decimal":
        o.byte(p - 1)
        o.byte(s)
    o.below(TIME_ZONES[tz])
    if ty in ("date", "timestamp"):
        o.byte(len(formats))
        for f in formats:
            o.byte(0)
            o.below(FORMATS.index(f))
    return o.block(COERCE_OPTION_BYTES) + text.encode("utf-8")


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    typed = (("string", {}), ("integer", {}), ("decimal", {"p": 12, "s": 2}),
             ("boolean", {}), ("date", {"formats": ["%m/%d/%Y", "%Y-%m-%d"]}),
             ("timestamp", {}))
    write("csv", "typed_rows", csv_seed(
        b'1,42,12.30,yes,03/07/2024,2024-03-07T10:00:00Z\n'
        b'"2, quoted",-7,-0.5,no,2024-03-07,2024-03-07 10:00:00.5\n'
        b'3,"4""2",1e5,maybe,13/45/2024,2024-03-07T25:00:00Z\n'
        b',,,,,\n'
        b'5,99999999999999999999,1.234,t,02/29/2023,2024-03-07T10:00:00+05:30\n',
        cols=typed))
    write("csv", "multiline_and_broken_quotes", csv_seed(
        b'1,"multi\nline"\n2,"never closed\n3,fine\n4,"a"b\n5,x,extra\n\n6,"\r\n"\n',
        cols=(("string", {}), ("string", {})), max_lines=3))
    write("csv", "semicolon_cp1252_crlf", csv_seed(
        b'Caf\xe9;\x80 100;Stra\xdfe\r\n"D\xfcrer";"x;y";\r\n',
        delim=";", enc="windows-1252", eol="\r\n",
        cols=(("string", {}), ("string", {}), ("string", {}))))
    write("csv", "tab_latin1_no_header", csv_seed(
        b'a\t1\t2024-01-01 00:00:00\n\xe9\t\t1970-01-01T00:00:00+01:00\nb\tx\n',
        delim="\t", enc="latin-1", header=False,
        cols=(("string", {"index": 1}), ("integer", {"index": 2}),
              ("timestamp", {"index": 3})), tz="America/New_York"))
    write("csv", "utf16_with_bom", csv_seed(
        "1,Zoë\n2,\"Ünïcödé, \"\"quoted\"\"\"\n".encode("utf-8"), enc="utf-16", bom=2,
        cols=(("string", {}), ("string", {}))))
    write("csv", "utf8_bom_and_hostile_bytes", csv_seed(
        b'1,a\x00b\n2,\xef\xbb\xbfmid-bom\n3,\xff\xfe\n4,ok\r5,cr only\r\n',
        bom=1, cols=(("string", {}), ("string", {}))))
    write("csv", "pipe_single_quote_keys", csv_seed(
        b"k1|'x|y'|1\nk1|'it''s'|2\n|missing key|3\nk3|''|\n",
        delim="|", quote="'", two_keys=True,
        cols=(("string", {}), ("string", {}), ("integer", {"required": True}))))
    write("csv", "small_record_limit", csv_seed(
        b'1,' + b'x' * 1500 + b'\n2,"' + b'y' * 1500 + b'"\n3,ok\n',
        small_records=True, raw=10, cols=(("string", {}), ("string", {}))))
    write("csv", "own_header_case", csv_seed(
        b'C1 , c0\n"a",b\n', gen_header=False,
        cols=(("string", {}), ("string", {"frm": 0}))))

    typed_json = (("string", {}), ("integer", {}), ("decimal", {"p": 10, "s": 3}),
                  ("boolean", {}), ("date", {}), ("timestamp", {}))
    write("ndjson", "typed_lines", ndjson_seed(
        b'{"c0": "a", "c1": 42, "c2": 1.5, "c3": true, "c4": "2024-01-01", "c5": "2024-01-01T00:00:00Z"}\n'
        b'{"c0": "b", "c1": "7", "c2": "-0.125", "c3": "no", "c4": null, "c5": "2024-01-01 12:00:00"}\n'
        b'{"c0": "c", "c1": 1e3, "c2": 1.2345, "c3": "maybe", "c4": "2023-02-29"}\n'
        b'{"c0": null}\n{"c1": 1}\n\n',
        cols=typed_json))
    write("ndjson", "bad_lines", ndjson_seed(
        b'[1,2]\n42\n"s"\nnull\n{"c0": "x", "c1": {"nested": 1}}\n{"c0": "t\n{"c0": "\\ud800"}\n'
        b'{"c0": "a\\u0000b"}\n{"c0": "ok"} trailing\n{"c0": ["a"]}\r\n',
        cols=(("string", {}), ("string", {}))))
    write("ndjson", "nested_paths", ndjson_seed(
        b'{"c0": "k", "n": {"c1": "x", "m": {"c2": 5}}}\n{"c0": "k2", "n": "not an object"}\n'
        b'{"c0": "k3", "n": {"c1": [1]}, "c0": "dup"}\n',
        cols=(("string", {}), ("string", {"frm": 0}), ("integer", {"frm": 1}))))
    write("ndjson", "deep_nesting", ndjson_seed(
        b'{"c0": "d", "skip": ' + b'[' * 200 + b']' * 200 + b'}\n{"c0": ' + b'{"a":' * 150 + b'1' + b'}' * 150 + b'}\n'))
    write("ndjson", "cp1252_with_bom", ndjson_seed(
        b'{"c0": "Caf\xe9 \x80"}\n', enc="windows-1252", bom=1))
    write("ndjson", "utf16", ndjson_seed(
        '{"c0": "Zoë"}\n{"c0": "日本"}\n'.encode("utf-8"), enc="utf-16", bom=3))

    for name, args in {
        "integer": ("integer", "+9223372036854775807"),
        "integer_overflow": ("integer", "-9223372036854775809"),
        "decimal": ("decimal", "-1234567890.12", (), "UTC", 12, 2),
        "decimal_max": ("decimal", "99999999999999999999999999999.999999999", (), "UTC", 38, 9),
        "boolean": ("boolean", "YES"),
        "date_iso": ("date", "0000-01-01"),
        "date_us": ("date", "02/29/2024", ["%m/%d/%Y"]),
        "date_two_formats": ("date", "29.02.2023", ["%d.%m.%Y", "%Y%m%d"]),
        "date_epoch": ("date", "253402300799", ["%s"]),
        "timestamp_iso": ("timestamp", "2024-03-31T02:30:00.123456789", (), "Europe/Berlin"),
        "timestamp_offset": ("timestamp", "9999-12-31T23:59:59+00:01"),
        "timestamp_ampm": ("timestamp", "03/10/2024 02:30 AM", ["%m/%d/%Y %I:%M %p"], "America/New_York"),
        "timestamp_epoch": ("timestamp", "-62135596800", ["%s"]),
        "string": ("string", " Zoë \u00a0"),
    }.items():
        write("coerce", name, coerce_seed(*args))

    os.makedirs(os.path.join(HERE, "corpus", "config"), exist_ok=True)
    for src in ["fixtures/demo/recon.toml", "fixtures/febrl3/recon.toml",
                "fixtures/fake_1000/recon.toml"]:
        shutil.copy(os.path.join(REPO, src),
                    os.path.join(HERE, "corpus", "config", src.split("/")[1] + ".toml"))
    write("config", "minimal.toml", b'''[run]
memory_limit_mb = 64

[[source]]
name = "crm"
system = "crm"
entity = "customer"
path = "a.csv"
key = ["id", "day"]
updated_at = "day"
[source.csv]
delimiter = ";"
encoding = "latin-1"
[source.columns]
id = { from = "Id", required = true }
day = { type = "date", formats = ["%m/%d/%Y"] }
amount = { type = "decimal(12,2)" }
''')

    os.makedirs(os.path.join(HERE, "corpus", "rule_file"), exist_ok=True)
    for src in ["rules/builtin/email_valid.sql", "rules/builtin/reference_exists.sql",
                "rules/builtin/stale_record.sql", "fixtures/demo/rules/invoice_currency.sql"]:
        shutil.copy(os.path.join(REPO, src),
                    os.path.join(HERE, "corpus", "rule_file", os.path.basename(src)))
    write("rule_file", "broken_header.sql",
          b"-- id: x\n-- id: y\n-- severity: loud\n-- param.n: {{n}}\nSELECT {{n}} FROM {{source}};\n")
    write("rule_file", "not_a_query.sql",
          b"-- id: cp\n-- description: d\n-- dimension: validity\n-- severity: warn\n-- source: *\n"
          b"-- warn_below: 99%\nCOPY (SELECT 1) TO '/tmp/x';\n")
    # Regression: a quoted "Line: N" in a parser message, with N near usize::MAX.
    write("rule_file", "line_in_message.sql",
          b"-- id: ln\n-- description: d\n-- dimension: validity\n-- severity: warn\n-- source: *\n"
          b"SELECT 1 FROM t WHERE x 'Line: 18446744073709551615'\n")


if __name__ == "__main__":
    main()
