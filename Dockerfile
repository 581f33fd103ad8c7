# Production image: the API on uvicorn; PostGIS runs in its own container (compose.yaml).

# The explorer's browser libraries (web/package-lock.json), served from app/static/vendor.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && mkdir -p vendor/maplibre-gl \
 && cp node_modules/maplibre-gl/dist/maplibre-gl.js node_modules/maplibre-gl/dist/maplibre-gl.css \
       node_modules/maplibre-gl/LICENSE.txt vendor/maplibre-gl/

FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 territoire
WORKDIR /srv/territoire

COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install -r requirements/runtime.txt

COPY pyproject.toml README.md alembic.ini ./
COPY alembic alembic
COPY app app
COPY --from=web /web/vendor app/static/vendor
COPY data data
RUN pip install --no-deps .

USER territoire
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"

# Migrations run once per deployment (the `migrate` service in compose.yaml), not per replica.
CMD ["uvicorn", "--factory", "app.main:create_app", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "2", "--no-proxy-headers", "--no-server-header"]
