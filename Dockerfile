# Promptline: the OTLP receiver, the API and the console in one process. Node 24 runs the
# TypeScript directly; the console is built once, in a stage of its own, from npm packages.
FROM node:24-bookworm-slim AS console
WORKDIR /build
COPY package.json package-lock.json ./
COPY instrumentation/package.json instrumentation/package.json
RUN npm ci --no-audit --no-fund
COPY console console
RUN npm run build:console

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY instrumentation/package.json instrumentation/package.json
# The image has Node 24 of its own: the one the package brings for `npm install -g` (node-linux-*) goes.
RUN npm ci --omit=dev --no-audit --no-fund && rm -rf node_modules/node-linux-* node_modules/.bin/node
COPY src src
COPY instrumentation instrumentation
COPY --from=console /build/console/dist console/dist
ENV HOST=0.0.0.0 PORT=4318 PROMPTLINE_GRPC_PORT=4317 PROMPTLINE_DATA_DIR=/data
# As bin/promptline sets it for `serve`: large blocks mapped one by one and given back when freed (less RSS).
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576
# OTLP/HTTP and the API on 4318, OTLP/gRPC on 4317.
EXPOSE 4318 4317
# The data directory is made, and owned by the user the server runs as, before it becomes a volume:
# a new volume takes its owner and mode from here (without this, root's, which `node` cannot write).
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
VOLUME ["/data"]
USER node
CMD ["node", "--conditions=@promptline/source", "src/cli.ts", "serve"]
