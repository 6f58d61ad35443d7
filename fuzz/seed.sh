#!/usr/bin/env bash
# Seeds the fuzz corpora from the shared codec vectors (../shared/vectors,
# beside the repository). The corpora are generated, never committed.
#
#   fuzz/corpus/decode/     one file per vector: a byte holding the vector's
#                           Decimals, then its compressed text (the layout the
#                           `decode` target reads)
#   fuzz/corpus/roundtrip/  the same files: raw bytes for `arbitrary` to shape
#
# Usage: fuzz/seed.sh   (from anywhere; needs python3)
set -euo pipefail

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vectors="${SDM_VECTORS_DIR:-$fuzz_dir/../../shared/vectors}"

if ! ls "$vectors"/*.jsonl >/dev/null 2>&1; then
    echo "seed.sh: no vector files in $vectors" >&2
    exit 1
fi

python3 - "$vectors" "$fuzz_dir/corpus" <<'PY'
import hashlib, json, os, pathlib, sys

vectors, corpus = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
targets = [corpus / "decode", corpus / "roundtrip"]
for t in targets:
    t.mkdir(parents=True, exist_ok=True)
names = set()
for path in sorted(vectors.glob("*.jsonl")):
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        text = case.get("compressed", case.get("expected_compressed"))
        if text is None:
            continue
        data = bytes([case["decimals"] % 256]) + text.encode("utf-8")
        name = hashlib.sha1(data).hexdigest()
        for t in targets:
            (t / name).write_bytes(data)
        names.add(name)
if not names:
    sys.exit("seed.sh: the vector files hold no compressed texts")
print(f"seed.sh: {len(names)} distinct seeds written to {', '.join(str(t) for t in targets)}")
PY
