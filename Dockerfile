# Multi-stage build: compile offline against the committed .sqlx/ metadata, ship a slim image.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
ENV SQLX_OFFLINE=true CARGO_TARGET_DIR=/src/target
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo .cargo
COPY .sqlx .sqlx
COPY migrations migrations
COPY templates templates
COPY locales locales
COPY assets assets
COPY search search
COPY src src
RUN cargo build --release --locked && cp target/release/ocop-market /ocop-market

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 ocop
COPY --from=build /ocop-market /usr/local/bin/ocop-market
USER ocop
ENV BIND=0.0.0.0:3000
EXPOSE 3000
ENTRYPOINT ["ocop-market"]
CMD ["serve"]
