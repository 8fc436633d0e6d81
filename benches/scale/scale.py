#!/usr/bin/env python3
"""End-to-end scale benchmark of recon, against the peers on the same inputs.

For each size it generates data with the repository's generator (cached under
benches/data/gen<N>), runs the release `recon run` under /usr/bin/time, and records wall
time per stage and in total, peak resident memory (in all and per stage, sampled every
0.25 s), rows/s, candidate pairs and pairs/s, and output sizes. In the same invocation,
on the same files, it runs the peers a user would otherwise pick: the equivalent
data-quality checks in DuckDB over the staged Parquet files, and Splink 5 (DuckDB) for
the matching of the customers (benches/splink/bench_matching.py, at the --splink-sizes),
and prints the ratios. With --incremental it also changes 1% of the CRM records and
times `recon run --incremental` against a full run of the changed data (each
--incremental-repeats times; medians).

Usage: benches/scale/run.sh [--sizes 100000 1000000 10000000] [--seed 1]
           [--splink-sizes 100000 1000000] [--splink-timeout 1200]
           [--incremental [--incremental-sizes 100000 1000000] [--incremental-repeats 3]]
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECON = ROOT / "target" / "release" / "recon"
GENERATE = ROOT / "target" / "release" / "generate"
DATA = ROOT / "benches" / "data"
RESULTS = ROOT / "benches" / "results"
AS_OF = "2026-11-20"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def timed(cmd, env=None, samples=None):
    """Runs cmd under GNU time; returns (wall s, peak RSS MiB, completed process).
    With `samples` (a list), appends (seconds since start, RSS MiB, CPU seconds) of the
    command every 0.25 s."""
    proc = subprocess.Popen(["/usr/bin/time", "-v"] + [str(c) for c in cmd], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    t0 = time.time()

    def sample():
        while proc.poll() is None:
            for child in pathlib.Path(f"/proc/{proc.pid}/task").glob("*/children"):
                for pid in child.read_text().split():
                    try:
                        rss = None
                        for line in open(f"/proc/{pid}/status"):
                            if line.startswith("VmRSS"):
                                rss = int(line.split()[1]) / 1024
                        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                        cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
                        if rss is not None:
                            samples.append((time.time() - t0, rss, cpu))
                    except (OSError, IndexError, ValueError):
                        pass
            time.sleep(0.25)

    sampler = None
    if samples is not None:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    out, err = proc.communicate()
    if sampler:
        sampler.join()
    p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    wall = rss = None
    for line in p.stderr.splitlines():
        line = line.strip()
        if line.startswith("Elapsed (wall clock) time"):
            t = line.split(": ", 1)[1].split(":")
            wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(t)))
        elif line.startswith("Maximum resident set size"):
            rss = int(line.split(": ")[1]) / 1024
    if p.returncode not in (0, 3):
        sys.stderr.write(p.stderr[-4000:])
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(map(str, cmd))}")
    return wall, rss, p


def generate(n, seed):
    d = DATA / f"gen{n}"
    marker = d / ".generated"
    want = f"customers={n} seed={seed}"
    if marker.exists() and marker.read_text() == want:
        return d
    shutil.rmtree(d, ignore_errors=True)
    t = time.time()
    sh([GENERATE, "--customers", str(n), "--seed", str(seed), "--out", d, "--as-of", AS_OF])
    marker.write_text(want)
    print(f"  generated {n} customers in {time.time() - t:.1f} s", flush=True)
    return d


def dir_size(p):
    return sum(f.stat().st_size for f in pathlib.Path(p).rglob("*") if f.is_file())


DUCKDB_RULES = {
    # The built-in pack's checks, written for DuckDB over the same staged Parquet.
    "email_valid": "SELECT count(*) FROM read_parquet('{s}/crm_accounts.parquet') WHERE email IS NOT NULL AND NOT regexp_matches(trim(email), '^[^@\\s.][^@\\s]*[^@\\s.]?@([A-Za-z0-9-]+\\.)+[A-Za-z]{{2,}}$')",
    "phone_present": "SELECT count(*) FROM read_parquet('{s}/crm_accounts.parquet') WHERE phone IS NULL",
    "country_valid": "SELECT count(*) FROM read_parquet('{s}/billing_customers.parquet') WHERE country IS NOT NULL AND length(trim(country)) <> 2",
    "duplicate_key": "SELECT count(*) FROM (SELECT _record_key FROM read_parquet('{s}/invoice_lines.parquet') GROUP BY 1 HAVING count(*) > 1)",
    "duplicate_email": "SELECT count(*) FROM (SELECT lower(trim(email)) FROM read_parquet('{s}/crm_accounts.parquet') WHERE email IS NOT NULL GROUP BY 1 HAVING count(*) > 1)",
    "stale_record": "SELECT count(*) FROM read_parquet('{s}/crm_accounts.parquet') WHERE CAST(last_modified AS DATE) < DATE '2026-11-20' - INTERVAL 365 DAY",
    "reference_exists_customer": "SELECT count(*) FROM read_parquet('{s}/invoice_lines.parquet') l ANTI JOIN read_parquet('{s}/billing_customers.parquet') b ON l.customer_id = b.customer_id",
    "reference_exists_sku": "SELECT count(*) FROM read_parquet('{s}/invoice_lines.parquet') l ANTI JOIN read_parquet('{s}/inventory_items.parquet') i ON upper(regexp_replace(l.sku, '[-_. ]', '', 'g')) = upper(regexp_replace(i.sku, '[-_. ]', '', 'g'))",
    "reference_email_consistent": "SELECT count(*) FROM read_parquet('{s}/billing_customers.parquet') b JOIN read_parquet('{s}/crm_accounts.parquet') c ON b.crm_account_id = c.account_id WHERE lower(trim(b.email)) <> lower(trim(c.email))",
}


def duckdb_rules(staged):
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    t0 = time.time()
    per = {}
    for name, sql in DUCKDB_RULES.items():
        t = time.time()
        con.execute(sql.format(s=staged)).fetchall()
        per[name] = round(time.time() - t, 3)
    return round(time.time() - t0, 3), per


def stage_profile(manifest, samples):
    """Per stage: peak RSS (MiB) and the cores it kept busy on average (CPU seconds /
    wall seconds), from the samples within its window (stages run one after another;
    the windows are laid end to end from the start of the process)."""
    peaks, cores, t = {}, {}, 0.0
    for s in manifest["stages"]:
        end = t + s["duration_ms"] / 1000
        inside = [x for x in samples if t <= x[0] < end + 0.25]
        peaks[s["stage"]] = round(max(x[1] for x in inside)) if inside else None
        if len(inside) >= 2 and inside[-1][0] > inside[0][0]:
            cores[s["stage"]] = round((inside[-1][2] - inside[0][2]) / (inside[-1][0] - inside[0][0]), 2)
        else:
            cores[s["stage"]] = None
        t = end
    return peaks, cores


def splink(n, timeout):
    """Splink 5 on the same generated customers (bench_matching.py, which also runs
    recon's matching on them for the ratio)."""
    py = ROOT / "benches" / ".venv-splink" / "bin" / "python"
    out = RESULTS / f"scale-splink-gen{n}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([py, ROOT / "benches" / "splink" / "bench_matching.py", f"gen:{n}",
                        "--splink-timeout", str(timeout), "--out", out], text=True)
    if p.returncode != 0 or not out.exists():
        return {"error": f"bench_matching.py exited {p.returncode}"}
    ds = json.loads(out.read_text())["datasets"][0]
    rec, spl = ds.get("recon", {}), ds.get("splink", {})
    f1 = lambda r: r.get("evaluation", {}).get("all", {}).get("f1")
    res = {
        "recon_match_s": rec.get("match_stage_s"),
        "recon_all_f1": f1(rec),
        "splink_s": spl.get("timings_s", {}).get("total"),
        "splink_peak_mb": spl.get("time_v", {}).get("peak_rss_mb"),
        "splink_all_f1": f1(spl),
        "splink_timed_out": spl.get("timed_out", False),
        "splink_over_recon_time": ds.get("ratio_splink_over_recon_time"),
        "results_file": str(out.relative_to(ROOT)),
    }
    if res["splink_timed_out"]:
        print(f"  splink: timed out after {timeout:.0f} s", flush=True)
    elif res["splink_s"]:
        print(f"  splink: {res['splink_s']:.1f} s vs recon's match stage {res['recon_match_s']:.1f} s "
              f"({res['splink_over_recon_time']:.1f}x); all F1 {res['splink_all_f1']:.4f} vs {res['recon_all_f1']:.4f}",
              flush=True)
    return res


def one_size(n, seed, incremental, with_splink, splink_timeout, incremental_repeats=3):
    print(f"\n== {n} customers", flush=True)
    d = generate(n, seed)
    out = d / "out"
    shutil.rmtree(out, ignore_errors=True)
    samples = []
    wall, rss, _ = timed([RECON, "-q", "run", "--config", d / "recon.toml", "--output", out, "--as-of", AS_OF],
                         samples=samples)
    run = out / f"run_date={AS_OF}"
    m = json.loads((run / "manifest.json").read_text())
    stages = {s["stage"]: s["duration_ms"] / 1000 for s in m["stages"]}
    rows = m["accounting"]["rows_read"]
    pairs = sum(e["candidate_pairs"] for e in m["matching"])
    match_s = stages.get("match", 0)
    input_bytes = sum(i["bytes"] for i in m["inputs"])
    stage_peaks, stage_cores = stage_profile(m, samples)
    res = {
        "customers": n,
        "rows_read": rows,
        "input_mb": round(input_bytes / 2**20, 1),
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(rss),
        "stages_s": stages,
        "stage_peak_rss_mb": stage_peaks,
        "stage_cores": stage_cores,
        "rows_per_s": round(rows / wall),
        "candidate_pairs": pairs,
        "pairs_per_s": round(pairs / match_s) if match_s else None,
        "output_mb": round(dir_size(run) / 2**20, 1),
        "report_kb": round((run / "report.html").stat().st_size / 1024, 1),
        "matching": {e["entity"]: e["timings_ms"] for e in m["matching"]},
        # Where the pairs come from: each blocking rule's pairs, largest block and cap.
        "blocking": {e["entity"]: [{k: b[k] for k in ("rule", "blocks", "largest_block", "pairs",
                                                      "capped_blocks", "pairs_skipped_by_cap")}
                                   for b in e.get("blocking", [])] for e in m["matching"]},
    }
    print(f"  recon: {wall:.1f} s wall, {rss:.0f} MiB peak, stages {stages}, "
          f"peak MiB per stage {res['stage_peak_rss_mb']}, cores per stage {res['stage_cores']}", flush=True)
    try:
        total, per = duckdb_rules(run / "staged")
        res["duckdb_rules_s"] = total
        res["duckdb_rules"] = per
        res["rules_ratio_duckdb_over_recon"] = round(total / stages["rules"], 2) if stages.get("rules") else None
        print(f"  duckdb rule checks: {total:.1f} s ({len(per)} checks) vs recon rules stage {stages.get('rules')} s", flush=True)
    except ImportError:
        print("  duckdb not installed: skipping the peer", flush=True)
    if incremental:
        res["incremental"] = incremental_run(d, out, incremental_repeats)
    if with_splink:
        # After recon's own runs: bench_matching.py writes its outputs elsewhere.
        res["splink"] = splink(n, splink_timeout)
    return res


def out_rows(m):
    """Rows of every Parquet output of a manifest (the caches are not outputs)."""
    return {o["path"]: o.get("rows") for o in m["outputs"] if o["path"].endswith(".parquet")}


def incremental_run(d, out, repeats):
    """Changes 1% of CRM rows (emails), then times a full and an incremental run."""
    src = d / "crm_accounts.csv"
    changed = d / "crm_changed"
    shutil.rmtree(changed, ignore_errors=True)
    changed.mkdir()
    for f in d.iterdir():
        if f.is_file() and f.name != "crm_accounts.csv":
            os.link(f, changed / f.name)
    shutil.copytree(d / "rules", changed / "rules")
    n = 0
    with open(src, "rb") as fi, open(changed / "crm_accounts.csv", "wb") as fo:
        for i, line in enumerate(fi):
            if i > 0 and i % 100 == 0 and b"@" in line:
                line = line.replace(b"@", b".changed@", 1)
                n += 1
            fo.write(line)
    out2 = changed / "out"
    shutil.rmtree(out2, ignore_errors=True)
    day2 = "2026-11-21"
    # Night 1 on the original data with --incremental: trains and writes the comparison cache.
    day1_wall, _, _ = timed([RECON, "-q", "run", "--incremental", "--config", d / "recon.toml", "--output", out2, "--as-of", AS_OF])
    model = out2 / f"run_date={AS_OF}" / "model.json"
    # Night 2 in full with the same model (what --incremental must equal), then
    # incrementally; the pair is repeated (this VM's timings vary by up to a quarter from
    # run to run) and the medians are reported.
    fulls, incs = [], []
    for r in range(repeats):
        full_wall, full_rss, _ = timed([RECON, "-q", "run", "--config", changed / "recon.toml", "--output", out2, "--as-of", day2, "--model", model])
        full_m = json.loads((out2 / f"run_date={day2}" / "manifest.json").read_text())
        shutil.rmtree(out2 / f"run_date={day2}")
        fulls.append((full_wall, full_rss, full_m))
        inc_wall, inc_rss, _ = timed([RECON, "-q", "run", "--incremental", "--config", changed / "recon.toml", "--output", out2, "--as-of", day2])
        inc_m = json.loads((out2 / f"run_date={day2}" / "manifest.json").read_text())
        if r + 1 < repeats:
            shutil.rmtree(out2 / f"run_date={day2}")
        incs.append((inc_wall, inc_rss, inc_m))
        print(f"  night 2, repeat {r + 1}: full {full_wall:.1f} s, incremental {inc_wall:.1f} s", flush=True)
    median = lambda runs: sorted(runs, key=lambda x: x[0])[len(runs) // 2]
    full_wall, full_rss, full_m = median(fulls)
    inc_wall, inc_rss, inc_m = median(incs)
    stages = lambda m: {s["stage"]: s["duration_ms"] / 1000 for s in m["stages"]}
    print(f"  incremental (1% = {n} CRM records changed): median {inc_wall:.1f} s vs full {full_wall:.1f} s "
          f"(night 1 with cache writing {day1_wall:.1f} s)", flush=True)
    return {"changed_records": n, "night1_incremental_s": round(day1_wall, 2), "repeats": repeats,
            "full_s": round(full_wall, 2), "incremental_s": round(inc_wall, 2),
            "full_s_all": [round(x[0], 2) for x in fulls], "incremental_s_all": [round(x[0], 2) for x in incs],
            "ratio": round(inc_wall / full_wall, 3), "incremental_peak_rss_mb": round(inc_rss),
            "full_peak_rss_mb": round(full_rss),
            "full_stages_s": stages(full_m), "incremental_stages_s": stages(inc_m),
            "cache": {e["entity"]: e.get("incremental") for e in inc_m["matching"]},
            "reuse": inc_m.get("incremental"),
            "same_output_rows": all(out_rows(f[2]) == out_rows(i[2]) for f, i in zip(fulls, incs)),
            "same_clusters": all([e["clusters"] for e in f[2]["matching"]] == [e["clusters"] for e in i[2]["matching"]]
                                 for f, i in zip(fulls, incs))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--incremental", action="store_true",
                    help="also measure an incremental night (1%% of the CRM records changed) at the "
                         "--incremental-sizes")
    ap.add_argument("--incremental-sizes", type=int, nargs="*", default=None,
                    help="sizes of the incremental measurement (default: the sizes up to 1,000,000; "
                         "it runs recon three more times)")
    ap.add_argument("--incremental-repeats", type=int, default=3,
                    help="times the second night is run in full and incrementally (medians reported)")
    ap.add_argument("--splink-sizes", type=int, nargs="*", default=None,
                    help="sizes at which Splink matches the same customers (default: the sizes up to "
                         "1,000,000; at 10M its Python preparation alone takes half an hour)")
    ap.add_argument("--splink-timeout", type=float, default=1200,
                    help="seconds before Splink's process of one size is stopped")
    args = ap.parse_args()
    splink_sizes = set(args.splink_sizes if args.splink_sizes is not None
                       else [n for n in args.sizes if n <= 1_000_000])
    incremental_sizes = set() if not args.incremental else set(
        args.incremental_sizes if args.incremental_sizes is not None
        else [n for n in args.sizes if n <= 1_000_000])
    meminfo = pathlib.Path("/proc/meminfo").read_text().splitlines()[0]
    machine = {
        "cpus": os.cpu_count(),
        "memory": meminfo.split(":")[1].strip(),
        "platform": platform.platform(),
        "date": datetime.date.today().isoformat(),
        "recon": subprocess.run([RECON, "--version"], capture_output=True, text=True).stdout.strip(),
    }
    print(f"machine: {machine}")
    results = [one_size(n, args.seed, n in incremental_sizes, n in splink_sizes, args.splink_timeout,
                        args.incremental_repeats)
               for n in args.sizes]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"scale-{machine['date']}-{'-'.join(str(n) for n in args.sizes)}.json"
    path.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print("\n| customers | rows read | input MB | wall s | peak MiB | extract | rules | match | golden | score | rows/s | pairs | pairs/s | output MB | DuckDB checks s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        s = r["stages_s"]
        print(f"| {r['customers']:,} | {r['rows_read']:,} | {r['input_mb']} | {r['wall_s']} | {r['peak_rss_mb']} | "
              f"{s.get('extract')} | {s.get('rules')} | {s.get('match')} | {s.get('golden')} | {s.get('score')} | "
              f"{r['rows_per_s']:,} | {r['candidate_pairs']:,} | {format(r['pairs_per_s'], ',') if r['pairs_per_s'] else '-'} | {r['output_mb']} | {r.get('duckdb_rules_s', '-')} |")
    print("\nPeak RSS (MiB) and average cores busy per stage:")
    print("| customers | extract | rules | match | golden | score |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in results:
        p, c = r["stage_peak_rss_mb"], r["stage_cores"]
        print(f"| {r['customers']:,} | " + " | ".join(f"{p.get(k, '-')} MiB, {c.get(k, '-')} cores" for k in
              ("extract", "rules", "match", "golden", "score")) + " |")
    print("\nGrowth between consecutive sizes (time and memory per unit of input):")
    for a, b in zip(results, results[1:]):
        x = b["customers"] / a["customers"]
        print(f"  {a['customers']:,} -> {b['customers']:,} ({x:g}x input): wall {b['wall_s'] / a['wall_s']:.1f}x, "
              f"peak {b['peak_rss_mb'] / a['peak_rss_mb']:.1f}x, candidate pairs "
              f"{b['candidate_pairs'] / max(a['candidate_pairs'], 1):.1f}x, per stage "
              + ", ".join(f"{k} {b['stages_s'][k] / a['stages_s'][k]:.1f}x" for k in a["stages_s"]
                          if a["stages_s"].get(k) and b["stages_s"].get(k)))
    customer_rules = [b["rule"] for b in results[0].get("blocking", {}).get("customer", [])]
    if customer_rules:
        # Which blocking rules make the pairs grow faster than the input.
        print("\nCustomer candidate pairs per blocking rule (largest block; pairs per customer):")
        print("| rule | " + " | ".join(f"{r['customers']:,}" for r in results) + " |")
        print("|---|" + "---:|" * len(results))
        for i, rule in enumerate(customer_rules):
            cells = []
            for r in results:
                b = r["blocking"]["customer"][i]
                capped = f", {b['capped_blocks']} capped" if b["capped_blocks"] else ""
                cells.append(f"{b['pairs']:,} ({b['largest_block']:,}{capped}; {b['pairs'] / r['customers']:.1f})")
            print(f"| {rule} | " + " | ".join(cells) + " |")
    inc = [r for r in results if r.get("incremental")]
    if inc:
        print("\n| customers | records new/changed | sources reused | rule instances reused | full night 2 s, median (all) | incremental s, median (all) | ratio of medians | extract | rules | match | golden | score | same output rows |")
        print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in inc:
            i = r["incremental"]
            f, g = i["full_stages_s"], i["incremental_stages_s"]
            reuse = i.get("reuse") or {}
            changed = sum((c or {}).get("records_new_or_changed", 0) for c in i["cache"].values())
            print(f"| {r['customers']:,} | {changed:,} | {', '.join(reuse.get('sources_reused', []))} | "
                  f"{reuse.get('rule_instances_reused')} of {(reuse.get('rule_instances_reused') or 0) + (reuse.get('rule_instances_run') or 0)} | "
                  f"{i['full_s']} ({', '.join(map(str, i.get('full_s_all', [])))}) | "
                  f"{i['incremental_s']} ({', '.join(map(str, i.get('incremental_s_all', [])))}) | {i['ratio']} | "
                  + " | ".join(f"{g.get(k)} ({f.get(k)})" for k in ("extract", "rules", "match", "golden", "score"))
                  + f" | {i['same_output_rows']} |")
    sp = [r for r in results if r.get("splink")]
    if sp:
        print("\n| customers | recon match s | Splink s | Splink / recon | recon all F1 | Splink all F1 |")
        print("|---:|---:|---:|---:|---:|---:|")
        for r in sp:
            s = r["splink"]
            if s.get("splink_timed_out"):
                print(f"| {r['customers']:,} | {s.get('recon_match_s')} | timed out | | {s.get('recon_all_f1')} | |")
            else:
                print(f"| {r['customers']:,} | {s.get('recon_match_s')} | {s.get('splink_s')} | "
                      f"{(s.get('splink_over_recon_time') or 0):.1f}x | {s.get('recon_all_f1')} | {s.get('splink_all_f1')} |")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
