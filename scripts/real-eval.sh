#!/usr/bin/env bash
# The real-data loop: evaluate every staged real-scanner development set under DIR and print one
# table per set (FTA with reasons, EER, FNMR at FMR 1e-2/1e-3, enrolment, calibration check).
#
#   scripts/real-eval.sh DIR [OUT] [-- extra palmsig eval flags, e.g. --algorithm bocv]
#
# DIR holds one folder per set with its manifest.csv (what ../shared/realdata/stage.py writes;
# the protocol is read from the manifest's `#protocol=` line, default cross-session). OUT
# (default: DIR/../palmsig-real-eval) receives one palmsig eval output folder per set; like DIR it
# must stay outside the repository: nothing derived from real palms is ever committed.
# PALMSIG (default: target/release/palmsig, built if missing) is the binary evaluated.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/real-common.sh
real_args palmsig-real-eval "$@"
set -- "${flags[@]}"

sets=()
for m in "$dir"/*/manifest.csv; do
  [ -f "$m" ] || continue
  name=$(basename "$(dirname "$m")")
  protocol=$(sed -n 's/^#protocol=\([a-z-]*\).*/\1/p' "$m" | head -n1)
  protocol=${protocol:-cross-session}
  echo "== $name ($protocol)" >&2
  "$bin" eval --manifest "$m" --protocol "$protocol" --out "$out/$name" "$@" >"$out/$name.log" 2>&1 ||
    { echo "palmsig eval failed on $name (see $out/$name.log)" >&2; exit 1; }
  sets+=("$name")
done
[ ${#sets[@]} -gt 0 ] || { echo "no */manifest.csv under $dir" >&2; exit 2; }

python3 - "$out" "${sets[@]}" <<'EOF'
import json, sys

out, sets = sys.argv[1], sys.argv[2:]

def pct(v):
    return "   -   " if v is None else f"{100 * v:6.2f}%"

def row(label, m):
    f = m.get("fnmr_at_fmr") or {}
    return (f"  {label:<10} EER {pct(m.get('eer'))}   FNMR@1e-2 {pct(f.get('1e-2'))}"
            f"   FNMR@1e-3 {pct(f.get('1e-3'))}   rank-1 {pct(m.get('rank1'))}")

for name in sets:
    r = json.load(open(f"{out}/{name}/report.json"))
    fta = r["failures_to_acquire"]
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(fta.get("reasons", {}).items())) or "none"
    print(f"{name}: {r['protocol']}, {r['captures']} captures, {r['classes']} classes, "
          f"{r.get('algorithm', '?')} {r.get('modality', '?')}")
    print(f"  FTA {pct(fta['rate'])} ({fta['count']}: {reasons})")
    print(f"  pairs: {r['genuine_pairs']} genuine, {r['impostor_pairs']} impostor;"
          f" extract {r.get('extract_ms_median') or 0:.1f} ms median")
    print(row("capture", r))
    if r.get("enrolment"):
        print(row("enrolment", r["enrolment"]))
    cal = r.get("calibration")
    if cal:
        cells = []
        for k in ("1e-2", "1e-3", "1e-4"):
            c = cal.get(k) or {}
            fmr, thr = c.get("fmr"), c.get("threshold")
            ratio = "-" if fmr is None else f"{fmr / float(k):.2f}x"
            cells.append(f"{k}: thr {thr:.2f} FMR {'-' if fmr is None else f'{fmr:.1e}'} ({ratio})")
        print("  calibration  " + "   ".join(cells))
    print()
EOF
