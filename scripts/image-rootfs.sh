#!/usr/bin/env bash
# Assembles into DIR exactly the files of the Dockerfile's final stage, from the local build,
# so the image's contents can be tested without a container engine (chroot DIR /pokeflow ...).
#
# Usage: scripts/image-rootfs.sh [--meta FILE] DIR
#   DIR          must not exist or be empty
#   --meta FILE  also write the stage's runtime settings, one per line:
#                "env KEY=VALUE", "user UID:GID", "workdir PATH", "entrypoint PATH"
#
# How the final stage's lines map to local files (the Dockerfile's build stage has WORKDIR /src):
#   COPY --from=build /src/build/X DST   ->  $POKEFLOW_BUILD_DIR/X (default: build/X), and
#                                            ELF files are stripped as the build stage does
#   COPY --from=build /src/X DST         ->  the repository's X
#   COPY --from=build /other DST         ->  the host's /other (the host is Debian bookworm too)
#   COPY <<NAME DST ... NAME             ->  the heredoc's lines
# Any other instruction in the final stage is an error, so the two cannot silently drift.
# Prints the stripped binary's size and the whole tree's size on stderr.
set -euo pipefail

PF_TAG=image-rootfs
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"

meta=
while [[ $# -gt 0 ]]; do
  case $1 in
    --meta) [[ $# -ge 2 ]] || pf_die "--meta needs a file"; meta=$2; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) pf_die "unknown option '$1'" ;;
    *) break ;;
  esac
done
[[ $# -eq 1 ]] || pf_die "usage: scripts/image-rootfs.sh [--meta FILE] DIR"
out=$1
dockerfile=${POKEFLOW_DOCKERFILE:-$repo/Dockerfile}
build_dir=${POKEFLOW_BUILD_DIR:-$repo/build}
[[ -f $dockerfile ]] || pf_die "no Dockerfile at $dockerfile"
if [[ -e $out ]] && [[ -n $(ls -A "$out") ]]; then
  pf_die "$out is not empty: the tree must hold exactly the image's files"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
pf_need strip

is_elf() { [[ $(head -c 4 "$1" | od -An -c | tr -d ' \n') == '177ELF' ]]; }

# Copies SRC (file or directory) to DST inside the tree with Docker's COPY semantics:
# a directory's contents land in DST, a file lands at DST (or in it when DST ends in /).
copy_in() {
  local src=$1 dst=$2 strip_elf=$3 target
  [[ -e $src ]] || pf_die "'$src' (for $dst) does not exist: build it first (make build)"
  if [[ -d $src ]]; then
    mkdir -p "$out$dst"
    cp -R "$src/." "$out$dst/"
  else
    if [[ $dst == */ ]]; then target=$out$dst$(basename "$src"); else target=$out$dst; fi
    mkdir -p "$(dirname "$target")"
    cp "$src" "$target"
    if [[ $strip_elf == 1 ]] && is_elf "$target"; then strip --strip-all "$target"; fi
  fi
}

# Line numbers of FROM instructions; the last one starts the final stage.
final_from=$(grep -n -i '^[[:space:]]*FROM[[:space:]]' "$dockerfile" | tail -1 | cut -d: -f1)
[[ -n $final_from ]] || pf_die "$dockerfile has no FROM"

meta_lines=()
heredoc_end='' heredoc_dst='' heredoc_body=''
lineno=0
while IFS= read -r line || [[ -n $line ]]; do
  lineno=$((lineno + 1))
  [[ $lineno -le $final_from ]] && continue
  if [[ -n $heredoc_end ]]; then
    if [[ $line == "$heredoc_end" ]]; then
      mkdir -p "$(dirname "$out$heredoc_dst")"
      printf '%s' "$heredoc_body" >"$out$heredoc_dst"
      chmod 0644 "$out$heredoc_dst"
      heredoc_end='' heredoc_body=''
    else
      heredoc_body+=$line$'\n'
    fi
    continue
  fi
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  [[ $line == *\\ ]] && pf_die "$dockerfile:$lineno: line continuations are not supported in the final stage"
  read -r -a w <<<"$line"
  case ${w[0]^^} in
    COPY)
      if [[ ${#w[@]} -eq 3 && ${w[1]} =~ ^\<\<([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
        heredoc_end=${BASH_REMATCH[1]} heredoc_dst=${w[2]}
      elif [[ ${#w[@]} -eq 4 && ${w[1]} == --from=build ]]; then
        src=${w[2]} dst=${w[3]}
        case $src in
          /src/build/*) copy_in "$build_dir/${src#/src/build/}" "$dst" 1 ;;
          /src/*) copy_in "$repo/${src#/src/}" "$dst" 0 ;;
          /*) copy_in "$src" "$dst" 0 ;;
          *) pf_die "$dockerfile:$lineno: COPY source must be absolute: $src" ;;
        esac
      else
        pf_die "$dockerfile:$lineno: unsupported COPY form (use 'COPY --from=build SRC DST' or 'COPY <<NAME DST'): $line"
      fi
      ;;
    ENV)
      [[ ${#w[@]} -eq 2 && ${w[1]} == *=* && ${w[1]} != *[\"\']* ]] ||
        pf_die "$dockerfile:$lineno: use one unquoted 'ENV KEY=VALUE' per line: $line"
      meta_lines+=("env ${w[1]}")
      ;;
    USER) meta_lines+=("user ${w[1]}") ;;
    WORKDIR) mkdir -p "$out${w[1]}"; meta_lines+=("workdir ${w[1]}") ;;
    ENTRYPOINT)
      [[ $line =~ ENTRYPOINT[[:space:]]+\[\"([^\"]+)\"\] ]] ||
        pf_die "$dockerfile:$lineno: use ENTRYPOINT [\"/path\"]: $line"
      meta_lines+=("entrypoint ${BASH_REMATCH[1]}")
      ;;
    EXPOSE | LABEL) ;;
    *) pf_die "$dockerfile:$lineno: image-rootfs.sh does not know '${w[0]}' in the final stage" ;;
  esac
done <"$dockerfile"
[[ -z $heredoc_end ]] || pf_die "$dockerfile: heredoc $heredoc_end is not closed"

if [[ -n $meta ]]; then
  printf '%s\n' "${meta_lines[@]}" >"$meta"
fi
entry=$(printf '%s\n' "${meta_lines[@]}" | sed -n 's/^entrypoint //p')
if [[ -n $entry && -f $out$entry ]]; then
  pf_log "entrypoint $entry: $(stat -c %s "$out$entry") bytes stripped; whole tree: $(du -sb "$out" | cut -f1) bytes"
fi
