# One Inlet process in a small image: the server compiled by `bun build --compile`
# into a single binary (Bun runtime, code and Swagger UI assets inside) beside its
# sql/ migrations, on a slim Debian base. Postgres comes from DATABASE_URL (no
# embedded Postgres in the image); the spill lives in the /data volume.
#
#   docker build -t inlet .                                  # compiled in oven/bun
#   bun run build && docker build --target prebuilt -t inlet .   # dist/inlet from the host
#
# Both base images are build arguments, so a machine that cannot reach Docker Hub
# can build from images it made itself (test/container/ does, from Debian packages).

ARG BUN_IMAGE=oven/bun:1.4.4
ARG BASE_IMAGE=debian:bookworm-slim

# The binary compiled from the sources, in BUN_IMAGE (any image with bun 1.4.4 on
# its PATH will do).
FROM ${BUN_IMAGE} AS compile
WORKDIR /src
COPY package.json bun.lock tsconfig.json ./
# postgres.js is patched (package.json patchedDependencies), and install applies it.
COPY patches ./patches
# Scripts stay off: the only one is the embedded Postgres', which the binary leaves out.
RUN bun install --frozen-lockfile --production --ignore-scripts
COPY src ./src
# The console page and its committed bundle, embedded in the binary by src/http/routes/console.ts.
COPY console/index.html ./console/index.html
COPY console/dist ./console/dist
# package.json's build script: the same binary as `bun run build` on a laptop.
RUN bun run build

# Everything but the binary. The binary reads sql/ beside itself
# (src/store/migrate.ts). /data is made here, owned by the user, so a new named
# volume starts out writable by it (Docker and podman copy it up).
FROM ${BASE_IMAGE} AS runtime
RUN useradd --user-group --uid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin inlet \
 && mkdir -p /data /app \
 && chown inlet:inlet /data
COPY sql /app/sql
USER inlet
ENV PORT=3000 HOST=0.0.0.0 INLET_DATA_DIR=/data
VOLUME /data
EXPOSE 3000
# `inlet --healthcheck` asks /health on $PORT: the image has no curl. (podman keeps
# HEALTHCHECK only with `podman build --format docker`.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/app/inlet", "--healthcheck"]
# SIGTERM stops intake and drains the buffer (to Postgres, or to the spill) for at
# most SHUTDOWN_MS_MAX (25 s): stop with `docker stop --time 30`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/inlet"]

# `--target prebuilt`: dist/inlet from `bun run build` on a linux-x64 glibc host, so
# no Bun image is needed at all (the compile stage is skipped).
FROM runtime AS prebuilt
COPY dist/inlet /app/inlet

# The default target: the binary compiled above.
FROM runtime AS inlet
COPY --from=compile /src/dist/inlet /app/inlet
