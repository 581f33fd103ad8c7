# Shared set-up for scripts/run and scripts/test: a virtualenv with the pinned dependencies and
# a reachable PostgreSQL server with PostGIS. Sourced, not run.
# Environment: DATABASE_URL (use that server as is), PYTHON (interpreter, default python3).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PRIVATE_PG="$ROOT/.pg"
PRIVATE_PG_PORT=54329

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "needs root (or sudo) to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $* here: no apt-get; install it by hand"
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  die "Python 3.11 or newer is required"
}

ensure_venv() {
  local python lock stamp
  python=$(find_python)
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtualenv"
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      apt_install python3-venv
      "$python" -m venv "$VENV"
    fi
  fi
  lock="$ROOT/requirements/lock.txt"
  stamp=$(cat "$lock" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
  if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$stamp" ]; then
    say "installing the pinned dependencies"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$ROOT"
    echo "$stamp" > "$VENV/.installed"
  fi
}

pgtool() { "$VENV/bin/python" "$ROOT/scripts/pgtool.py" "$@"; }

# Prints the server's major version when it answers at $1, fails otherwise.
server_major() { pgtool major "$1" 2>/dev/null; }

ensure_postgis_package() {
  local major=$1
  if ! dpkg -s "postgresql-$major-postgis-3" >/dev/null 2>&1; then
    apt_install "postgresql-$major-postgis-3"
  fi
}

start_private_cluster() {
  local bin major
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ]; then
    apt_install postgresql
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  major=$(basename "$(dirname "$bin")")
  ensure_postgis_package "$major"
  local run=()
  if [ "$(id -u)" -eq 0 ]; then run=(runuser -u postgres --); fi
  mkdir -p "$PRIVATE_PG"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$PRIVATE_PG"
  if [ ! -f "$PRIVATE_PG/data/PG_VERSION" ]; then
    say "initialising a private PostgreSQL $major cluster in .pg/"
    "${run[@]}" "$bin/initdb" -D "$PRIVATE_PG/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! "${run[@]}" "$bin/pg_ctl" -D "$PRIVATE_PG/data" status >/dev/null 2>&1; then
    say "starting the private cluster on 127.0.0.1:$PRIVATE_PG_PORT"
    "${run[@]}" "$bin/pg_ctl" -D "$PRIVATE_PG/data" -l "$PRIVATE_PG/server.log" -w \
      -o "-p $PRIVATE_PG_PORT -c listen_addresses=127.0.0.1 -k $PRIVATE_PG" start >/dev/null
  fi
}

# Sets SERVER_URL to a PostgreSQL server with PostGIS available, and APP_DB to the database name
# DATABASE_URL asks for (default: territoire).
ensure_postgis_server() {
  local local_url="postgresql://postgres@127.0.0.1:5432/postgres"
  local major
  if [ -n "${DATABASE_URL:-}" ]; then
    # Probe the server through its maintenance database: the named one may not exist yet.
    SERVER_URL=$(pgtool with-db "$DATABASE_URL" postgres)
    major=$(server_major "$SERVER_URL") || die "the server of DATABASE_URL does not answer"
    if ! pgtool has-postgis "$SERVER_URL"; then
      pgtool is-local "$SERVER_URL" || die "PostGIS is not available on the DATABASE_URL server; install it there"
      ensure_postgis_package "$major"
    fi
    return
  fi
  if major=$(server_major "$local_url"); then
    SERVER_URL=$local_url
  else
    start_private_cluster
    SERVER_URL="postgresql://postgres@127.0.0.1:$PRIVATE_PG_PORT/postgres"
    major=$(server_major "$SERVER_URL") || die "the private cluster does not answer; see .pg/server.log"
  fi
  pgtool has-postgis "$SERVER_URL" || ensure_postgis_package "$major"
  pgtool has-postgis "$SERVER_URL" || die "PostGIS still unavailable on the server after installing it"
}

# Sets DATABASE_URL (asyncpg form) to the application's database, created when missing.
ensure_app_database() {
  ensure_postgis_server
  DATABASE_URL=$(pgtool with-db "${DATABASE_URL:-$SERVER_URL}" "$(app_db_name)")
  export DATABASE_URL
}

app_db_name() {
  if [ -n "${DATABASE_URL:-}" ]; then
    "$VENV/bin/python" -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).path.lstrip("/") or "territoire")' "$DATABASE_URL"
  else
    echo territoire
  fi
}

# Headless Chromium, for the tests that render pages as a browser would.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || apt_install chromium
}

# GDAL's command-line tools (ogrinfo, ogr2ogr), for the tests that read the OGC API with GDAL's
# OAPIF driver, as QGIS and ogr2ogr do.
ensure_gdal() {
  { command -v ogrinfo >/dev/null 2>&1 && command -v ogr2ogr >/dev/null 2>&1; } \
    || apt_install gdal-bin
}

# Node.js and npm (Debian's when absent), then `npm ci` in a folder of the repository when its
# node_modules is missing or was installed from another package.json or package-lock.json.
npm_ci_in() {
  local dir="$ROOT/$1" stamp
  { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || apt_install nodejs npm
  stamp=$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-16)
  if [ "$(cat "$dir/node_modules/.installed" 2>/dev/null)" != "$stamp" ]; then
    say "npm ci ($1/)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$stamp" > "$dir/node_modules/.installed"
  fi
}

# The npm tools pinned in clients/ (openapi-typescript, openapi-fetch, TypeScript), for the test
# that generates and type-checks the TypeScript client.
ensure_client_tools() {
  npm_ci_in clients
}

# The browser libraries of the explorer (web/package-lock.json: MapLibre GL JS, and axe-core for
# the accessibility tests), their files copied to app/static/vendor/ (git-ignored), from which
# the service serves them: no CDN.
ensure_web_assets() {
  local web="$ROOT/web" vendor="$ROOT/app/static/vendor"
  npm_ci_in web
  mkdir -p "$vendor/maplibre-gl"
  cp "$web/node_modules/maplibre-gl/dist/maplibre-gl.js" \
    "$web/node_modules/maplibre-gl/dist/maplibre-gl.css" \
    "$web/node_modules/maplibre-gl/LICENSE.txt" "$vendor/maplibre-gl/"
}
