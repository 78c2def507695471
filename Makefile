# Two commands do all set-up on a fresh machine:
#   make run   - environment, demo store, app on http://localhost:8501
#   make test  - environment, test services (PostGIS, Chromium), whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STORE  ?= data/ims.gpkg
PORT   ?= 8501

.PHONY: run test env system-deps demo lint bench clean catalogues

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv

$(VENV)/.installed: pyproject.toml requirements.txt | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt -e ".[dev,bench]"
	touch $@

env: $(VENV)/.installed

demo: env
	$(BIN)/ims-geo demo --store $(STORE)

run: demo
	IMS_GEO_STORE=$(STORE) $(BIN)/ims-geo serve --port $(PORT)

# Debian packages the tests need: Chromium for the browser test, PostGIS for
# the shared-store tests. Installed only when missing (needs root, as in CI).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium postgresql-15 postgresql-15-postgis-3 >/dev/null; \
	fi

test: env system-deps lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=25

lint: env
	$(BIN)/ruff check ims_geo tests benchmarks app.py notebooks --extend-exclude "notebooks/*.ipynb"
	$(BIN)/ruff format --check ims_geo tests benchmarks app.py notebooks --extend-exclude "notebooks/*.ipynb"
	$(BIN)/mypy

# Refresh the translation catalogues from the code (then translate the new empty
# msgstr entries of ims_geo/locale/*/LC_MESSAGES/ims_geo.po; tests/test_i18n.py checks).
catalogues: env
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 --no-location --sort-output \
		--project ims_geo -o ims_geo/locale/ims_geo.pot .
	$(BIN)/pybabel update -i ims_geo/locale/ims_geo.pot -d ims_geo/locale -D ims_geo \
		--no-fuzzy-matching --ignore-obsolete --width 100

bench: env
	$(BIN)/python benchmarks/conflicts.py
	$(BIN)/python benchmarks/programme.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
