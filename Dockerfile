# harmonie-backend, the hosted backend (compose.yaml runs it with PostgreSQL and Redis).
#   docker build -t harmonie-backend .
# Configuration: environment variables, see the README's "Hosting the backend".
FROM python:3.11-slim-bookworm

# libportaudio2/libgl1: the project's one dependency set also serves the studio, and some of
# its wheels load these at import.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libportaudio2 libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY studio studio
COPY widgets widgets
COPY media media
COPY chain chain
COPY backend backend
COPY resources resources
RUN pip install --no-cache-dir -c constraints.txt . \
 && useradd --system --home-dir /var/lib/harmonie-backend --create-home harmonie
COPY packaging/docker-entrypoint.sh /usr/local/bin/harmonie-backend-entrypoint

USER harmonie
VOLUME /var/lib/harmonie-backend
EXPOSE 8000
ENV HARMONIE_DATA_DIR=/var/lib/harmonie-backend
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)" || exit 1
ENTRYPOINT ["harmonie-backend-entrypoint"]
