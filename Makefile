# Coverline's front door. `make run` and `make test` do all set-up themselves on a fresh machine.
SHELL := /bin/bash
VENV ?= $(or $(COVERLINE_VENV),.venv)
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
export COVERLINE_VENV := $(VENV)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export HF_HUB_OFFLINE := 1
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

RASA_DATA := --domain bot/domain --data nlu_data bot/data --config config.yml
MODEL := models/coverline.tar.gz
# the past-replies index lives beside the Rasa model; rebuilt when the corpus or the index format changes
INDEX := models/past_replies/index.json
PAST_REPLIES := $(wildcard demo_data/past_replies/*.csv)
HELDOUT := $(wildcard demo_data/past_replies/heldout/*.csv)
INDEX_CODE := $(wildcard retrieval/*.py retrieval/backends/*.py)

.PHONY: FORCE install run train index retrain rollback benchmark-learning validate lint test benchmark-retrieval benchmark-nlu test-unit test-stories test-integration benchmark clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install:  ## build the Python 3.10 venv from requirements.lock, install Coverline into it (editable) and the web chat widget
	@bash scripts/bootstrap.sh

# Always asks Rasa, which compares fingerprints of the data, config and component code and keeps the model
# when nothing changed: file times cannot tell a model trained from older data (it finishes after the
# data is edited) from a current one.
$(MODEL): FORCE
	@bash scripts/bootstrap.sh
	$(RASA) train $(RASA_DATA) --out models --fixed-model-name coverline

FORCE:

$(INDEX): $(PAST_REPLIES) $(HELDOUT) $(INDEX_CODE)
	@bash scripts/bootstrap.sh
	$(PY) -m retrieval rebuild --import $(PAST_REPLIES) --calibrate $(HELDOUT)

index: install $(INDEX)  ## import the demo past replies and (re)build + calibrate the retrieval index

train: install $(MODEL) $(INDEX)  ## train the Rasa model and build the past-replies index if their inputs changed

run: install train  ## start Rasa (API on), the action server and the web chat page on SQLite
	$(PY) -m runner

retrain: install  ## annotations → a candidate model, measured beside the active one; promoted into the running Rasa server only if the gate passes (docs/learning.md)
	$(PY) -m learning retrain

rollback: install  ## the running Rasa server back to the previous model (or VERSION=...), no restart
	$(PY) -m learning rollback $(if $(VERSION),--to $(VERSION))

benchmark-learning: install train  ## issue 15 end to end on live servers in a throwaway clone: log → annotate → retrain → promote → roll back (~30-60 min)
	$(PY) -m benchmarks.learning_loop
	$(PY) -m benchmarks.learning_loop --shuffled

validate: install  ## rasa data validate
	$(RASA) data validate $(RASA_DATA)

lint: install  ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install train lint  ## everything CI runs: lint, data validation, unit + integration tests, Rasa test stories
	$(PY) -m pytest tests -q

test-unit: install  ## fast tests that need no trained model
	$(PY) -m pytest tests -q -m "not needs_model"

benchmark: install  ## every benchmark: NLU (vs stock Rasa) + retrieval quality and latency (writes benchmarks/results/)
	$(PY) benchmarks/nlu_benchmark.py
	$(PY) benchmarks/retrieval_benchmark.py

benchmark-nlu: install  ## intent + sentiment model vs stock Rasa: BANKING77, CLINC150, HINT3, DSTC11, TweetEval, latency (~2 h)
	$(PY) benchmarks/nlu_benchmark.py

benchmark-retrieval: install  ## retrieval only: InsuranceQA ranking, Harbor held-out, latency at 10k/100k/1M
	$(PY) benchmarks/retrieval_benchmark.py

.PHONY: benchmark-load
benchmark-load: install train  ## REST load: stock rasa init bot vs Coverline, 1 and 20 conversations at once (~10 min)
	$(PY) -m benchmarks.load

.PHONY: benchmark-alerts
benchmark-alerts: install  ## spike detector on NAB realTweets vs Numenta HTM, ARTime, twitterADVec (~6 min)
	$(PY) -m benchmarks.alerts

.PHONY: benchmark-recommendations
benchmark-recommendations: install  ## ranker on CoIL 2000 products vs most-popular and item-kNN, CARAVAN propensity (~5 min)
	$(PY) -m benchmarks.recommendations.coil

clean:  ## remove trained models, the local database and test results
	rm -rf models var results .rasa
