# syntax=docker/dockerfile:1
# reelscale coordinator: scene detection, plan, ledger, dispatch, concat, retime, OCR, mux,
# report. It needs no GPU; Debian's CPU LibTorch lets `reelscale run` also start local CPU
# workers (workers.local > 0) for small jobs and tests.
#
#   docker build -f deploy/docker/coordinator.Dockerfile -t reelscale-coordinator .
#   docker run -p 5555:5555 -v /srv/keys/coordinator:/keys:ro -v /srv/data:/data \
#     -v /srv/models:/models:ro -v /srv/config:/config:ro reelscale-coordinator \
#     run /config/job.yaml
#
# Extra Tesseract languages for subtitle OCR: --build-arg OCR_LANGS="deu fra".

ARG DEBIAN=bookworm

FROM debian:${DEBIAN} AS build
ARG OCR_LANGS=""
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN REELSCALE_OCR_LANGS="${OCR_LANGS}" scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DREELSCALE_BUILD_TESTS=OFF \
 && ninja -C /build reelscale \
 && /build/cli/reelscale --version
# The packages the binary links against: the runtime stage installs exactly these.
# The commands and the model are libraries the binary loads on first use (docs/architecture.md).
RUN ldd /build/cli/reelscale /build/lib/reelscale/libreelscale_stages.so /build/lib/reelscale/libreelscale_model.so | awk '/=> \// {print $3}' | xargs -r dpkg -S 2>/dev/null \
    | cut -d: -f1 | sort -u > /build/runtime-packages.txt \
 && cat /build/runtime-packages.txt

FROM debian:${DEBIAN}-slim AS runtime
ARG OCR_LANGS=""
COPY --from=build /build/runtime-packages.txt /tmp/runtime-packages.txt
# Tesseract's language data and the ISO 639 tables (stream language tags -> Tesseract's
# names) are read at run time (not linked), so they are listed here.
RUN apt-get update -qq \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y -qq --no-install-recommends \
 && apt-get install -y -qq --no-install-recommends ca-certificates iso-codes tesseract-ocr-eng \
      $(for l in ${OCR_LANGS}; do echo "tesseract-ocr-$l" | tr _ -; done) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /build/cli/reelscale /usr/local/bin/reelscale
COPY --from=build /build/lib/reelscale/libreelscale_stages.so /usr/local/lib/reelscale/libreelscale_stages.so
COPY --from=build /build/lib/reelscale/libreelscale_model.so /usr/local/lib/reelscale/libreelscale_model.so
# `config reference` runs in the stages library: proves it is found beside the binary.
RUN reelscale --version && reelscale run --help > /dev/null && reelscale config reference > /dev/null
# ZeroMQ ROUTER for the workers (workers.endpoint).
EXPOSE 5555
ENTRYPOINT ["reelscale"]
CMD ["run", "/config/job.yaml"]
