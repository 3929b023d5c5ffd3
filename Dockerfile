# viber-bot in a container: `viber-bot run` as a non-root user, the database on a volume.
#
#   docker build -t viber-bot .
#   docker run -d --name viber-bot --env-file .env -p 3000:3000 -v viber-bot-data:/data viber-bot
#   docker run --rm viber-bot demo          # the whole flow, no accounts, no network
#
# Settings come from the environment (README, "Configuration"); VIBER_BOT_DB, HOST and PORT
# are set here. A bind mount for /data must be writable by uid 10001.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Only what the package is built from; the source is removed once installed.
COPY pyproject.toml README.md /tmp/viber-bot/
COPY bot /tmp/viber-bot/bot
COPY commands /tmp/viber-bot/commands
COPY storage /tmp/viber-bot/storage
RUN pip install /tmp/viber-bot && rm -rf /tmp/viber-bot

RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin viber \
    && mkdir /data \
    && chown viber:viber /data

ENV VIBER_BOT_DB=/data/viber-bot.db \
    HOST=0.0.0.0 \
    PORT=3000

# Declared after the chown, so a new named volume starts out owned by the bot's user.
VOLUME ["/data"]
WORKDIR /data
USER viber
EXPOSE 3000

# /healthz answers 200 once the database and the scheduler are up (503 otherwise); urlopen
# raises on anything but 2xx. No proxy, whatever the environment says: this is loopback.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

# Exec form: viber-bot is PID 1 and gets SIGTERM itself (it stops within 5 seconds).
ENTRYPOINT ["viber-bot"]
CMD ["run"]
