# Basalt in a container: Debian forky (testing) is where libllama/libggml are packaged.
#   docker build -t basalt .
#   docker run -p 8080:8080 -v basalt-data:/data basalt
# The administrator credentials are written to /data/admin.env on first start, the console
# sign-in to /data/console-password (open http://localhost:8080/).
FROM debian:forky-slim AS web
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates nodejs npm \
 && rm -rf /var/lib/apt/lists/*
COPY web/package.json web/package-lock.json /web/
RUN cd /web && npm ci --no-audit --no-fund
COPY web /web
RUN cd /web && npm run build

FROM debian:forky-slim AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates g++ cmake ninja-build pkg-config libllama-dev libggml-dev libboost-dev \
      libnghttp2-dev libssl-dev nlohmann-json3-dev libsqlite3-dev libspdlog-dev libcli11-dev \
      zlib1g-dev libargon2-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
# The console's front end, embedded into the binary by the build.
COPY --from=web /web/dist /src/web/dist
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBASALT_BUILD_TESTS=OFF \
 && cmake --build /build --target basalt

FROM debian:forky-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libllama0 libggml0 libspdlog1.15 libnghttp2-14 libsqlite3-0 libssl3t64 \
      zlib1g libargon2-1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/src/server/basalt /usr/local/bin/basalt
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["basalt"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
