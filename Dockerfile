# syntax=docker/dockerfile:1
# The auditlog image: one `auditlog` entry point for the agent, `auditlog setup`, the demo app and the TUI.
#   docker build -t auditlog .
#   docker run --rm auditlog --help
# Used by docker-compose.yml (services setup, agent, demo, tui). Runs as the non-root user `auditlog`.

ARG PYTHON_VERSION=3.12

# ---- build: a wheel of the project (nothing of the build toolchain reaches the final image). The full image
# has the C compiler that builds the pass-through's C line check (agent/linescan.py) into the wheel; the
# runtime below is the slim image of the same Debian release, so the compiled module loads there.
FROM python:${PYTHON_VERSION} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY auditlog ./auditlog
COPY agent ./agent
COPY indexer ./indexer
COPY tui ./tui
COPY deploy ./deploy
COPY ilm_policies ./ilm_policies
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---- runtime
FROM python:${PYTHON_VERSION}-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 auditlog \
 && useradd --system --uid 10001 --gid auditlog --home-dir /var/lib/auditlog --create-home auditlog \
 && mkdir -p /var/log/app /etc/auditlog \
 && chown auditlog:auditlog /var/log/app
COPY --from=build /wheels /wheels
# The wheel carries ilm_policies/ as data (<prefix>/share/auditlog/ilm_policies), where indexer.ilm finds it.
# [all]: the image runs setup, the agent, the demo and the TUI (an app needs only the bare emitter).
RUN python -m pip install --no-cache-dir "$(ls /wheels/*.whl)[all]" \
 && rm -rf /wheels \
 && auditlog --help >/dev/null
USER auditlog
WORKDIR /var/lib/auditlog
VOLUME ["/var/lib/auditlog", "/var/log/app"]
ENTRYPOINT ["auditlog"]
CMD ["--help"]
