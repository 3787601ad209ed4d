# syntax=docker/dockerfile:1
# reelscale GPU worker: CUDA LibTorch, the CUDA deformable-convolution kernel, FFmpeg libraries.
#
#   docker build -f deploy/docker/worker.Dockerfile -t reelscale-worker .
#   docker run --gpus '"device=0"' -v /srv/keys/worker:/keys:ro -v /srv/data:/data \
#     -v /srv/models:/models:ro -v /srv/config:/config:ro reelscale-worker \
#     --connect tcp://coordinator:5555 --keys /keys --config /config/job.yaml
#
# Built on Debian 12, the platform the project is developed and tested on (FFmpeg 5.1, the same
# libraries scripts/install-deps.sh installs), with NVIDIA's CUDA toolkit from its Debian 12
# repository for nvcc. LibTorch is the official cxx11-ABI build: the PyTorch pip wheels of
# these versions use the old C++ ABI and cannot link with Debian's spdlog/yaml-cpp. Its
# "shared-with-deps" archive carries the CUDA runtime, cuBLAS and cuDNN, so the runtime stage
# needs no CUDA packages; the driver comes from the host through the NVIDIA container toolkit.

ARG DEBIAN=bookworm
ARG CUDA_VERSION=12-4
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu124/libtorch-cxx11-abi-shared-with-deps-2.5.1%2Bcu124.zip
# Ampere, Ada, Hopper (A100/A10/RTX 30xx, L4/L40/RTX 40xx, H100/H200).
ARG CUDA_ARCHITECTURES="80;86;89;90"

FROM debian:${DEBIAN} AS build
ARG CUDA_VERSION
ARG LIBTORCH_URL
ARG CUDA_ARCHITECTURES
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates curl unzip gnupg \
 && curl -fsSL -o /tmp/cuda-keyring.deb \
      https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
 && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends cuda-toolkit-${CUDA_VERSION} \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/local/cuda/bin:${PATH} CUDACXX=/usr/local/cuda/bin/nvcc
RUN curl -fsSL -o /tmp/libtorch.zip "${LIBTORCH_URL}" \
 && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
# Debian's CPU libtorch-dev is installed too but unused: Torch_DIR points at the CUDA build.
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DREELSCALE_WITH_TORCH=ON -DREELSCALE_WITH_CUDA=ON -DREELSCALE_BUILD_TESTS=OFF \
      -DTorch_DIR=/opt/libtorch/share/cmake/Torch \
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHITECTURES}" \
 && ninja -C /build reelscale \
 && /build/cli/reelscale --version
# The Debian packages the binary links against (not LibTorch's or CUDA's own libraries, which
# travel in /opt/libtorch/lib): the runtime stage installs exactly these.
# The commands and the model are libraries the binary loads on first use (docs/architecture.md):
# their links count too.
RUN LD_LIBRARY_PATH=/opt/libtorch/lib ldd /build/cli/reelscale /build/lib/reelscale/libreelscale_stages.so /build/lib/reelscale/libreelscale_model.so \
    | awk '/=> \// {print $3}' | xargs -r dpkg -S 2>/dev/null | cut -d: -f1 \
    | grep -Ev '^(cuda-|libcu|libnv)' | sort -u > /build/runtime-packages.txt \
 && cat /build/runtime-packages.txt

FROM debian:${DEBIAN}-slim AS runtime
COPY --from=build /build/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update -qq \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y -qq --no-install-recommends \
 && apt-get install -y -qq --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /opt/libtorch/lib /opt/libtorch/lib
COPY --from=build /build/cli/reelscale /usr/local/bin/reelscale
# Found beside the binary as ../lib/reelscale/ (shared/util/own_library.hpp).
COPY --from=build /build/lib/reelscale/libreelscale_stages.so /usr/local/lib/reelscale/libreelscale_stages.so
COPY --from=build /build/lib/reelscale/libreelscale_model.so /usr/local/lib/reelscale/libreelscale_model.so
# The NVIDIA container toolkit mounts the driver only into containers that ask for it.
ENV LD_LIBRARY_PATH=/opt/libtorch/lib \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
# Fails the build now rather than on the GPU node if a library is missing.
# `config reference` runs in the stages library: proves it is found beside the binary.
RUN reelscale --version && reelscale worker --help > /dev/null && reelscale config reference > /dev/null
# A worker holds no state: a restarted container reconnects and the coordinator requeues the
# shard the old one had (docs/deployment.md).
ENTRYPOINT ["reelscale", "worker"]
CMD ["--connect", "tcp://coordinator:5555", "--keys", "/keys", "--config", "/config/job.yaml"]
