# One Inlet process in a small image: the server compiled by `bun build --compile`
# into a single binary (Bun runtime, code and Swagger UI assets inside), on a slim
# Debian base. Postgres comes from DATABASE_URL; the spill lives in the /data volume.

FROM oven/bun:1.4.4 AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production
COPY src ./src
COPY sql ./sql
# The embedded Postgres is for `bun run start` on a laptop; the image uses DATABASE_URL.
RUN bun build --compile --minify --sourcemap --external embedded-postgres --external '@embedded-postgres/*' \
      src/main.ts --outfile /out/inlet

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data inlet \
 && mkdir -p /data /app && chown inlet /data
COPY --from=build /out/inlet /app/inlet
COPY sql /app/sql
USER inlet
ENV PORT=3000 INLET_DATA_DIR=/data
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/app/inlet", "--healthcheck"]
# SIGTERM drains the buffer before exit; give it SHUTDOWN_MS_MAX (25 s) + margin:
#   docker stop --time 30
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/inlet"]
