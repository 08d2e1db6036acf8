# Production control plane.
FROM python:3.11-slim-bookworm
# opusenc: voicemail emails carry an Ogg Opus copy beside the WAV
RUN apt-get update \
    && apt-get install -y --no-install-recommends opus-tools \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY billing billing
COPY admission admission
COPY ari_app ari_app
COPY agi agi
COPY asterisk_conf asterisk_conf
COPY notify notify
COPY controlplane controlplane
COPY provisioning provisioning
COPY sqlbase sqlbase
RUN pip install --no-cache-dir .
ENTRYPOINT ["clickphone"]
CMD ["run"]
