# The Stepwise controller (and the rest of the `rollout` CLI) as an image:
#   docker build -t ghcr.io/stepwise-dev/stepwise:0.1.0 .
# The image runs the compiled JavaScript (dist/, `npm run build`) with the production dependencies only;
# manifests/controller/deployment.yaml runs it as
#   node dist/cli/main.js controller --all-namespaces --leader-elect ...
# Pin NODE_IMAGE to a digest for reproducible builds; its Node major is package.json's engines.node.
ARG NODE_IMAGE=node:20-bookworm-slim

# Stage 1: the build. Every dependency (TypeScript is a dev dependency), exactly as package-lock.json pins
# them, then tsc to dist/. Install scripts are not run: `prepare` would build before the sources are here,
# and esbuild's (tsx's, for tests) only checks its binary.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY cli ./cli
COPY src ./src
RUN npm run build

# Stage 2: production dependencies only.
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Stage 3: the runtime. The files belong to root: the user the process runs as can read them, not change
# them. The Deployment also mounts the root filesystem read-only.
FROM ${NODE_IMAGE} AS runtime
# The package managers are not needed to run the controller: leave them out of the image.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
        /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
ENV NODE_ENV=production \
    TMPDIR=/tmp
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY slo-profiles ./slo-profiles
COPY manifests/crds ./manifests/crds
# The image's `node` user, by number so that Kubernetes can verify runAsNonRoot.
USER 1000:1000
# /metrics, /healthz and /readyz (--metrics-addr).
EXPOSE 9090
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["controller", "--all-namespaces"]
