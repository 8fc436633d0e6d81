#!/usr/bin/env python3
"""Matching benchmark: recon vs Splink 5 (DuckDB backend) on the same inputs.

    python benches/splink/bench_matching.py febrl3 fake_1000 gen:100000 [gen:1000000]

For each dataset it

1. prepares the records Splink needs from the dataset's recon.toml: the sources of the
   matched entity read from their CSV files with the columns recon uses (mapped to
   recon's canonical names, malformed rows dropped as recon quarantines them), every
   comparison field standardised exactly as recon standardises it (ports of recon's
   normalisers in recon_std.py), and one column per blocking key (recon's key
   functions). This runs in its own process and writes a Parquet file;
2. runs Splink in a separate process under /usr/bin/time -v: comparisons and blocking
   rules translated from the recon config, u from random sampling, m by EM once per
   blocking rule, the prior from deterministic rules, predict, and connected-components
   clustering at recon's match_probability. Timed: train + predict + cluster;
3. runs `recon run` under /usr/bin/time -v and `recon evaluate` on the same dataset;
4. scores both tools' clusters against truth.csv the way `recon evaluate` does
   (pairwise precision / recall / F1 within a source, across sources and overall, over
   the records present in both the clusters and the truth),

then prints a Markdown table and writes benches/results/matching-<date>.json.

Datasets: `febrl3` and `fake_1000` (fixtures/), and `gen:N`: N customers from the
generator (`target/release/generate --customers N --seed 1`) in benches/data/genN,
generated when missing. For generated data only the customer entity (CRM accounts and
billing customers) is matched by Splink and scored for both tools.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = REPO / "benches" / "data"
RESULTS = REPO / "benches" / "results"
AS_OF = "2026-11-20"

sys.path.insert(0, str(HERE))
import recon_std as rs  # noqa: E402

# Deterministic rules for estimate_probability_two_random_records_match, on the
# standardised comparison columns, with the recall we assume for them (chosen a priori,
# as in Splink's tutorials; not tuned against the truth).
DETERMINISTIC = {
    "febrl3": (
        [
            "l.soc_sec_id = r.soc_sec_id",
            "l.given_name = r.given_name and l.surname = r.surname"
            " and l.date_of_birth = r.date_of_birth",
            "l.given_name = r.surname and l.surname = r.given_name"
            " and l.date_of_birth = r.date_of_birth",
        ],
        0.9,
    ),
    # Modelled on the deterministic rules of Splink's fake_1000 tutorial.
    "fake_1000": (
        [
            "l.first_name = r.first_name and levenshtein(r.dob, l.dob) <= 1",
            "l.surname = r.surname and levenshtein(r.dob, l.dob) <= 1",
            "l.first_name = r.first_name and levenshtein(r.surname, l.surname) <= 2",
            "l.email = r.email",
        ],
        0.7,
    ),
    "gen": (
        [
            "l.email = r.email",
            "l.name = r.name and l.postal_code = r.postal_code",
            "l.phone = r.phone",
        ],
        0.8,
    ),
}


# ------------------------------------------------------------------------------------
# datasets
# ------------------------------------------------------------------------------------


class Dataset:
    def __init__(self, spec: str, args):
        self.spec = spec
        if spec in ("febrl3", "fake_1000"):
            self.name = spec
            self.kind = spec
            self.dir = REPO / "fixtures" / spec
            self.entity = "person"
            self.truth = self.dir / "truth.csv"
        elif spec.startswith("gen:"):
            n = int(spec.split(":", 1)[1].replace("_", ""))
            self.name = f"gen{n}"
            self.kind = "gen"
            self.customers = n
            self.dir = DATA / self.name
            self.entity = "customer"
            self.truth = self.dir / "truth_customer.csv"
        else:
            raise SystemExit(f"unknown dataset {spec!r}: febrl3, fake_1000 or gen:N")
        self.config = self.dir / "recon.toml"
        self.work = DATA / "splink-work" / self.name
        self.prepared = self.work / "prepared.parquet"
        self.recon_out = DATA / "recon-out" / self.name

    def ensure(self, generate: Path) -> None:
        if self.kind != "gen":
            return
        if not (self.dir / "recon.toml").exists():
            print(f"[{self.name}] generating {self.customers} customers into {self.dir}",
                  flush=True)
            subprocess.run(
                [str(generate), "--customers", str(self.customers), "--seed", "1",
                 "--out", str(self.dir)],
                check=True,
            )
        if not self.truth.exists():
            # Only the matched entity's records: recon evaluate and our scorer ignore
            # records missing from the truth, so both tools are scored on customers.
            srcs = set(entity_sources(load_config(self.config), self.entity))
            tmp = self.truth.with_suffix(".tmp")
            with open(self.dir / "truth.csv", encoding="utf-8") as f, open(tmp, "w") as o:
                o.write(f.readline())
                for line in f:
                    if line.split(",", 1)[0] in srcs:
                        o.write(line)
            tmp.rename(self.truth)


def load_config(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def entity_sources(cfg: dict, entity: str) -> list[str]:
    e = next(x for x in cfg.get("entity", []) if x["name"] == entity)
    if e.get("sources"):
        return list(e["sources"])
    return [s["name"] for s in cfg.get("source", []) if s.get("entity") == entity]


def entity_cfg(cfg: dict, entity: str) -> dict:
    e = dict(next(x for x in cfg["entity"] if x["name"] == entity))
    e.setdefault("link", "both")
    e.setdefault("match_probability", 0.9)
    e.setdefault("review_probability", 0.5)
    e.setdefault("u_sample_pairs", 1_000_000)
    e.setdefault("em_max_iterations", 100)
    e.setdefault("seed", 42)
    e.setdefault("country_field", "country")
    e.setdefault("max_block_size", 2000)
    return e


# ------------------------------------------------------------------------------------
# reading a CSV source as recon's extract stage does
# ------------------------------------------------------------------------------------


def _scan_quoted(lines: list[str], i: int, d: str, q: str, max_lines: int):
    """Port of recon's csv::scan for a record starting on line i that contains a quote.
    Returns (fields, n_lines, bad_quote) or None for an unbalanced quote."""
    fields: list[str] = []
    cur: list[str] = []
    in_q = after_q = False
    field_start = True
    bad_quote = False
    n_lines = 1
    j = i
    line = lines[j]
    k = 0
    while True:
        if k >= len(line):
            if in_q:
                j += 1
                n_lines += 1
                if j >= len(lines) or n_lines > max_lines:
                    return None
                cur.append("\n")
                line = lines[j]
                k = 0
                continue
            fields.append("".join(cur))
            return fields, n_lines, bad_quote
        c = line[k]
        if in_q:
            if c == q:
                if k + 1 < len(line) and line[k + 1] == q:
                    cur.append(q)
                    k += 2
                    continue
                in_q = False
                after_q = True
                k += 1
                continue
            cur.append(c)
            k += 1
            continue
        if c == d:
            fields.append("".join(cur))
            cur = []
            field_start = True
            after_q = False
            k += 1
            continue
        if after_q:
            if c not in " \t":
                bad_quote = True
            # split_fields skips text after the closing quote
        elif c == q and field_start:
            in_q = True
        else:
            cur.append(c)
        field_start = False
        k += 1


def read_csv_like_recon(path: Path, delimiter: str = ",", quote: str = '"',
                        max_lines: int = 50) -> tuple[list[str], list[list[str]], int]:
    """Header and well-formed records of a CSV file, with recon's recovery: a record
    with the wrong field count or a bad quote is dropped; a quote that never closes
    (or leaves a malformed multi-line record) drops only the line it opened on."""
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    del text
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    i = 0
    while i < len(lines) and lines[i] == "":
        i += 1
    res = _scan_quoted(lines, i, delimiter, quote, max_lines)
    if res is None:
        raise SystemExit(f"{path}: unbalanced quote in the header")
    header = [h.strip().lstrip("\ufeff") for h in res[0]]
    i += res[1]
    expected = len(header)
    rows: list[list[str]] = []
    bad = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if line == "":
            i += 1
            continue
        if quote not in line:
            f = line.split(delimiter)
            if len(f) == expected:
                rows.append(f)
            else:
                bad += 1
            i += 1
            continue
        res = _scan_quoted(lines, i, delimiter, quote, max_lines)
        if res is None:
            bad += 1
            i += 1
            continue
        fields, used, bad_quote = res
        if used > 1 and (len(fields) != expected or bad_quote):
            bad += 1
            i += 1
            continue
        if bad_quote or len(fields) != expected:
            bad += 1
        else:
            rows.append(fields)
        i += used
    return header, rows, bad


def _valid_temporal(values, ty: str, formats: list[str]):
    """Boolean mask: value is null or parses with one of the formats (chrono-like)."""
    import pandas as pd

    s = pd.Series(values, dtype="object")
    ok = s.isna().to_numpy().copy()
    if not formats:
        if ty == "date":
            formats = ["%Y-%m-%d"]
        else:
            formats = ["ISO8601"]
    for fmt in formats:
        todo = ~ok
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce")
        ok[todo] = parsed.notna().to_numpy()
    return ok


def read_source(src: dict, base: Path, fields: list[str]):
    """The accepted rows of one source: dict canonical column → list of str|None, plus
    the record key. Mirrors recon's extract stage for CSV sources."""
    import numpy as np

    path = base / src["path"]
    csvopt = src.get("csv", {})
    header, rows, bad = read_csv_like_recon(
        path,
        delimiter=csvopt.get("delimiter", ","),
        quote=csvopt.get("quote", '"'),
        max_lines=csvopt.get("max_lines_per_record", 50),
    )
    cols = src["columns"]
    key = src["key"]
    null_values = set(src.get("null_values", [""]))
    trim = src.get("trim", True)
    idx = {h: i for i, h in enumerate(header)}
    n = len(rows)
    keep = np.ones(n, dtype=bool)
    out: dict[str, list] = {}
    wanted = set(fields) | {key}
    for canon, spec in cols.items():
        spec = spec or {}
        export = spec.get("from", canon)
        if export not in idx:
            raise SystemExit(f"{path}: column {export!r} not in the header")
        ci = idx[export]
        required = spec.get("required", False) or canon == key
        ty = spec.get("type", "string")
        if canon not in wanted and not required and ty not in ("date", "timestamp",
                                                                "integer"):
            continue
        vals = []
        for r in rows:
            v = r[ci]
            if trim:
                v = v.strip()
            vals.append(None if v in null_values else v)
        if required:
            keep &= np.array([v is not None for v in vals], dtype=bool)
        if ty in ("date", "timestamp"):
            keep &= _valid_temporal(vals, ty, spec.get("formats", []))
        elif ty == "integer":
            keep &= np.array([v is None or re.fullmatch(r"[+-]?\d+", v) is not None
                              for v in vals], dtype=bool)
        if ty == "date" and canon in wanted:
            # staged as a Date32, read back by the matcher as YYYY-MM-DD
            fmts = spec.get("formats", []) or ["%Y-%m-%d"]
            conv = []
            for v in vals:
                d = None
                if v is not None:
                    for fmt in fmts:
                        try:
                            d = dt.datetime.strptime(v, fmt).date().isoformat()
                            break
                        except ValueError:
                            continue
                conv.append(d)
            vals = conv
        if canon in wanted:
            out[canon] = vals
    dropped = int(n - keep.sum())
    for c in out:
        out[c] = [v for v, k in zip(out[c], keep) if k]
    return out, {"rows": n, "malformed_lines": bad, "rows_rejected": dropped}


# ------------------------------------------------------------------------------------
# preparation: standardised comparison columns and blocking keys
# ------------------------------------------------------------------------------------

KEY_FUNCS = {
    "exact": rs.key_exact,
    "company": rs.key_company,
    "first_token": rs.key_first_token,
    "soundex": rs.key_soundex,
    "email": rs.key_email,
    "phone": rs.key_phone,
    "postcode": rs.key_postcode,
    "year": rs.key_year,
}


def parse_key(expr: str) -> tuple[str, str, int | None]:
    m = re.fullmatch(r"\s*(\w+)\s*\(\s*(\w+)\s*(?:,\s*(\d+)\s*)?\)\s*", expr)
    if not m:
        return "exact", expr.strip(), None
    fn, field, n = m.group(1), m.group(2), m.group(3)
    return fn, field, int(n) if n else None


def key_column(expr: str) -> str:
    fn, field, n = parse_key(expr)
    return f"bk_{fn}_{field}" + (f"_{n}" if n else "")


def default_std(method: str) -> str:
    return {"email": "email", "phone": "phone", "date": "date", "numeric": "number"}.get(
        method, "text")


def standardise(kind: str, raw: str | None, country: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if kind in ("text", "person_name"):
        return rs.std_text(raw)
    if kind == "company_name":
        return rs.std_company(raw)
    if kind == "address":
        return rs.std_address(raw)
    if kind == "email":
        return rs.email(raw)
    if kind == "phone":
        return rs.std_phone(raw, country)
    if kind == "postcode":
        return rs.std_postcode(raw)
    if kind == "date":
        return rs.std_date(raw)
    if kind == "none":
        return raw.strip() or None
    raise NotImplementedError(f"standardize = {kind!r}")


def prepare(ds: Dataset) -> dict:
    """Builds the Splink input table (Parquet) and a record index for scoring."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    cfg = load_config(ds.config)
    e = entity_cfg(cfg, ds.entity)
    sources = entity_sources(cfg, ds.entity)
    fields: list[str] = []
    for c in e["comparison"]:
        fields += ([c["field"]] if c.get("field") else []) + list(c.get("fields", []))
    for b in e["blocking"]:
        fields += [parse_key(k)[1] for k in b["keys"]]
    fields.append(e["country_field"])
    fields = list(dict.fromkeys(fields))

    src_cfgs = {s["name"]: s for s in cfg["source"]}
    raw: dict[str, list] = {f: [] for f in fields}
    source_col: list[str] = []
    key_col: list[str] = []
    read_stats = {}
    for name in sources:
        s = src_cfgs[name]
        cols, stats = read_source(s, ds.config.parent, fields)
        read_stats[name] = stats
        n = len(cols[s["key"]])
        source_col += [name] * n
        key_col += cols[s["key"]]
        for f in fields:
            raw[f] += cols.get(f, [None] * n)
    n = len(key_col)
    table: dict[str, list] = {"unique_id": list(range(n))}
    country = raw.get(e["country_field"]) or [None] * n
    for c in e["comparison"]:
        flds = ([c["field"]] if c.get("field") else []) + list(c.get("fields", []))
        kind = c.get("standardize", default_std(c["method"]))
        vals = []
        for i in range(n):
            parts = [standardise(kind, raw[f][i], country[i]) for f in flds]
            parts = [p for p in parts if p is not None]
            vals.append(" ".join(parts) if parts else None)
        name = c["name"]
        table[name] = vals
        if c["method"] == "email":
            loc, dom = zip(*(rs.email_parts(v) for v in vals)) if n else ((), ())
            table[f"{name}__local"] = list(loc)
            table[f"{name}__domain"] = list(dom)
        elif c["method"] == "phone":
            table[f"{name}__last7"] = [rs.phone_last7(v) for v in vals]
        elif c["method"] not in ("exact", "jaro_winkler", "damerau_levenshtein",
                                 "levenshtein", "date"):
            raise NotImplementedError(f"comparison method {c['method']!r}")
    for b in e["blocking"]:
        for k in b["keys"]:
            col = key_column(k)
            if col in table:
                continue
            fn, field, arg = parse_key(k)
            if fn == "prefix":
                table[col] = [rs.key_prefix(v, arg) for v in raw[field]]
            elif fn in KEY_FUNCS:
                f = KEY_FUNCS[fn]
                table[col] = [f(v) for v in raw[field]]
            else:
                raise NotImplementedError(f"blocking key function {fn!r}")
    ds.work.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(table), ds.prepared)
    pq.write_table(
        pa.table({"unique_id": list(range(n)), "source": source_col, "record_key": key_col}),
        ds.work / "records.parquet",
    )
    return {
        "records": n,
        "sources": read_stats,
        "prepare_s": round(time.perf_counter() - t0, 3),
    }


# ------------------------------------------------------------------------------------
# Splink
# ------------------------------------------------------------------------------------


def splink_model(cfg: dict, e: dict, kind: str):
    """Splink settings, EM training rules and deterministic rules equivalent to the
    recon entity config."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons = []
    described = []
    for c in e["comparison"]:
        name, method = c["name"], c["method"]
        t = c.get("thresholds")
        tf = bool(c.get("tf_adjust", False))
        if method == "exact":
            comp = cl.ExactMatch(name)
            desc = "exact"
        elif method == "jaro_winkler":
            t = t or [0.92, 0.8]
            comp = cl.JaroWinklerAtThresholds(name, t)
            desc = f"exact, jaro_winkler>={t}"
        elif method == "damerau_levenshtein":
            t = [int(x) for x in (t or [1, 2])]
            comp = cl.DamerauLevenshteinAtThresholds(name, t)
            desc = f"exact, damerau_levenshtein<={t}"
        elif method == "levenshtein":
            t = [int(x) for x in (t or [1, 2])]
            comp = cl.LevenshteinAtThresholds(name, t)
            desc = f"exact, levenshtein<={t}"
        elif method == "date":
            t = t or [31, 366]
            comp = cl.AbsoluteDateDifferenceAtThresholds(
                name, input_is_string=True, metrics=["day"] * len(t),
                thresholds=[int(x) for x in t])
            desc = f"exact, days<={t}"
        elif method == "email":
            jw = (t or [0.88])[0]
            comp = cl.CustomComparison(
                comparison_levels=[
                    cll.NullLevel(name),
                    cll.ExactMatchLevel(name, term_frequency_adjustments=tf),
                    cll.ExactMatchLevel(f"{name}__local").configure(
                        label_for_charts="same local part"),
                    cll.JaroWinklerLevel(name, jw),
                    cll.ExactMatchLevel(f"{name}__domain").configure(
                        label_for_charts="same domain"),
                    cll.ElseLevel(),
                ],
                output_column_name=name,
            )
            tf = False  # already on the exact level
            desc = f"exact, same local part, jaro_winkler>={jw}, same domain"
        elif method == "phone":
            comp = cl.CustomComparison(
                comparison_levels=[
                    cll.NullLevel(name),
                    cll.ExactMatchLevel(name, term_frequency_adjustments=tf),
                    cll.ExactMatchLevel(f"{name}__last7").configure(
                        label_for_charts="same last 7 digits"),
                    cll.ElseLevel(),
                ],
                output_column_name=name,
            )
            tf = False
            desc = "exact, same last 7 digits"
        else:
            raise NotImplementedError(method)
        if tf:
            comp = comp.configure(term_frequency_adjustments=True)
        comparisons.append(comp)
        described.append({"name": name, "levels": desc + ", else",
                          "tf_adjust": bool(c.get("tf_adjust", False))})

    predict_rules = []
    em_rules = []
    for b in e["blocking"]:
        cols = [key_column(k) for k in b["keys"]]
        rule_fields = {parse_key(k)[1] for k in b["keys"]}
        predict_rules.append(block_on(*cols))
        # recon trains one EM session per rule with the comparisons on the rule's
        # fields inactive; Splink deactivates the comparisons whose columns the rule's
        # SQL mentions. The key columns are derived, so the rule also names the
        # comparison columns of its fields in a condition that is always true.
        sql = " AND ".join(f"l.{c} = r.{c}" for c in cols)
        for c in e["comparison"]:
            flds = ([c["field"]] if c.get("field") else []) + list(c.get("fields", []))
            if rule_fields & set(flds):
                sql += f" AND (l.{c['name']} IS NULL OR TRUE)"
        em_rules.append(sql)

    settings = SettingsCreator(
        link_type="dedupe_only",  # one table with all sources: every pair (recon: both)
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=predict_rules,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    det_rules, recall = DETERMINISTIC[kind]
    return settings, em_rules, det_rules, recall, described


def vm_hwm_mb() -> float | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def splink_worker(ds: Dataset, out_json: Path) -> None:
    """Runs in its own process (under /usr/bin/time -v): load the prepared table,
    train, predict, cluster; writes the clusters and timings."""
    import logging

    import pyarrow.parquet as pq
    import splink
    from splink import DuckDBAPI, Linker

    cfg = load_config(ds.config)
    e = entity_cfg(cfg, ds.entity)
    if e["link"] not in ("both", "dedupe") or (
            e["link"] == "dedupe" and len(entity_sources(cfg, ds.entity)) > 1):
        raise NotImplementedError(f"link = {e['link']!r} with several sources")
    settings, em_rules, det_rules, recall, described = splink_model(cfg, e, ds.kind)

    t_load = time.perf_counter()
    tbl = pq.read_table(ds.prepared)
    db_api = DuckDBAPI()
    df = db_api.register(tbl, dataset_display_name=ds.name)
    del tbl
    load_s = time.perf_counter() - t_load

    timings = {}
    t0 = time.perf_counter()
    linker = Linker(df, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(det_rules, recall=recall)
    ta = time.perf_counter()
    timings["train_prior"] = ta - t0
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=e["seed"])
    tb = time.perf_counter()
    timings["train_u"] = tb - ta
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    t1 = time.perf_counter()
    timings["train_em"] = t1 - tb
    timings["train"] = t1 - t0
    pred = linker.inference.predict(threshold_match_probability=e["review_probability"])
    t2 = time.perf_counter()
    timings["predict"] = t2 - t1
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=e["match_probability"])
    arrow = db_api.duckdb_con.sql(
        f"select unique_id, cluster_id from {clusters.physical_name}").to_arrow_table()
    t3 = time.perf_counter()
    timings["cluster"] = t3 - t2
    timings["total"] = t3 - t0

    pq.write_table(arrow, ds.work / "splink_clusters.parquet")
    n_pred = db_api.duckdb_con.sql(
        f"select count(*) from {pred.physical_name}").fetchall()[0][0]
    n_match = db_api.duckdb_con.sql(
        f"select count(*) from {pred.physical_name} "
        f"where match_probability >= {e['match_probability']}").fetchall()[0][0]
    settings_obj = linker._settings_obj
    sessions = [
        {"rule": sess._blocking_rule_for_training.blocking_rule_sql,
         "not_estimated": [c.output_column_name
                           for c in sess._comparisons_that_cannot_be_estimated]}
        for sess in linker._em_training_sessions
    ]
    try:
        linker.misc.save_model_to_json(str(ds.work / "splink_model.json"), overwrite=True)
    except Exception as exc:  # the model file is a convenience only
        print(f"could not save the model: {exc}", file=sys.stderr)
    info = {
        "splink_version": splink.__version__,
        "duckdb_version": __import__("duckdb").__version__,
        "load_s": round(load_s, 3),
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "pairs_at_review_probability": int(n_pred),
        "pairs_at_match_probability": int(n_match),
        "probability_two_random_records_match":
            settings_obj._probability_two_random_records_match,
        "em_rules": em_rules,
        "em_sessions": sessions,
        "predict_rules": [r.get_blocking_rule("duckdb").blocking_rule_sql
                          for r in settings.blocking_rules_to_generate_predictions],
        "deterministic_rules": det_rules,
        "deterministic_recall": recall,
        "comparisons": described,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vm_hwm_mb": vm_hwm_mb(),
    }
    out_json.write_text(json.dumps(info, indent=2))


# ------------------------------------------------------------------------------------
# scoring (port of pipeline/src/matching/evaluate.rs)
# ------------------------------------------------------------------------------------


def score(clusters, truth) -> dict:
    """clusters: DataFrame source, record_key, cluster_id; truth: source, record_key,
    entity_id. Pairwise scores within / across sources over records in both."""
    c = clusters.drop_duplicates(["source", "record_key"], keep="first")
    t = truth.drop_duplicates(["source", "record_key"], keep="last")
    m = c.merge(t, on=["source", "record_key"], how="inner")

    def pairs(group_cols):
        g = m.groupby(group_cols + ["source"], sort=False).size().rename("k").reset_index()
        within = int((g["k"] * (g["k"] - 1) // 2).sum())
        tot = g.groupby(group_cols, sort=False)["k"].sum()
        allp = int((tot * (tot - 1) // 2).sum())
        return within, allp - within

    pw, pc = pairs(["cluster_id"])
    tw, tc = pairs(["entity_id"])
    bw, bc = pairs(["cluster_id", "entity_id"])

    def fin(tp, pred, tru):
        p = 1.0 if pred == 0 else tp / pred
        r = 1.0 if tru == 0 else tp / tru
        f = 0.0 if p + r == 0 else 2 * p * r / (p + r)
        return {"true_positives": tp, "predicted_pairs": pred, "true_pairs": tru,
                "precision": p, "recall": r, "f1": f}

    return {
        "records_evaluated": int(len(m)),
        "records_without_truth": int(len(c) - len(m)),
        "truth_records_not_in_run": int(len(t) - len(m)),
        "within_source": fin(bw, pw, tw),
        "cross_source": fin(bc, pc, tc),
        "all": fin(bw + bc, pw + pc, tw + tc),
    }


def read_truth(path: Path):
    import pandas as pd

    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    t.columns = [x.strip().lstrip("\ufeff").lower() for x in t.columns]
    for col in ("source", "record_key", "entity_id"):
        t[col] = t[col].str.strip()
    return t[["source", "record_key", "entity_id"]]


# ------------------------------------------------------------------------------------
# running things
# ------------------------------------------------------------------------------------


def parse_time_v(stderr: str) -> dict:
    out = {}
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if m:
        out["peak_rss_mb"] = int(m.group(1)) / 1024
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr)
    if m:
        parts = [float(x) for x in m.group(1).split(":")]
        secs = 0.0
        for p in parts:
            secs = secs * 60 + p
        out["wall_s"] = secs
    for key, pat in (("user_s", r"User time \(seconds\): ([\d.]+)"),
                     ("system_s", r"System time \(seconds\): ([\d.]+)")):
        m = re.search(pat, stderr)
        if m:
            out[key] = float(m.group(1))
    return out


def run_timed(cmd: list[str], log: Path, timeout: float | None = None,
              cwd: Path | None = None) -> tuple[int | None, dict, bool]:
    """Runs cmd under /usr/bin/time -v in its own process group; returns (exit code,
    time -v figures, timed_out)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as lf:
        p = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=lf,
                             stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc, timed_out = None, True
    text = log.read_text(errors="replace")
    return rc, parse_time_v(text), timed_out


def run_recon(ds: Dataset, recon: Path) -> dict:
    import pyarrow.parquet as pq

    out = ds.recon_out
    rc, tv, _ = run_timed(
        [str(recon), "--quiet", "run", "--config", str(ds.config), "--output", str(out),
         "--as-of", AS_OF],
        ds.work / "recon-run.log",
    )
    run_dir = out / f"run_date={AS_OF}"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    stages = {s["stage"]: s["duration_ms"] for s in manifest["stages"]}
    ent = next(m for m in manifest["matching"] if m["entity"] == ds.entity)
    ev = subprocess.run(
        [str(recon), "--quiet", "evaluate", "--config", str(ds.config), "--output", str(out),
         "--truth", str(ds.truth), "--run-date", AS_OF],
        capture_output=True, text=True,
    )
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    # The same scorer as for Splink, on recon's clusters of this entity (a check that
    # it reproduces `recon evaluate`).
    cl = pq.read_table(run_dir / "clusters.parquet",
                       columns=["entity", "source", "record_key", "cluster_id"]).to_pandas()
    cl = cl[cl["entity"] == ds.entity]
    ours = score(cl, read_truth(ds.truth))
    return {
        "exit_code": rc,
        "evaluate_exit_code": ev.returncode,
        "time_v": tv,
        "match_stage_s": stages.get("match", 0) / 1000,
        "stages_s": {k: v / 1000 for k, v in stages.items()},
        "entity_timings_s": {k: v / 1000 for k, v in ent["timings_ms"].items()},
        "entity": {k: ent[k] for k in ("records", "candidate_pairs", "match_pairs",
                                       "clusters", "largest_cluster") if k in ent},
        "blocking": ent.get("blocking"),
        "evaluation": {k: evaluation[k] for k in
                       ("records_evaluated", "records_without_truth",
                        "truth_records_not_in_run", "within_source", "cross_source",
                        "all")},
        "python_score_of_recon_clusters": ours,
    }


def run_splink(ds: Dataset, timeout: float) -> dict:
    import pyarrow.parquet as pq

    info_path = ds.work / "splink-info.json"
    if info_path.exists():
        info_path.unlink()
    rc, tv, timed_out = run_timed(
        [sys.executable, str(Path(__file__).resolve()), "--splink-worker", ds.spec,
         "--info", str(info_path)],
        ds.work / "splink-run.log", timeout=timeout, cwd=ds.work,
    )
    res: dict = {"exit_code": rc, "time_v": tv, "timed_out": timed_out,
                 "timeout_s": timeout}
    if timed_out or rc != 0 or not info_path.exists():
        tail = (ds.work / "splink-run.log").read_text(errors="replace").splitlines()[-30:]
        res["log_tail"] = tail
        return res
    res.update(json.loads(info_path.read_text()))
    cl = pq.read_table(ds.work / "splink_clusters.parquet").to_pandas()
    rec = pq.read_table(ds.work / "records.parquet").to_pandas()
    cl = rec.merge(cl, on="unique_id", how="left")
    cl["cluster_id"] = cl["cluster_id"].astype(str)
    res["evaluation"] = score(cl[["source", "record_key", "cluster_id"]], read_truth(ds.truth))
    return res


def fmt(x, nd=3):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def machine() -> dict:
    mem_kb = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "cpu": cpu, "kernel": platform.release(), "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="*",
                    default=["febrl3", "fake_1000", "gen:100000", "gen:1000000"])
    ap.add_argument("--recon", default=str(REPO / "target" / "release" / "recon"))
    ap.add_argument("--generate", default=str(REPO / "target" / "release" / "generate"))
    ap.add_argument("--splink-timeout", type=float, default=1800,
                    help="seconds before the Splink process of one dataset is killed")
    ap.add_argument("--out", help="results file (default benches/results/matching-<date>.json)")
    ap.add_argument("--splink-worker", metavar="DATASET", help=argparse.SUPPRESS)
    ap.add_argument("--prepare-worker", metavar="DATASET", help=argparse.SUPPRESS)
    ap.add_argument("--info", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.splink_worker:
        splink_worker(Dataset(args.splink_worker, args), Path(args.info))
        return
    if args.prepare_worker:
        info = prepare(Dataset(args.prepare_worker, args))
        Path(args.info).write_text(json.dumps(info))
        return

    started = time.time()
    recon = Path(args.recon)
    results = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine(),
        "as_of": AS_OF,
        "recon_version": subprocess.run([str(recon), "--version"], capture_output=True,
                                        text=True).stdout.strip(),
        "git_commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
        "pipeline_uncommitted_changes": bool(subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "pipeline"],
            capture_output=True, text=True).stdout.strip()),
        "datasets": [],
    }
    rows = []
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / f"matching-{dt.date.today().isoformat()}.json"

    def save():
        results["elapsed_s"] = round(time.time() - started, 1)
        out.write_text(json.dumps(results, indent=2, default=str))

    for spec in args.datasets:
        ds = Dataset(spec, args)
        entry: dict = {"dataset": ds.name, "spec": spec}
        results["datasets"].append(entry)
        try:
            ds.ensure(Path(args.generate))
            ds.work.mkdir(parents=True, exist_ok=True)
            print(f"[{ds.name}] preparing Splink input", flush=True)
            prep_info = ds.work / "prepare-info.json"
            subprocess.run([sys.executable, str(Path(__file__).resolve()),
                            "--prepare-worker", spec, "--info", str(prep_info)], check=True)
            prep = json.loads(prep_info.read_text())
            entry["prepare"] = prep
            print(f"[{ds.name}] {prep['records']} records prepared in "
                  f"{prep['prepare_s']:.1f} s; running recon", flush=True)
            rec = run_recon(ds, recon)
            entry["recon"] = rec
            save()
            print(f"[{ds.name}] recon: match stage {rec['match_stage_s']:.2f} s, peak "
                  f"{rec['time_v'].get('peak_rss_mb', 0):.0f} MB, all F1 "
                  f"{rec['evaluation']['all']['f1']:.4f}; running Splink", flush=True)
            spl = run_splink(ds, args.splink_timeout)
            entry["splink"] = spl
        except Exception as exc:  # record and go on with the next dataset
            entry["error"] = repr(exc)
            print(f"[{ds.name}] failed: {exc!r}", flush=True)
            save()
            continue
        if "evaluation" in spl:
            print(f"[{ds.name}] splink: {spl['timings_s']['total']:.2f} s, peak "
                  f"{spl['time_v'].get('peak_rss_mb', 0):.0f} MB, all F1 "
                  f"{spl['evaluation']['all']['f1']:.4f}", flush=True)
        else:
            why = ("timed out after %.0f s" % args.splink_timeout if spl.get("timed_out")
                   else f"failed (exit {spl['exit_code']})")
            print(f"[{ds.name}] splink {why}", flush=True)
        rt = rec["match_stage_s"]
        st = spl.get("timings_s", {}).get("total")
        rm = rec["time_v"].get("peak_rss_mb")
        sm = spl["time_v"].get("peak_rss_mb") if "evaluation" in spl else None
        ratios = ((st / rt) if st and rt else None, (sm / rm) if sm and rm else None)
        rows.append((ds.name, "recon", rt, rm, rec["evaluation"], None, ""))
        rows.append((ds.name, f"Splink {spl.get('splink_version', '')}".strip(), st, sm,
                     spl.get("evaluation"), ratios,
                     "" if "evaluation" in spl else
                     ("timed out" if spl.get("timed_out") else "failed")))
        entry["ratio_splink_over_recon_time"] = ratios[0]
        entry["ratio_splink_over_recon_peak_memory"] = ratios[1]
        save()
        gc.collect()

    lines = [
        "| dataset | tool | records | time (s) | peak (MB) | within F1 | cross F1 | all F1 "
        "| Splink / recon time | Splink / recon peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, tool, t, mem, ev, ratio, note in rows:
        recs = ev["records_evaluated"] if ev else None
        def f1(k):
            if not ev:
                return "—"
            if ev[k]["true_pairs"] == 0 and ev[k]["predicted_pairs"] == 0:
                return "n/a"
            return fmt(ev[k]["f1"], 4)
        lines.append(
            f"| {name} | {tool} | {recs if recs is not None else '—'} | {fmt(t, 2)} "
            f"| {fmt(mem, 0)} | {f1('within_source')} | {f1('cross_source')} "
            f"| {f1('all')} | "
            + (f"{fmt(ratio[0], 1)}× | {fmt(ratio[1], 1)}× |" if ratio else f"{note} | |"))
    table = "\n".join(lines)
    print()
    print(table)
    results["table_markdown"] = table
    save()
    print(f"\nresults: {out} (total {results['elapsed_s']} s)")


if __name__ == "__main__":
    main()
