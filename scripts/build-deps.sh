#!/usr/bin/env bash
# Builds static librdkafka and libpq from Debian's own source packages into the cache, once.
#
# Why: Debian's librdkafka.a needs Cyrus SASL (GSSAPI, LDAP, Berkeley DB) and Debian's libpq.a
# needs GSSAPI/LDAP, none of which ship static archives, so a fully static pokeflow cannot link
# against them. The same sources built without those features link statically against glibc,
# OpenSSL, zstd, lz4 and zlib. SASL PLAIN/SCRAM/OAUTHBEARER and SSL stay available.
#
# Usage: scripts/build-deps.sh               build unless already built (then instant)
#        scripts/build-deps.sh --print-prefix print the install prefix and exit
#        scripts/build-deps.sh --rebuild      throw the prefix away and build again
#
# Result: PREFIX/include/{librdkafka/rdkafka.h,libpq-fe.h,libpq-events.h,postgres_ext.h,
#         pg_config_ext.h} and PREFIX/lib/{librdkafka.a,libpq.a,libpgcommon_shlib.a,
#         libpgport_shlib.a}; PREFIX is also written to $POKEFLOW_CACHE/deps.prefix.
set -euo pipefail

PF_TAG=build-deps
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"

RDKAFKA_SRC=librdkafka
RDKAFKA_VERSION=2.0.2-1
PG_SRC=postgresql-15
# The newest bookworm-security source was not served by the mirror; this point release is.
PG_VERSION=15.18-0+deb12u1
RDKAFKA_CONFIGURE=(--enable-ssl --enable-zlib --enable-zstd --enable-lz4-ext --disable-gssapi
                   --disable-curl)
# sysconfdir matches Debian's libpq, so pg_service.conf is looked up where Debian puts it.
PG_CONFIGURE=(--with-openssl --without-gssapi --without-ldap --without-readline --without-icu
              --sysconfdir=/etc/postgresql-common)
JOBS=${POKEFLOW_JOBS:-2}
# Under `make setup` the outer make exports MAKELEVEL/MAKEFLAGS. PostgreSQL's makefiles only
# generate the backend headers (utils/errcodes.h, ...) themselves when MAKELEVEL is 0, so the
# same command worked from a shell and failed under make. Build as from a clean shell, and
# generate the headers explicitly below so nothing depends on that rule.
unset MAKELEVEL MAKEFLAGS MFLAGS MAKEOVERRIDES GNUMAKEFLAGS

# Our fixes to librdkafka, applied (patch -p1) on top of Debian's: each names the upstream issue
# it works around. Their hash is part of the prefix, so a clone with other patches builds its own
# copy beside this one instead of rebuilding this one.
RDKAFKA_PATCHES=("$here"/patches/librdkafka-*.patch)
[[ -f ${RDKAFKA_PATCHES[0]} ]] || RDKAFKA_PATCHES=()
patch_key=$(cat /dev/null "${RDKAFKA_PATCHES[@]}" | sha256sum | cut -c1-8)
DEPS_DIR=$POKEFLOW_CACHE/deps
PREFIX=$DEPS_DIR/rdkafka-${RDKAFKA_VERSION%-*}-p$patch_key-pq-${PG_VERSION%%-*}
STAMP=$PREFIX/.pokeflow-built
# Changing any build input changes the recipe, which triggers a rebuild.
RECIPE="recipe=2 $RDKAFKA_SRC=$RDKAFKA_VERSION patches=$patch_key ${RDKAFKA_CONFIGURE[*]} $PG_SRC=$PG_VERSION ${PG_CONFIGURE[*]}"

rebuild=0
case ${1:-} in
  --print-prefix) printf '%s\n' "$PREFIX"; exit 0 ;;
  --rebuild) rebuild=1 ;;
  '') ;;
  -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) pf_die "unknown argument '$1' (use --print-prefix, --rebuild or nothing)" ;;
esac

record_prefix() { pf_stamp_write "$POKEFLOW_CACHE/deps.prefix" "$PREFIX"; }

if [[ $rebuild -eq 0 ]] && pf_stamp_ok "$STAMP" "$RECIPE"; then
  record_prefix
  pf_log "static deps up to date in $PREFIX"
  exit 0
fi

pf_need apt-get dpkg-source patch gcc g++ make perl pkg-config flock awk
multiarch=$(gcc -print-multiarch)
for lib in ssl crypto zstd lz4 z; do
  [[ -f /usr/lib/$multiarch/lib$lib.a ]] ||
    pf_die "/usr/lib/$multiarch/lib$lib.a missing (run scripts/setup.sh for the -dev packages)"
done

mkdir -p "$DEPS_DIR"
# Two builds at once (two clones, make -j) would trample each other's work tree.
exec 9>"$DEPS_DIR/.lock"
flock 9
if [[ $rebuild -eq 0 ]] && pf_stamp_ok "$STAMP" "$RECIPE"; then
  record_prefix
  pf_log "static deps were built meanwhile: $PREFIX"
  exit 0
fi

work=$DEPS_DIR/work
logs=$DEPS_DIR/logs
rm -rf "$work" "$PREFIX.partial"
mkdir -p "$work" "$logs" "$DEPS_DIR/sources"

# run LOGNAME CMD...: quiet on success; on failure the log's tail and where the rest is.
run() {
  local log=$logs/$1.log
  shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    pf_die "'$*' failed; full log: $log"
  fi
}

# --- Debian sources through a private apt configuration -----------------------------------
# deb-src entries mirror the configured Debian suites of this release, but live in our own
# sources list and lists directory: the machine's apt configuration and indexes stay as they
# were, and the system package cache is neither read nor rewritten.
codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
[[ -n $codename ]] || pf_die "cannot read VERSION_CODENAME from /etc/os-release"
apt_dir=$DEPS_DIR/apt
rm -rf "$apt_dir"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial"

suite_re="^$codename(-updates|-security)?\$"
# One-line format (sources.list, *.list): deb [options] URI SUITE COMPONENT...
one_line_src() {
  awk -v re="$suite_re" '
    $1 != "deb" { next }
    {
      i = 2; opts = ""
      if ($2 ~ /^\[/) {
        while (i <= NF) { opts = opts (opts == "" ? "" : " ") $i; if ($i ~ /\]$/) break; i++ }
        i++
      }
      uri = $i; suite = $(i + 1); main = 0
      for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
      if (main && suite ~ re) print "deb-src " (opts == "" ? "" : opts " ") uri " " suite " main"
    }' "$@"
}
# deb822 format (*.sources): one stanza per entry; other fields (Signed-By...) are kept as is.
deb822_src() {
  awk -v re="$suite_re" '
    BEGIN { RS = ""; FS = "\n" }
    {
      on = 1; types = ""; suites = ""; comps = ""; other = ""; cont = 0
      for (i = 1; i <= NF; i++) {
        line = $i
        if (line ~ /^#/) continue
        if (line ~ /^[ \t]/) { if (cont) other = other "\n" line; continue }
        key = tolower(substr(line, 1, index(line, ":") - 1))
        val = substr(line, index(line, ":") + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
        cont = 0
        if (key == "types") types = val
        else if (key == "suites") suites = val
        else if (key == "components") comps = val
        else if (key == "enabled") { if (tolower(val) == "no") on = 0 }
        else if (key != "architectures") { cont = 1; other = other (other == "" ? "" : "\n") line }
      }
      if (!on || (" " types " ") !~ / deb / || (" " comps " ") !~ / main /) next
      n = split(suites, s, /[ \t]+/); keep = ""
      for (j = 1; j <= n; j++) if (s[j] ~ re) keep = keep " " s[j]
      if (keep != "") printf "Types: deb-src\nSuites:%s\nComponents: main\n%s\n\n", keep, other
    }' "$@"
}

shopt -s nullglob
lists=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
stanzas=(/etc/apt/sources.list.d/*.sources)
shopt -u nullglob
existing=()
for f in "${lists[@]}"; do [[ -f $f ]] && existing+=("$f"); done
: >"$apt_dir/sources.list"
if [[ ${#existing[@]} -gt 0 ]]; then one_line_src "${existing[@]}" >"$apt_dir/sources.list"; fi
if [[ ${#stanzas[@]} -gt 0 ]]; then
  deb822_src "${stanzas[@]}" >"$apt_dir/sources.list.d/pokeflow-src.sources"
fi
if ! grep -qs . "$apt_dir/sources.list" "$apt_dir/sources.list.d/pokeflow-src.sources"; then
  pf_die "no Debian '$codename' main entry in /etc/apt/sources.list{,.d/} to mirror as deb-src"
fi

apt_private=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
             -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
             -o "Dir::State::Lists=$apt_dir/lists"
             -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=")
# Our cache may sit under a home the _apt sandbox user cannot enter; root fetches directly.
[[ $(id -u) -eq 0 ]] && apt_private+=(-o "APT::Sandbox::User=root")

pf_log "fetching $RDKAFKA_SRC $RDKAFKA_VERSION and $PG_SRC $PG_VERSION sources"
run apt-update apt-get "${apt_private[@]}" -q update
# Already present, hash-verified downloads are kept, so a rebuild needs no mirror.
(cd "$DEPS_DIR/sources" && run apt-source apt-get "${apt_private[@]}" -q --download-only source \
  "$RDKAFKA_SRC=$RDKAFKA_VERSION" "$PG_SRC=$PG_VERSION")
dsc() { printf '%s/sources/%s_%s.dsc' "$DEPS_DIR" "$1" "${2#*:}"; }
# apt verified the files against the signed Sources index; dpkg-source applies Debian's patches.
run unpack-rdkafka dpkg-source --no-check -x "$(dsc "$RDKAFKA_SRC" "$RDKAFKA_VERSION")" "$work/rdkafka"
for p in "${RDKAFKA_PATCHES[@]}"; do
  run "patch-${p##*/}" patch -d "$work/rdkafka" -p1 --forward --batch -i "$p"
done
run unpack-pg dpkg-source --no-check -x "$(dsc "$PG_SRC" "$PG_VERSION")" "$work/pg"

# --- librdkafka: only the static C library -------------------------------------------------
pf_log "building librdkafka (static, -j$JOBS)"
(cd "$work/rdkafka" &&
  run rdkafka-configure ./configure --prefix="$PREFIX" "${RDKAFKA_CONFIGURE[@]}" &&
  run rdkafka-make make -C src -j"$JOBS" librdkafka.a)

# --- libpq: configure the whole tree, build only libpq and the two helper archives --------
pf_log "building libpq (static, -j$JOBS)"
(cd "$work/pg" &&
  run pg-configure ./configure --prefix="$PREFIX" "${PG_CONFIGURE[@]}" CFLAGS=-O2 &&
  run pg-headers make -C src/backend generated-headers &&
  run pg-make make -C src/interfaces/libpq -j"$JOBS" &&
  run pg-make-helpers make -C src/common -j"$JOBS" libpgcommon_shlib.a &&
  run pg-make-port make -C src/port -j"$JOBS" libpgport_shlib.a)

# --- install into a side directory, prove it links statically, then move it in place -------
stage=$PREFIX.partial
mkdir -p "$stage/lib" "$stage/include/librdkafka"
install -m 644 "$work/rdkafka/src/librdkafka.a" "$work/pg/src/interfaces/libpq/libpq.a" \
  "$work/pg/src/common/libpgcommon_shlib.a" "$work/pg/src/port/libpgport_shlib.a" "$stage/lib/"
install -m 644 "$work/rdkafka/src/rdkafka.h" "$work/rdkafka/src/rdkafka_mock.h" \
  "$stage/include/librdkafka/"
install -m 644 "$work/pg/src/interfaces/libpq/libpq-fe.h" \
  "$work/pg/src/interfaces/libpq/libpq-events.h" "$work/pg/src/include/postgres_ext.h" \
  "$work/pg/src/include/pg_config_ext.h" "$stage/include/"

pf_log "checking that a program links fully static against them"
cat >"$work/smoke.c" <<'EOF'
#include <stdio.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
int main(void) {
  char err[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* Fails at once if SCRAM, SSL or zstd support were missing from the build. */
  if (rd_kafka_conf_set(conf, "security.protocol", "SASL_SSL", err, sizeof err) ||
      rd_kafka_conf_set(conf, "sasl.mechanisms", "SCRAM-SHA-512", err, sizeof err) ||
      rd_kafka_conf_set(conf, "compression.codec", "zstd", err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  rd_kafka_conf_destroy(conf);
  printf("%s %d\n", rd_kafka_version_str(), PQlibVersion());
  return 0;
}
EOF
a=/usr/lib/$multiarch
run smoke-link gcc -O2 -I"$stage/include" "$work/smoke.c" -o "$work/smoke" -static \
  "$stage/lib/librdkafka.a" "$stage/lib/libpq.a" "$stage/lib/libpgcommon_shlib.a" \
  "$stage/lib/libpgport_shlib.a" "$a/libssl.a" "$a/libcrypto.a" "$a/libzstd.a" "$a/liblz4.a" \
  "$a/libz.a" -lpthread -ldl -lm
out=$("$work/smoke") || pf_die "static smoke program failed to run: $work/smoke"
want="${RDKAFKA_VERSION%-*} $(printf '%d%04d' "${PG_VERSION%%.*}" "$(v=${PG_VERSION#*.}; echo "${v%%-*}")")"
[[ $out == "$want" ]] || pf_die "smoke program printed '$out', expected '$want'"

pf_stamp_write "$stage/.pokeflow-built" "$RECIPE"
rm -rf "$PREFIX"
mv "$stage" "$PREFIX"
rm -rf "$work" "$apt_dir"
record_prefix
pf_log "static deps ready in $PREFIX (librdkafka $RDKAFKA_VERSION, libpq $PG_VERSION)"
