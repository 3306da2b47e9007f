# One command each, on a fresh machine: `make demo` (the main job, offline) and `make test`.
# Both do the set-up first when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.instalado
TORCH_VERSION ?= 2.13.0
SYSTEM_PACKAGES := espeak-ng sox chromium

.PHONY: setup system test test-rapido lint demo olvido clean help

help:
	@echo "make setup  - crea .venv e instala todo (torch, whisper, lightning, espeak-ng...)"
	@echo "make test   - corre todos los tests (hace el setup si falta); es lo que corre CI"
	@echo "make test-rapido - solo los tests que no necesitan espeak-ng ni Whisper base (unos 4 min)"
	@echo "make demo   - trabajo principal offline: voz sintética + Whisper base incluido"
	@echo "make olvido - mide el olvido del modelo de la demo en habla real (../shared/audio/real_es)"
	@echo "make lint   - ruff"

setup: $(STAMP) system

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# torch first and pinned: here it is the CPU build on local disk; on a CUDA box, the normal wheel.
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# espeak-ng speaks the synthetic corpus and the kiosk's questions; sox pads test answers and converts
# audio by hand; chromium runs the kiosk page in its tests (the package's program is `chromium`).
system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; \
	else echo "Faltan programas del sistema:$$missing. Instalalos con:"; \
	     echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	echo "Instalando$$missing con apt-get..."; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq$$missing >/dev/null

test: setup
	$(PY) -m pytest -q

# The tests that need neither espeak-ng nor the Whisper base weights (markers in pyproject.toml).
test-rapido: $(STAMP)
	$(PY) -m pytest -q -m "not voz and not base"

lint: setup
	$(VENV)/bin/ruff check .

demo: setup
	$(PY) demo.py

clean:
	rm -rf $(VENV) artifacts tensor_logs data/sintetico* .pytest_cache

# Forgetting: the demo's fine-tuned model and the pretrained one on real human speech (needs ../shared).
DEMO_MODEL := artifacts/demo/modelo-ultimo.pt
REAL_SPEECH := ../shared/audio/real_es
olvido: setup
	@test -f $(DEMO_MODEL) || { echo "Falta $(DEMO_MODEL): corré primero 'make demo', que lo entrena."; exit 1; }
	@test -f $(REAL_SPEECH)/manifest.tsv || { echo "Falta $(REAL_SPEECH)/manifest.tsv: el habla real viene en ../shared."; exit 1; }
	$(PY) ref_test.py --checkpoint $(DEMO_MODEL) --data-dir $(REAL_SPEECH) \
		--compare-with base --report artifacts/demo/olvido.json
