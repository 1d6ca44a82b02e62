# syntax=docker/dockerfile:1
#
# The gridpane-backup-exporter image: a release build on Debian 12, run on
# distroless (glibc, CA certificates, no shell) as an unprivileged user.
#
#   docker build -t gridpane-backup-exporter \
#     --build-arg GIT_REVISION=$(git rev-parse --short=12 HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run --rm -p 9878:9878 gridpane-backup-exporter --demo --web.listen-address=:9878
#
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ...
# (each platform builds natively, under emulation where needed).

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
# build.rs records it for --version and gridpane_exporter_build_info
# (.git is not in the build context).
ARG GIT_REVISION=
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -D -m 0755 target/release/gridpane-backup-exporter /out/gridpane-backup-exporter \
    && install -d -m 0700 /out/state \
    && /out/gridpane-backup-exporter --version

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG GIT_REVISION=
ARG CREATED=
ARG SOURCE=
LABEL org.opencontainers.image.title="gridpane-backup-exporter" \
      org.opencontainers.image.description="Prometheus exporter for the backup schedules of WordPress sites hosted on GridPane" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /out/gridpane-backup-exporter /usr/local/bin/gridpane-backup-exporter
# For state_file: mount a volume here and set
# GRIDPANE_EXPORTER_STATE_FILE=/var/lib/gridpane-backup-exporter/state.json.
COPY --from=build --chown=65532:65532 /out/state /var/lib/gridpane-backup-exporter
USER 65532:65532
EXPOSE 9878
# Probes /-/healthy on 127.0.0.1:9878. Keep the exporter on :9878 inside the
# container and map ports with -p; `docker run --health-cmd` needs a shell,
# which this image does not have (compose's `healthcheck: test: ["CMD", ...]`
# works). With TLS in a --web.config.file, pass the same file to the probe:
# test: ["CMD", "/usr/local/bin/gridpane-backup-exporter", "healthcheck",
#        "--web.config.file", "/etc/gridpane-backup-exporter/web.yml"].
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/gridpane-backup-exporter", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gridpane-backup-exporter"]
