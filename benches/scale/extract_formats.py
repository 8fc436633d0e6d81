"""Extract throughput per input format at ~1M rows: CSV, NDJSON and Parquet.

Usage: benches/.venv-scale/bin/python benches/scale/extract_formats.py [DATA_DIR]

DATA_DIR (default benches/data/gen1000000, made by benches/scale/run.sh) holds the
generator's files. Three runs of the release `recon run`, one source each, with the
source's mapping from the generated recon.toml, no built-in rules and no entities, so
the run is the extract stage plus the (tiny) scorecard:

- CSV: crm_accounts.csv (1.09M rows, UTF-8 with BOM, CRLF, quoted fields, US dates);
- NDJSON: invoice_lines.ndjson (4.97M lines);
- Parquet: the CRM accounts written as Parquet by DuckDB (zstd), the same 1.09M rows.

Reports rows read, input MB, the extract stage's seconds (manifest.json), rows/s, MB/s
and the run's peak RSS (/usr/bin/time -v).
"""
import json
import pathlib
import shutil
import subprocess
import sys
import tomllib

import duckdb

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECON = ROOT / "target" / "release" / "recon"


def toml_value(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def source_toml(src):
    out = ["[[source]]"]
    tables = []
    for k, v in src.items():
        if k in ("reference", "references"):
            continue  # the referenced sources are not in a one-source run
        if k in ("csv", "columns", "ndjson", "parquet") and isinstance(v, dict):
            tables.append((k, v))
        else:
            out.append(f"{k} = {toml_value(v)}")
    for k, v in tables:
        out.append(f"[source.{k}]")
        out.extend(f"{c} = {toml_value(x)}" for c, x in v.items())
    return "\n".join(out) + "\n"


def run(work, src, name):
    d = work / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    (d / "recon.toml").write_text('[run]\noutput = "out"\n\n[rules]\nbuiltin = false\n\n' + source_toml(src))
    p = subprocess.run(["/usr/bin/time", "-v", str(RECON), "-q", "run", "--config", str(d / "recon.toml"),
                        "--as-of", "2026-11-20"], capture_output=True, text=True)
    if p.returncode not in (0, 3):
        sys.exit(f"{name}: recon failed ({p.returncode}):\n{p.stderr[-3000:]}")
    rss = next(int(l.split(": ")[1]) for l in p.stderr.splitlines() if "Maximum resident" in l) / 1024
    m = json.loads((d / "out" / "run_date=2026-11-20" / "manifest.json").read_text())
    secs = next(s["duration_ms"] for s in m["stages"] if s["stage"] == "extract") / 1000
    rows = m["accounting"]["rows_read"]
    mb = sum(i["bytes"] for i in m["inputs"]) / 2**20
    return {"format": name, "rows": rows, "mb": round(mb, 1), "extract_s": secs,
            "rows_per_s": round(rows / secs), "mb_per_s": round(mb / secs, 1), "peak_mib": round(rss)}


def main():
    data = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "benches" / "data" / "gen1000000"
    cfg = tomllib.loads((data / "recon.toml").read_text())
    by_name = {s["name"]: s for s in cfg["source"]}
    work = data / "extract-formats"
    work.mkdir(exist_ok=True)
    results = []
    crm = dict(by_name["crm_accounts"], path=str(data / "crm_accounts.csv"))
    results.append(run(work, crm, "csv"))
    lines = dict(by_name["invoice_lines"], path=str(data / "invoice_lines.ndjson"))
    results.append(run(work, lines, "ndjson"))
    staged = work / "csv" / "out" / "run_date=2026-11-20" / "staged" / "crm_accounts.parquet"
    pq = work / "crm_accounts.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * EXCLUDE (_source, _record_key, _file, _line) FROM read_parquet('{staged}')) "
                f"TO '{pq}' (FORMAT parquet, COMPRESSION zstd)")
    cols = {c: ({"required": True} if c == "account_id" else {}) for c in by_name["crm_accounts"]["columns"]}
    cols["created_date"] = {"type": "date"}
    cols["last_modified"] = {"type": "timestamp"}
    par = {k: v for k, v in by_name["crm_accounts"].items() if k not in ("csv", "columns")}
    par.update(path=str(pq), format="parquet", columns=cols)
    results.append(run(work, par, "parquet"))
    print("| format | rows | MB | extract s | rows/s | MB/s | peak MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['format']} | {r['rows']:,} | {r['mb']} | {r['extract_s']} | {r['rows_per_s']:,} | {r['mb_per_s']} | {r['peak_mib']:,} |")


if __name__ == "__main__":
    main()
