#!/usr/bin/env bash
# Resolves the Apache Kafka broker jars (version: kafka.version in scripts/kafka/pom.xml) and
# their runtime dependencies with Maven into $POKEFLOW_CACHE/kafka-<version>/libs, once.
#
#   scripts/kafka-install.sh            install if needed (a rerun is instant), print the libs dir
#   scripts/kafka-install.sh --version  print the Kafka version
#   scripts/kafka-install.sh --libs     print the libs dir without installing
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PF_TAG=kafka-install
# shellcheck source=common.sh
source "$here/common.sh"

pom="$here/kafka/pom.xml"
[[ -f $pom ]] || pf_die "missing $pom"
version=$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$pom" | head -n1)
[[ -n $version ]] || pf_die "no <kafka.version> in $pom"
dest="$POKEFLOW_CACHE/kafka-$version"
libs="$dest/libs"

case "${1:-}" in
  --version) printf '%s\n' "$version"; exit 0 ;;
  --libs) printf '%s\n' "$libs"; exit 0 ;;
  '') ;;
  *) pf_die "unknown argument '$1' (expected nothing, --version or --libs)" ;;
esac

# The stamp holds the pom's checksum, so editing the pom (another version, another logging
# jar) re-resolves, and an interrupted copy (no stamp) is redone from scratch.
key=$(sha256sum "$pom" | cut -d' ' -f1)
stamp="$dest/.installed"
if pf_stamp_ok "$stamp" "$key" && [[ -f $libs/kafka_2.13-$version.jar ]]; then
  printf '%s\n' "$libs"
  exit 0
fi

pf_need mvn java
pf_log "resolving Apache Kafka $version with Maven into $libs"
mkdir -p "$dest"
tmp="$dest/libs.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
# Batch mode and no stdin: this runs unattended in setup and CI.
# The local repository lives in the cache (common.sh), so an empty cache resolves from nothing.
if ! mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$POKEFLOW_M2_REPO" -f "$pom" \
    dependency:copy-dependencies -DoutputDirectory="$tmp" </dev/null >"$dest/mvn.log" 2>&1; then
  tail -n 30 "$dest/mvn.log" >&2
  pf_die "Maven could not resolve Kafka $version (full log: $dest/mvn.log)"
fi
[[ -f $tmp/kafka_2.13-$version.jar ]] || pf_die "Maven ran but $tmp has no kafka_2.13-$version.jar"
rm -rf "$libs"
mv "$tmp" "$libs"
pf_stamp_write "$stamp" "$key"
pf_log "Kafka $version: $(find "$libs" -name '*.jar' | wc -l) jars in $libs"
printf '%s\n' "$libs"
