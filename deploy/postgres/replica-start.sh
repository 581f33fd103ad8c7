#!/bin/sh
# The replica's entrypoint: on first start, copy the primary with pg_basebackup -R (which writes
# primary_conninfo and standby.signal), then run PostgreSQL as a hot standby.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h primary -U "$POSTGRES_USER"; do sleep 1; done
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup -h primary -U replicator -D "$PGDATA" \
    -R -X stream --checkpoint=fast
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on -c max_standby_streaming_delay=30s
