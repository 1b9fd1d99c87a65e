# syntax=docker/dockerfile:1
# One image for every creditdesk process; the command picks the role:
#   API:        node dist/server/main.js            (default)
#   workers:    node dist/workers/main.js           (WORKER_ROLES=ocr|approval|disbursement)
#   migrations: node dist/scripts/migrate.js
#   first user: node dist/scripts/create-admin.js --email … --password … --role admin
#   mongo-init: node dist/scripts/mongod/init-cluster.js   (replica set and MongoDB users, compose)
# No credentials or keys are part of the image (.dockerignore): compose passes them at run time.

# Pinned (the same Node as the `node` dev dependency that runs npm start and npm test).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# --- build: all dependencies, TypeScript → dist/ ---------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 CI=true
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY lib lib
COPY server server
COPY workers workers
COPY scripts scripts
RUN npm run build

# --- production dependencies only (argon2 needs its install script for the native binding) -----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tesseract: the OCR worker's engine (the same image runs the API and every worker role).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 TESSERACT_BIN=/usr/bin/tesseract
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY package.json ./
# Code is owned by root and read-only for the process; it runs as the unprivileged `node` user.
USER node
EXPOSE 3000
# Liveness of the API (workers override it in docker-compose.yml with their WORKER_HTTP_PORT).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini reaps children (tesseract) and forwards SIGTERM so the process drains before it stops.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/server/main.js"]
