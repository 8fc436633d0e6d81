"""Precision and recall of recon's findings against the generator's planted defects.

Usage: benches/.venv-scale/bin/python benches/scale/findings_accuracy.py DATA_DIR [RUN_DIR]

DATA_DIR is a generator output (with defects.csv); RUN_DIR defaults to the newest
DATA_DIR/out/run_date=*. Compares sets of (source, record_key):

- duplicate: every record named in a `duplicate` finding (the record and the one it
  duplicates) vs every record in a planted `duplicate` defect (the copy and its
  original) — a group-level measure, since recon names the most recently updated record
  as the survivor while the generator names the first created one.
- wrong / missing / dangling reference: `id_mismatch` findings of that kind vs the
  defect of that name; `alias_reference` records (correct references in the 15-character
  form) flagged by any id_mismatch finding are counted as false alarms.
- stale: `stale`/`sla` findings vs `stale` defects of CRM and billing records.
- stale_attribute: `stale`/`attribute` findings vs `stale_attribute` defects.
"""
import json
import pathlib
import sys

import duckdb


def main():
    data = pathlib.Path(sys.argv[1])
    run = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else sorted((data / "out").glob("run_date=*"))[-1]
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(f"CREATE VIEW d AS SELECT * FROM read_csv('{data / 'defects.csv'}', all_varchar=true)")
    con.execute(f"CREATE VIEW f AS SELECT * FROM read_parquet('{run / 'findings.parquet'}')")

    def score(name, found_sql, planted_sql):
        found = set(con.execute(found_sql).fetchall())
        planted = set(con.execute(planted_sql).fetchall())
        tp = len(found & planted)
        p = tp / len(found) if found else 1.0
        r = tp / len(planted) if planted else 1.0
        return name, {"planted": len(planted), "found": len(found), "true_pos": tp,
                      "precision": round(p, 4), "recall": round(r, 4)}

    out = dict([
        score("duplicate",
              """SELECT source, record_key FROM f WHERE finding_type = 'duplicate'
                 UNION SELECT related_source, related_key FROM f WHERE finding_type = 'duplicate'""",
              """SELECT source, record_key FROM d WHERE defect = 'duplicate'
                 UNION SELECT related_source, related_key FROM d WHERE defect = 'duplicate'"""),
        *[score(kind,
                f"SELECT source, record_key FROM f WHERE finding_type = 'id_mismatch' AND kind = '{kind}'",
                f"SELECT source, record_key FROM d WHERE defect = '{kind}'")
          for kind in ("wrong_reference", "missing_reference", "dangling_reference")],
        score("stale_sla",
              "SELECT source, record_key FROM f WHERE finding_type = 'stale' AND kind = 'sla' AND source IN ('crm_accounts', 'billing_customers')",
              "SELECT source, record_key FROM d WHERE defect = 'stale' AND source IN ('crm_accounts', 'billing_customers')"),
        score("stale_attribute",
              "SELECT source, record_key FROM f WHERE finding_type = 'stale' AND kind = 'attribute'",
              "SELECT source, record_key FROM d WHERE defect = 'stale_attribute'"),
    ])
    out["alias_reference_false_alarms"] = con.execute(
        """SELECT count(DISTINCT (d.source, d.record_key)) FROM d JOIN f
           ON f.source = d.source AND f.record_key = d.record_key
           WHERE d.defect = 'alias_reference' AND f.finding_type = 'id_mismatch'""").fetchone()[0]
    out["alias_reference_planted"] = con.execute(
        "SELECT count(*) FROM d WHERE defect = 'alias_reference'").fetchone()[0]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
