# The semlink image: one image for the transmitter, channel and receiver services (see docker-compose.yml).
#   CPU (default):  docker build -t semlink:latest .
#   CUDA:           docker build -t semlink:latest --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
# A pinned base (Python 3.11.7 on Debian 12), as the project's CI machine has.
FROM python:3.11.7-slim-bookworm

# The PyTorch wheel index: the CPU wheels by default, a CUDA index (…/whl/cuXYZ) for a GPU image.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Optional extras, e.g. "[ray]" for the Ray services of docker-compose.yml (`--profile ray`).
ARG EXTRAS=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch first and from its own index: a bare `pip install -e .` would pull the default (CUDA) build.
RUN pip install torch==2.13.0 --index-url "${TORCH_INDEX}"

# Every other package at the version constraints.txt pins (the lock; `.ci/run` checks it for drift).
COPY . .
RUN pip install -c constraints.txt -e ".${EXTRAS}" \
    && useradd --create-home --uid 10001 semlink \
    && mkdir -p /results /data /cache \
    && chown semlink /results /cache
# Not root: the nodes only read the code, the scenarios and the data, and write /results and /tmp.
USER semlink

ENTRYPOINT ["semlink"]
CMD ["--help"]
