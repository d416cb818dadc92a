# syntax=docker/dockerfile:1
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SITREP_CONFIG_DIR=/app/config \
    SITREP_SUMMARIZE__MODEL_CACHE=/app/models \
    HF_HUB_OFFLINE=1

WORKDIR /app

# The CPU build of PyTorch first, so that the project's `torch` requirement is already met.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"

COPY pyproject.toml README.md ./
COPY digests ./digests
COPY bot ./bot
RUN pip install .

COPY config ./config

# Export the bundled encoder to ONNX (int8) once, in the image, so that containers never export it themselves.
RUN python -c "from digests.inference import SentenceEncoder; SentenceEncoder(int8=True, model_cache=__import__('pathlib').Path('/app/models')).encode(['warm up'])"

RUN useradd --create-home --uid 10001 sitrep \
    && mkdir -p /app/data \
    && chown sitrep:sitrep /app/data
USER 10001:10001

VOLUME ["/app/data"]
CMD ["sitrep", "run"]
