# The station only: no TensorFlow, no Scrapy, no database server.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    CONTINUO_HOME=/data CONTINUO_HOST=0.0.0.0 CONTINUO_PORT=8000
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY radio ./radio
COPY trainer ./trainer
COPY scraper ./scraper
COPY styles ./styles
RUN pip install --no-cache-dir . && useradd --system --home /data continuo && mkdir -p /data && chown continuo /data
ENV CONTINUO_STYLES=/app/styles
USER continuo
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["continuo", "serve"]
