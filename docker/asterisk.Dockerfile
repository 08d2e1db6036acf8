# Production Asterisk: Debian's asterisk package (Asterisk 22), config
# rendered by the control plane into the shared asterisk-etc volume.
FROM debian:sid-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends asterisk asterisk-modules \
 && rm -rf /var/lib/apt/lists/*
# Runs as root without -U: with -U root it drops capabilities and cannot read
# its 0640 configs.
CMD ["/usr/sbin/asterisk", "-f", "-n"]
