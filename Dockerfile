# The Stepwise controller (and the rest of the `rollout` CLI) as an image:
#   docker build -t ghcr.io/stepwise-dev/stepwise:0.1.0 .
# The TypeScript sources are run by tsx, a production dependency, so there is no build step: the image is
# the production node_modules plus the sources. manifests/controller/deployment.yaml runs it as
#   node cli/bin/rollout.js controller --all-namespaces --leader-elect ...
# Pin NODE_IMAGE to a digest for reproducible builds.
ARG NODE_IMAGE=node:20-bookworm-slim

# Stage 1: production dependencies only, exactly as package-lock.json pins them. Install scripts are not
# run (esbuild's only checks its binary, which npm installs as an optional dependency for the platform).
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Stage 2: the runtime. The files belong to root: the user the process runs as can read them, not change
# them. The Deployment also mounts the root filesystem read-only, with an emptyDir at /tmp for tsx's cache.
FROM ${NODE_IMAGE} AS runtime
# The package managers are not needed to run the controller: leave them out of the image.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
        /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
ENV NODE_ENV=production \
    TMPDIR=/tmp
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY cli ./cli
COPY src ./src
COPY slo-profiles ./slo-profiles
# The image's `node` user, by number so that Kubernetes can verify runAsNonRoot.
USER 1000:1000
# /metrics, /healthz and /readyz (--metrics-addr).
EXPOSE 9090
ENTRYPOINT ["node", "cli/bin/rollout.js"]
CMD ["controller", "--all-namespaces"]
