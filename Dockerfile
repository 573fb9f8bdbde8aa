# Image for `compose.yaml`: the Pana Mia Live server (web app, hub, relay) on Python 3.11.
FROM python:3.11-slim
RUN useradd --system --home /var/lib/panamia --create-home panamia
# Pinned dependencies first (scripts/lock writes the lock), so code changes reuse this layer.
COPY requirements.lock /srv/panamia/requirements.lock
RUN pip install --no-cache-dir -r /srv/panamia/requirements.lock
COPY . /srv/panamia
RUN pip install --no-cache-dir --no-deps /srv/panamia && pip check
WORKDIR /var/lib/panamia
USER panamia
# Listening beyond localhost: set PANAMIA_MAIL__SMTP_HOST (and the rest of [mail]), or the
# server refuses to start, since nobody could receive a sign-in link.
ENV PANAMIA_HTTP__HOST=0.0.0.0 PANAMIA_STORE__DATA_DIR=/var/lib/panamia
EXPOSE 8080
CMD ["panamia", "serve"]
