# syntax=docker/dockerfile:1
# ibdriver from source, for users (Debian 12):
#   docker build --target packages --output type=local,dest=out .   # the .deb and the .rpm into ./out
#   docker build -t ibdriver . && docker run --rm ibdriver --version  # a small image with the .deb installed
# A container cannot load kernel modules: use the image to inspect (`detect --root`, `plan`) or to
# prepare offline bundles (`fetch --os ID:VERSION --to DIR`), and install on the VM itself.
# Not built in this project's own test environment (no container engine there): see README, Packages.

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git ca-certificates file \
      libcurl4-openssl-dev libssl-dev libarchive-dev libisal-dev nlohmann-json3-dev libcli11-dev libfmt-dev \
      catch2 python3 python3-yaml openssl rpm dpkg-dev zstd xz-utils bzip2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIBDRIVER_WERROR=ON \
    && cmake --build /build \
    && (cd /build && ctest --output-on-failure -R packaging_examples) \
    && (cd /build && cpack -B /out) && rm -rf /out/_CPack_Packages

FROM scratch AS packages
COPY --from=build /out/ /

FROM debian:12-slim
COPY --from=build /out/*.deb /tmp/
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates /tmp/*.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/*.deb
ENTRYPOINT ["ibdriver"]
CMD ["--help"]
