# The cuvee image the Kubernetes manifests (k8s/) run: one binary, every role.
#   docker build -t ghcr.io/cuvee-db/cuvee:0.1.0 .
# (Not built in CI: no container engine runs there; the manifests are validated instead.)
FROM rust:1.94-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin cuvee --features s3

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/cuvee /usr/local/bin/cuvee
RUN useradd --system --uid 10001 cuvee && mkdir -p /var/lib/cuvee && chown cuvee /var/lib/cuvee
USER cuvee
ENTRYPOINT ["cuvee"]
