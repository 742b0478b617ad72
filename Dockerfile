# One image for every role: `docker run IMAGE --role=api` (or fraud, updater, reverser, loadgen;
# subcommands too: `IMAGE migrate`, `IMAGE topics init --profile=safe`).
#
# The build stage runs the same setup and build as CI, so the image cannot drift from what the
# tests exercise. The final stage holds only a static binary and its data files.
#
# scripts/image-rootfs.sh reads the final stage to assemble the same files without a container
# engine: keep its lines to COPY --from=build SRC DST, COPY <<NAME DST heredocs, ENV, USER,
# WORKDIR, EXPOSE, LABEL and ENTRYPOINT, one per line.

FROM debian:bookworm AS build
WORKDIR /src
ENV DEBIAN_FRONTEND=noninteractive
# ca-certificates: the final stage copies its bundle, whatever setup decides to install.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates make \
    && rm -rf /var/lib/apt/lists/*
COPY . .
# The very setup CI runs (it also installs what tests need; only the binary leaves this stage).
# The cache mount keeps the static librdkafka/libpq builds between image builds.
RUN --mount=type=cache,target=/root/.cache/pokeflow \
    scripts/setup.sh \
    && make build \
    && strip --strip-all build/pokeflow

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY <<PASSWD /etc/passwd
root:x:0:0:root:/root:/sbin/nologin
pokeflow:x:65532:65532:pokeflow:/nonexistent:/sbin/nologin
PASSWD
COPY <<GROUP /etc/group
root:x:0:
pokeflow:x:65532:
GROUP
COPY --from=build /src/config /config
COPY --from=build /src/build/pokeflow /pokeflow
# OpenSSL (static, so its compiled-in directory does not exist here) finds the CA bundle here.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# The binary's defaults name config/... relative to the working directory: /config here.
ENV POKEFLOW_CONFIG=/config/pokeflow.ini
WORKDIR /
USER 65532:65532
EXPOSE 8000 9100
ENTRYPOINT ["/pokeflow"]
