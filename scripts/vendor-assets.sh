#!/usr/bin/env bash
# Refresh the vendored browser libraries from the npm registry, at the pinned versions below.
# The site loads nothing from other hosts, so these files are committed with their licences.
# Usage: bash scripts/vendor-assets.sh   (change a version here, run it, commit the result)
set -euo pipefail

MERMAID_VERSION=11.17.2
TABLESORT_VERSION=5.7.1

root=$(cd "$(dirname "$0")/.." && pwd)
vendor="$root/docs/assets/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "mermaid@$MERMAID_VERSION" "tablesort@$TABLESORT_VERSION" >/dev/null
mkdir mermaid tablesort
tar xzf "mermaid-$MERMAID_VERSION.tgz" -C mermaid
tar xzf "tablesort-$TABLESORT_VERSION.tgz" -C tablesort

rm -rf "$vendor/mermaid" "$vendor/tablesort"
mkdir -p "$vendor/mermaid" "$vendor/tablesort"
cp mermaid/package/dist/mermaid.min.js mermaid/package/LICENSE "$vendor/mermaid/"
cp tablesort/package/dist/tablesort.min.js \
   tablesort/package/dist/sorts/tablesort.number.min.js \
   tablesort/package/LICENCE "$vendor/tablesort/"
# mermaid.min.js ends with a source-map comment for a file we do not ship: drop it.
sed -i '/^\/\/# sourceMappingURL=/d' "$vendor/mermaid/mermaid.min.js"

cat > "$vendor/VERSIONS" <<TXT
mermaid $MERMAID_VERSION (MIT, see mermaid/LICENSE)
tablesort $TABLESORT_VERSION (MIT, see tablesort/LICENCE)
Updated by scripts/vendor-assets.sh; do not edit these files by hand.
TXT
echo "vendored mermaid $MERMAID_VERSION and tablesort $TABLESORT_VERSION into $vendor"
