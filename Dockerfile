# syntax=docker/dockerfile:1
# The support operator's image: `support-operator run`, nothing else. Built by CI elsewhere (docs/install.md,
# "Building the image"); tests/unit/test_dockerfile.py checks its properties statically and
# tests/e2e/test_kind.py builds and runs it where a Docker engine is available; tests/integration/test_image.py
# builds it with buildah (PYTHON_IMAGE: a debootstrapped Debian Python, hack/build-base-image.sh) and runs it.
#
# Runs as any UID with group 0 (OpenShift's restricted-v2 SCC assigns an arbitrary UID): everything the process
# may write is group-owned by 0 with the owner's permissions (g=u). The root filesystem can be read-only
# (the Deployment mounts an emptyDir on /tmp). Ports 8080 (/metrics) and 8081 (/healthz), none below 1024.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/support-operator
COPY pyproject.toml constraints.txt README.md ./
COPY operator/ operator/
# Every dependency pinned by constraints.txt (the versions the test suite ran with); pip itself is not
# needed at run time.
RUN /opt/support-operator/bin/pip install --no-cache-dir --constraint constraints.txt . \
    && /opt/support-operator/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="support-operator" \
      org.opencontainers.image.description="Kubernetes operator for 3rd-level support contracts: SLA timers, scoped access, cases" \
      org.opencontainers.image.source="https://github.com/puzzle/support-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/support-operator /opt/support-operator
ENV PATH=/opt/support-operator/bin:$PATH \
    HOME=/home/support-operator \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN mkdir -p /home/support-operator \
    && chown -R 1001:0 /home/support-operator \
    && chmod -R g=u /home/support-operator
WORKDIR /home/support-operator
USER 1001:0
EXPOSE 8080 8081 8082
ENTRYPOINT ["support-operator", "run"]
