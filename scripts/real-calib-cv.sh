#!/usr/bin/env bash
# Does the calibration hold on people it was not fitted on?
#
#   scripts/real-calib-cv.sh DIR [OUT] [-- extra palmsig calibrate/eval flags, e.g. --algorithm bocv]
#
# For every staged real-scanner dev set under DIR (one folder per set with its manifest.csv, as
# for scripts/real-eval.sh), the subjects are split in two folds (alternate subjects in sorted
# order). `palmsig calibrate` fits one profile on fold 0 of every set pooled (as the built-in
# tables are fitted on all of them); `palmsig eval --profile` scores each set's fold 1 with it,
# and the other way round. The two folds' impostor scores are then pooled per set and the
# measured FMR at the nominal thresholds 1e-2 / 1e-3 printed, with the number of impostor scores
# behind each: the calibration checked on people it was not fitted on. OUT (default DIR/../palmsig-real-cv)
# must stay outside the repository, as must DIR: nothing derived from real palms is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/real-common.sh
real_args palmsig-real-cv "$@"
set -- "${flags[@]}"

sets=()
for m in "$dir"/*/manifest.csv; do
  [ -f "$m" ] || continue
  name=$(basename "$(dirname "$m")")
  # Two fold manifests with absolute image paths.
  python3 - "$m" "$out/$name" <<'EOF'
import csv, os, sys
src, dst = sys.argv[1], sys.argv[2]
base = os.path.dirname(os.path.abspath(src))
lines = open(src).read().splitlines()
comments = [l for l in lines if l.startswith("#")]
rows = list(csv.reader(l for l in lines if l and not l.startswith("#")))
head, body = rows[0], rows[1:]
subj = head.index("subject")
subjects = sorted({r[subj] for r in body})
fold = {s: i % 2 for i, s in enumerate(subjects)}
for k in (0, 1):
    os.makedirs(f"{dst}/fold{k}", exist_ok=True)
    with open(f"{dst}/fold{k}/manifest.csv", "w", newline="") as f:
        for c in comments:
            f.write(c + "\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(head)
        for r in body:
            if fold[r[subj]] != k:
                continue
            r = list(r)
            for col in ("visible", "nir"):
                i = head.index(col)
                if r[i]:
                    r[i] = os.path.join(base, r[i])
            w.writerow(r)
EOF
  sets+=("$name")
done
[ ${#sets[@]} -gt 0 ] || { echo "no */manifest.csv under $dir" >&2; exit 2; }

# As the built-in tables are made: one profile fitted on every set's fold k pooled, then each
# set's other fold scored with it.
for k in 0 1; do
  other=$((1 - k))
  fits=()
  for name in "${sets[@]}"; do fits+=(--manifest "$out/$name/fold$k/manifest.csv"); done
  echo "== fit on fold $k of ${sets[*]}" >&2
  "$bin" calibrate "${fits[@]}" --out "$out/profile$k.json" "$@" >"$out/calibrate$k.log" 2>&1 ||
    { echo "calibrate failed on fold $k (see $out/calibrate$k.log)" >&2; exit 1; }
  for name in "${sets[@]}"; do
    m="$dir/$name/manifest.csv"
    protocol=$(sed -n 's/^#protocol=\([a-z-]*\).*/\1/p' "$m" | head -n1)
    protocol=${protocol:-cross-session}
    "$bin" eval --manifest "$out/$name/fold$other/manifest.csv" --protocol "$protocol" \
      --profile "$out/profile$k.json" --out "$out/$name/eval$other" "$@" \
      >"$out/$name/eval$other.log" 2>&1 ||
      { echo "eval failed on $name fold $other (see $out/$name/eval$other.log)" >&2; exit 1; }
  done
done

python3 - "$out" "${sets[@]}" <<'EOF'
import sys

out, sets = sys.argv[1], sys.argv[2:]
for name in sets:
    imp = []
    for k in (0, 1):
        for line in open(f"{out}/{name}/eval{k}/scores.txt"):
            a, b, _, s = line.split()
            if a != b:
                imp.append(float(s))
    cells = []
    for nominal, thr in (("1e-2", 2.0), ("1e-3", 3.0)):
        n = sum(s >= thr for s in imp)
        fmr = n / len(imp)
        cells.append(f"{nominal}: FMR {fmr:.1e} ({fmr / float(nominal):.2f}x, {n} of {len(imp)})")
    print(f"{name}: fitted on the other fold's subjects   " + "   ".join(cells))
EOF
