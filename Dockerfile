# syntax=docker/dockerfile:1
# The arrears image: one image for `arrears api` (the default command), `arrears worker`,
# `arrears migrate` and `arrears sandbox`. See docker-compose.yml and deploy/k8s/ for the wiring.

ARG PYTHON_IMAGE=python:3.11-slim

# --- dependencies: the runtime lock only (no test, lint or simulator packages), every wheel
# checked against its hash; compiled to bytecode here, once, instead of at every start ------------
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements-runtime.lock /tmp/requirements-runtime.lock
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements-runtime.lock \
 && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib

# --- runtime -------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# The Worker Versioning build id this image serves (docs/versioning.md): pass the git commit,
# `docker compose build --build-arg ARREARS_BUILD_ID=$(git rev-parse --short=12 HEAD)`.
ARG ARREARS_BUILD_ID=unversioned
# No PYTHONDONTWRITEBYTECODE: the code is compiled at build time (below), so every process, and
# the workflow sandbox that re-imports workflow modules for each run, loads bytecode.
ENV ARREARS_BUILD_ID=${ARREARS_BUILD_ID} \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ARREARS_DATA_DIR=/app/data

RUN groupadd --system --gid 10001 arrears \
 && useradd --system --uid 10001 --gid arrears --home-dir /app --shell /usr/sbin/nologin arrears

COPY --from=deps /opt/venv /opt/venv

WORKDIR /app
# README.md* so the build does not depend on the README existing (pyproject names it as readme).
COPY pyproject.toml README.md* ./
COPY arrears ./arrears
COPY core ./core
COPY audit ./audit
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY store ./store
COPY worker ./worker
COPY api ./api
COPY sandbox ./sandbox
COPY policy ./policy

# The project itself, without touching the locked dependencies. Editable, so that the code that
# runs is the code under /app and paths resolved next to the packages (policy/, the store's
# migrations) are the ones copied above; setuptools comes from the lock, hence no build isolation.
RUN pip install --no-deps --no-build-isolation --editable . \
 && python -m compileall -q -j 0 /app \
 && mkdir -p /app/data \
 && chown arrears:arrears /app/data

USER arrears

# 8000: the API; 8081: the worker's probes (ARREARS_WORKER_HEALTH_PORT, set by compose and k8s).
EXPOSE 8000 8081
VOLUME ["/app/data"]

# Liveness of the default command (the API); compose and Kubernetes probe each process on its own.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4).status == 200 else 1)"]

CMD ["arrears", "api", "--host", "0.0.0.0", "--port", "8000"]
