# PeerPulse: the bot (`peerpulse run --http`) in one image. docs/deploy.md explains how it is
# run: `peerpulse db upgrade` once per release (the release step), then any number of
# replicas on one PostgreSQL database behind a load balancer (compose.yml does exactly that).
#
#   docker build -t peerpulse .
#   docker run --rm --env-file .env peerpulse peerpulse db upgrade      # release step
#   docker run -d --env-file .env -p 3000:3000 -v peerpulse-data:/data peerpulse

# --- build: a wheel of the package, without the dev extras (tests, linters, igraph) ---
FROM python:3.11-slim AS build
WORKDIR /src
# Only what the package needs: pyproject reads README.md and LICENSE as metadata.
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY analytics ./analytics
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- run: the installed package and nothing else, as a user without privileges ---
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PEERPULSE_DATA_DIR=/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 peerpulse \
    && useradd --system --uid 10001 --gid peerpulse --home-dir /home/peerpulse \
        --create-home --shell /usr/sbin/nologin peerpulse \
    && install -d -o peerpulse -g peerpulse -m 0700 /data
USER peerpulse
WORKDIR /home/peerpulse
# Snapshots and exports live here: a volume shared by every replica (any replica may upload
# a file another one wrote), readable by the bot only.
VOLUME ["/data"]
EXPOSE 3000
# python:3.11-slim has no curl: the standard library asks /healthz (200 when the database
# answers, 503 when it does not).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status == 200 else 1)"]
# Two gunicorn workers per container; run more containers to scale out (docs/deploy.md).
CMD ["peerpulse", "run", "--http", "--port", "3000", "--workers", "2"]
