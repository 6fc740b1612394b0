# syntax=docker/dockerfile:1
# Three images from one file. No Docker engine runs on our build machines, so none of them is
# built there; tests/test_deploy.py lints this file and compose.yaml instead.
#   radio   (the default: the last stage) `continuo serve`, with the MongoDB and S3 clients and
#           no TensorFlow or Scrapy:    docker build -t continuo .
#   worker  `continuo worker`, with TensorFlow:    docker build --target worker -t continuo-worker .
#           For a GPU box: --build-arg TENSORFLOW='tensorflow[and-cuda]>=2.16,<2.22'
#   icecast Debian's icecast2 with its config rendered from the environment (compose.yaml)

FROM python:3.11-slim AS base
ENV PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    CONTINUO_HOME=/data CONTINUO_STYLES=/app/styles
WORKDIR /app
RUN useradd --system --home /data continuo && mkdir -p /data && chown continuo /data
COPY pyproject.toml README.md LICENSE ./
COPY radio ./radio
COPY trainer ./trainer
COPY scraper ./scraper
COPY styles ./styles

FROM base AS worker
# The 'train' extra, with the TensorFlow package left to choose (tensorflow-cpu by default).
ARG TENSORFLOW="tensorflow-cpu>=2.16,<2.22"
RUN pip install --no-cache-dir ".[scale]" "matplotlib>=3.8,<4" "${TENSORFLOW}"
USER continuo
VOLUME /data
CMD ["continuo", "worker"]

FROM debian:bookworm-slim AS icecast
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends icecast2 gettext-base \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/icecast/ /etc/continuo-icecast/
USER icecast2
EXPOSE 8000
ENTRYPOINT ["/etc/continuo-icecast/entrypoint.sh"]

FROM base AS radio
RUN pip install --no-cache-dir ".[scale]"
ENV CONTINUO_HOST=0.0.0.0 CONTINUO_PORT=8000
USER continuo
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["continuo", "serve"]
