# Image for `compose.yaml`: the Pana Mia Live server (web app, hub, relay) on Python 3.11.
FROM python:3.11-slim
RUN useradd --system --home /var/lib/panamia --create-home panamia
COPY . /srv/panamia
RUN pip install --no-cache-dir /srv/panamia
WORKDIR /var/lib/panamia
USER panamia
ENV PANAMIA_HTTP__HOST=0.0.0.0 PANAMIA_STORE__DATA_DIR=/var/lib/panamia
EXPOSE 8080
CMD ["panamia", "serve"]
