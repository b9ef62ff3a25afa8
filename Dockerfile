# syntax=docker/dockerfile:1
# gpuscope image: `docker build -t gpuscope:0.1.0 .` from the repository root.
# Debian (glibc), not Alpine: chdb ships a native glibc library. No build step:
# tsx (a runtime dependency) runs the TypeScript sources, as `npm start` does.
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz (deploy/kubernetes).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: production dependencies only -----------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# chdb lists optional native packages for other platforms that the lock may not
# hold, and then `npm ci` refuses it as out of sync: install the locked
# versions with `npm install` in that case (the same fallback as .ci/run).
RUN npm ci --omit=dev --no-audit --no-fund \
    || npm install --omit=dev --no-audit --no-fund \
    && npm cache clean --force

# ---- runtime ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
# Sources and dependencies belong to root and are read-only for the service
# user; only the mounted data directory and /tmp are writable (the pod runs
# with readOnlyRootFilesystem).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY config ./config
COPY core ./core
COPY store ./store
COPY collector ./collector
COPY api ./api
COPY forecasting ./forecasting
COPY alerts ./alerts
COPY dashboards ./dashboards
RUN mkdir -p /var/lib/gpuscope/data && chown -R 10001:10001 /var/lib/gpuscope
USER 10001:10001
EXPOSE 8080 8443
VOLUME ["/var/lib/gpuscope"]
ENTRYPOINT ["node", "bin/gpuscope.mjs"]
CMD ["serve"]
