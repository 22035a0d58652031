# Image for docker-compose (web and worker). The Makefile path needs no Docker.
# Production: DJANGO_SECRET_KEY must be given at run time (settings refuse to start without it).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_ENV=production
WORKDIR /app
# Runtime dependencies only, from the lock file: every package pinned and hash-checked.
COPY requirements.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://build \
    python manage.py collectstatic --noinput -v 0
EXPOSE 3000
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn slotbooking.wsgi -c slotbooking/gunicorn_conf.py --bind 0.0.0.0:${PORT:-3000}"]
