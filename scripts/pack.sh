#!/usr/bin/env bash
# The pack command (`npm run pack [-- <out-dir>]`): build every publishable package
# (packages/*, not private) and pack each into a tarball, as `npm publish` would ship it,
# into <out-dir> (default dist/packs, git-ignored), after removing the weir-*.tgz tarballs
# an earlier run left there. Prints the tarballs' paths, one a line.
#
# The tarballs install together into any project, outside this repository:
#   npm install /path/to/weir-core-0.1.0.tgz /path/to/weir-0.1.0.tgz …
# (a package's dependency on another @weir package is met by that package's tarball).
#
# The build happens in a staging copy in a temporary directory, so nothing is left in the
# packages (a packages/*/dist would make the repository's own `weir` command run that
# build instead of the sources). Only `node_modules` of the repository is needed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/dist/packs}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

log() { printf 'pack: %s\n' "$*" >&2; }

[ -d "$root/node_modules" ] || { log "no node_modules: run \`npm install\` in $root first"; exit 1; }

# The publishable packages, dependencies first (tsc needs a dependency's declarations).
mapfile -t packages < <(node --input-type=module -e '
  import { readdirSync, readFileSync, existsSync } from "node:fs"
  const dir = process.argv[1] + "/packages"
  const found = new Map()
  for (const d of readdirSync(dir)) {
    const file = `${dir}/${d}/package.json`
    if (!existsSync(file)) continue
    const pkg = JSON.parse(readFileSync(file, "utf8"))
    if (pkg.private !== true) found.set(pkg.name, { dir: d, pkg })
  }
  const order = []
  const seen = new Set()
  const visit = (name) => {
    if (seen.has(name)) return
    seen.add(name)
    const { pkg, dir } = found.get(name)
    const deps = { ...pkg.devDependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies, ...pkg.dependencies }
    for (const dep of Object.keys(deps)) if (found.has(dep)) visit(dep)
    order.push(dir)
  }
  for (const name of [...found.keys()].sort()) visit(name)
  console.log(order.join("\n"))
' "$root")

stage="$(mktemp -d "${TMPDIR:-/tmp}/weir-pack-XXXXXX")"
trap 'rm -rf "$stage"' EXIT

# The staging copy resolves modules as the repository does, except that @weir/* are the
# staged (built) packages rather than the workspace's source links.
cp "$root/tsconfig.base.json" "$stage/"
mkdir -p "$stage/node_modules/@weir" "$stage/packages"
for entry in "$root"/node_modules/* "$root"/node_modules/.bin; do
  # Not the workspace's own links (node_modules/weir, node_modules/@weir/*): those are staged below.
  case "$(readlink -f "$entry")" in "$root"/packages/* | "$root"/apps/*) continue ;; esac
  [ "$(basename "$entry")" = "@weir" ] || ln -sn "$entry" "$stage/node_modules/"
done
for dir in "${packages[@]}"; do
  src="$root/packages/$dir"
  dst="$stage/packages/$dir"
  mkdir -p "$dst"
  for item in package.json README.md LICENSE tsconfig.build.json src bin; do
    [ -e "$src/$item" ] && cp -R "$src/$item" "$dst/"
  done
  [ -d "$src/node_modules" ] && ln -sn "$src/node_modules" "$dst/node_modules"
  name="$(node -p 'require(process.argv[1]).name' "$src/package.json")"
  ln -sn "$dst" "$stage/node_modules/$name"
done

tsc="$root/node_modules/.bin/tsc"
for dir in "${packages[@]}"; do
  dst="$stage/packages/$dir"
  log "building $dir"
  (cd "$dst" && "$tsc" -p tsconfig.build.json)
  rm -f "$dst"/dist/.tsbuildinfo
  # The package's `exports` must point at files the build made.
  node -e '
    const { existsSync } = require("node:fs")
    const { join } = require("node:path")
    const dir = process.argv[1]
    const pkg = require(join(dir, "package.json"))
    const targets = []
    const walk = (v) => typeof v === "string" ? targets.push(v) : v && Object.values(v).forEach(walk)
    walk(pkg.exports); walk(pkg.main); walk(pkg.types); walk(pkg.bin)
    const missing = targets.filter((t) => !existsSync(join(dir, t)))
    if (missing.length > 0) {
      console.error(`pack: ${pkg.name}: package.json points at files the build did not make: ${missing.join(", ")}`)
      process.exit(1)
    }
  ' "$dst"
done

rm -f "$out"/weir-*.tgz
for dir in "${packages[@]}"; do
  tarball="$(cd "$stage/packages/$dir" && npm pack --silent --pack-destination "$out" | tail -n 1)"
  echo "$out/$tarball"
done
log "packed ${#packages[@]} packages into $out"
