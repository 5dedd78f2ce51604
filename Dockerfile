# One image for every keyferry process (api, worker, emulators, migrate); the command picks the role.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends openssl tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
# The emulators keep their state under /data (a volume in docker-compose.yml).
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/keyferry.js"]
CMD ["api"]
