#!/usr/bin/env bash
# Vector tiles against tipg: the z14 tile over Lens on a copy of the 1 000 000-initiative bench
# database (migrated to head), our server and tipg side by side, 1 then 4 workers each, wrk with
# 2 threads and 16 connections, 10 s a run, 2 rounds alternating; the response cache off (the
# comparison is of query paths); the cores PostgreSQL and each server used (cpu_during.py). First
# pgbench of the tile statement alone (the service's, and the one before the Web Mercator column,
# parallel plans allowed or not; with the coordinates as parameters, generic plan or custom),
# PostgreSQL's own rate.
#
#   flock /tmp/bench.lock bench/ogc_tiles.sh DATABASE [OURS_PORT TIPG_PORT]
#
# DATABASE must hold the bench data at the migration head; tipg in bench/.tipg-venv (see
# ogc_features.py). Prints one line per run.
set -u
cd "$(dirname "$0")/.."
DB=$1; OURS=${2:-19201}; TIPG=${3:-19202}
PSQL=(psql -h 127.0.0.1 -U postgres -At)
WRK=(/usr/bin/wrk --threads=2 --connections=16 --duration=10s --timeout=60s --script=bench/wrk_report.lua)
OURS_PATH=/ogc/collections/initiatives/tiles/WebMercatorQuad/14/5526/8320
TIPG_PATH=/collections/public.initiative/tiles/WebMercatorQuad/14/8320/5526
SQL=$(mktemp -d)
ENVELOPE="ST_TileEnvelope(14, 8320, 5526)"
AREA="ST_TileEnvelope(14, 8320, 5526, margin => 64.0 / 4096)"
PROPS="t.id AS id, t.title AS title, t.category AS category, t.status AS status"
cat > "$SQL/transform.sql" <<SQL
SELECT length(ST_AsMVT(tile, 'initiatives', 4096, 'geom', 'id')) FROM (SELECT $PROPS, ST_AsMVTGeom(ST_Transform(t.geometry, 3857), $ENVELOPE, 4096, 64, true) AS geom FROM initiative AS t WHERE t.status = 'published' AND t.geometry && ST_Transform($AREA, 4326)) AS tile WHERE geom IS NOT NULL;
SQL
cat > "$SQL/mercator.sql" <<SQL
SELECT length(ST_AsMVT(tile, 'initiatives', 4096, 'geom', 'id')) FROM (SELECT $PROPS, ST_AsMVTGeom(t.geometry_mercator, $ENVELOPE, 4096, 64, true) AS geom FROM initiative AS t WHERE t.status = 'published' AND t.geometry_mercator && $AREA) AS tile;
SQL
cat > "$SQL/parameters.sql" <<'SQL'
\set z 14
\set x 8320
\set y 5526
SELECT length(ST_AsMVT(tile, 'initiatives', 4096, 'geom', 'id')) FROM (SELECT t.id AS id, t.title AS title, t.category AS category, t.status AS status, ST_AsMVTGeom(t.geometry_mercator, ST_TileEnvelope(:z::int, :x::int, :y::int), 4096, 64, true) AS geom FROM initiative AS t WHERE t.status = 'published' AND t.geometry_mercator && ST_TileEnvelope(:z::int, :x::int, :y::int, margin => 64.0 / 4096)) AS tile;
SQL
idle() {  # tipg does not cancel the queries of a client that went away
  for _ in $(seq 1 240); do
    [ "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND state = 'active'")" = 0 ] && return
    sleep 0.5
  done
}
wait_up() { for _ in $(seq 1 120); do curl -sf -o /dev/null "http://127.0.0.1:$1$2" && return 0; sleep 0.5; done; return 1; }
# Our geometry indexes cover the published rows only; tipg serves every row and could not use
# them: give it its own spatial index over all rows (as ogc_features.py does), to compare at its best.
"${PSQL[@]}" -d "$DB" -c "CREATE INDEX IF NOT EXISTS bench_tipg_initiative_geometry ON initiative USING gist (geometry)" >/dev/null
"${PSQL[@]}" -d "$DB" -c "ANALYZE initiative" >/dev/null
echo "load before: $(cat /proc/loadavg)"
for f in transform mercator; do for par in 2 0; do
  echo "pgbench $f.sql max_parallel_workers_per_gather=$par: $(PGOPTIONS="-c jit=off -c max_parallel_workers_per_gather=$par" \
    pgbench -h 127.0.0.1 -U postgres -n -M prepared -c 16 -j 2 -T 10 -f "$SQL/$f.sql" "$DB" 2>&1 | grep -E '^tps|latency average' | tr '\n' ' ')"
done; done
for mode in auto force_custom_plan; do  # the coordinates as parameters: a generic plan after 5
  echo "pgbench parameters.sql plan_cache_mode=$mode: $(PGOPTIONS="-c jit=off -c max_parallel_workers_per_gather=0 -c plan_cache_mode=$mode" \
    pgbench -h 127.0.0.1 -U postgres -n -M prepared -c 16 -j 2 -T 10 -f "$SQL/parameters.sql" "$DB" 2>&1 | grep -E '^tps|latency average' | tr '\n' ' ')"
done
for W in 1 4; do
  DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/$DB RESPONSE_CACHE=false \
    .venv/bin/uvicorn --factory app.main:create_app --host 127.0.0.1 --port "$OURS" --workers $W \
    --no-access-log --log-level warning > "$SQL/ours.log" 2>&1 &
  OPID=$!
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB TIPG_DB_TABLES='["public.initiative"]' \
    bench/.tipg-venv/bin/uvicorn tipg.main:app --host 127.0.0.1 --port "$TIPG" --workers $W \
    --no-access-log --log-level warning > "$SQL/tipg.log" 2>&1 &
  TPID=$!
  wait_up "$OURS" /ready && wait_up "$TIPG" /healthz || { echo "a server did not start"; kill $OPID $TPID; exit 1; }
  echo "workers $W; bytes: ours $(curl -s "http://127.0.0.1:$OURS$OURS_PATH" | wc -c)," \
    "ours gzip $(curl -s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$OURS$OURS_PATH" | wc -c)," \
    "tipg $(curl -s "http://127.0.0.1:$TIPG$TIPG_PATH" | wc -c)"
  /usr/bin/wrk --threads=2 --connections=16 --duration=3s "http://127.0.0.1:$OURS$OURS_PATH" > /dev/null; idle
  /usr/bin/wrk --threads=2 --connections=16 --duration=3s "http://127.0.0.1:$TIPG$TIPG_PATH" > /dev/null; idle
  for round in 1 2; do
    echo "ours workers=$W round $round: $(.venv/bin/python bench/cpu_during.py "$DB" $OPID "${WRK[@]}" "http://127.0.0.1:$OURS$OURS_PATH")"; idle
    echo "tipg workers=$W round $round: $(.venv/bin/python bench/cpu_during.py "$DB" $TPID "${WRK[@]}" "http://127.0.0.1:$TIPG$TIPG_PATH")"; idle
  done
  echo "ours workers=$W gzip: $(.venv/bin/python bench/cpu_during.py "$DB" $OPID "${WRK[@]}" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$OURS$OURS_PATH")"; idle
  kill $OPID $TPID; wait $OPID $TPID 2> /dev/null
done
echo "load after: $(cat /proc/loadavg)"
rm -r "$SQL"
