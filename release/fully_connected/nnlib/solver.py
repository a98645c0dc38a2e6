"""Solver: minibatch training of a classification model with a given update rule.

The model needs ``params`` (name -> array) and ``loss(X, y=None)``: scores (N, C) without y,
``(loss, grads)`` with y (grads keyed like params). An update rule is
``rule(w, dw, config) -> (next_w, config)``; pass a callable (e.g. your own ``adam``) or the
name of a rule in UPDATE_RULES (only the plain ``'sgd'`` is provided).

    solver = Solver(model, data, update_rule=my_adam, optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100, print_every=100)
    solver.train()
    solver.best_val_acc, solver.loss_history, solver.train_acc_history, solver.val_acc_history

data holds X_train (N, ...), y_train (N,), X_val, y_val. Training runs num_epochs epochs of
max(N // batch_size, 1) iterations; minibatches are drawn with np.random.choice (seed numpy
for a reproducible run). After every epoch (and after the first and last iteration) the
accuracy is measured on up to num_train_samples training rows and on num_val_samples
validation rows (all when None); the parameters with the best validation accuracy are kept and
put back into the model when training ends.
"""

# The API (and reproducible runs after np.random.seed) use numpy's global random state.
# ruff: noqa: NPY002

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .model_io import save_model

UpdateRule = Callable[[np.ndarray, np.ndarray, dict | None], tuple[np.ndarray, dict]]


def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """Vanilla stochastic gradient descent: w - learning_rate * dw.

    config: learning_rate (default 1e-2).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


UPDATE_RULES: dict[str, UpdateRule] = {"sgd": sgd}


class Solver:
    """Trains ``model`` on ``data`` (see the module docstring).

    Keyword arguments: update_rule ('sgd'), optim_config ({}), lr_decay (1.0, applied to every
    parameter's learning_rate after each epoch), batch_size (100), num_epochs (10),
    num_train_samples (1000), num_val_samples (None), checkpoint_name (None: when set, the
    model is saved with nnlib.model_io after every epoch to
    "<checkpoint_name>_epoch_<e>.npz"), print_every (10), verbose (True).
    """

    def __init__(self, model: Any, data: dict[str, np.ndarray], **kwargs: Any) -> None:
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]

        self.update_rule: str | UpdateRule = kwargs.pop("update_rule", "sgd")
        self.optim_config: dict = kwargs.pop("optim_config", {})
        self.lr_decay: float = kwargs.pop("lr_decay", 1.0)
        self.batch_size: int = kwargs.pop("batch_size", 100)
        self.num_epochs: int = kwargs.pop("num_epochs", 10)
        self.num_train_samples: int | None = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples: int | None = kwargs.pop("num_val_samples", None)
        self.checkpoint_name: str | None = kwargs.pop("checkpoint_name", None)
        self.print_every: int = kwargs.pop("print_every", 10)
        self.verbose: bool = kwargs.pop("verbose", True)
        if kwargs:
            raise ValueError(f"unrecognized arguments: {', '.join(sorted(kwargs))}")

        if isinstance(self.update_rule, str):
            if self.update_rule not in UPDATE_RULES:
                raise ValueError(
                    f'invalid update_rule "{self.update_rule}": nnlib provides only '
                    f"{sorted(UPDATE_RULES)}; pass your own rule as a function"
                )
            self.update_rule = UPDATE_RULES[self.update_rule]
        elif not callable(self.update_rule):
            raise TypeError("update_rule must be a rule's name or a function")
        self._reset()

    def _reset(self) -> None:
        """Book-keeping for a fresh run: histories, best values, one optim config per param."""
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params: dict[str, np.ndarray] = {}
        self._best_running_stats: list[dict[str, np.ndarray]] = []
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self) -> None:
        """One gradient update on a random minibatch (drawn with replacement)."""
        num_train = self.X_train.shape[0]
        batch = np.random.choice(num_train, self.batch_size)
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        self.loss_history.append(float(loss))
        for name, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[name], self.optim_configs[name])
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config

    def check_accuracy(
        self,
        X: np.ndarray,
        y: np.ndarray,
        num_samples: int | None = None,
        batch_size: int = 100,
    ) -> float:
        """Fraction of rows of X (N, ...) whose argmax score is y (N,).

        With num_samples < N, a random subset of that many rows is used. Scores are computed
        in batches of batch_size rows (test mode).
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            rows = np.random.choice(N, num_samples)
            X, y = X[rows], y[rows]
            N = num_samples
        y_pred = [
            np.argmax(self.model.loss(X[start : start + batch_size]), axis=1)
            for start in range(0, N, batch_size)
        ]
        return float(np.mean(np.concatenate(y_pred) == y))

    def _save_checkpoint(self) -> None:
        if self.checkpoint_name is None:
            return
        save_model(
            f"{self.checkpoint_name}_epoch_{self.epoch}.npz",
            self.model,
            epoch=self.epoch,
            batch_size=self.batch_size,
            lr_decay=self.lr_decay,
            best_val_acc=self.best_val_acc,
            loss_history=self.loss_history,
            train_acc_history=self.train_acc_history,
            val_acc_history=self.val_acc_history,
        )

    def _running_stats(self) -> list[dict[str, np.ndarray]]:
        """Copies of the normalisation layers' running statistics (if the model has any)."""
        return [
            {k: np.array(v) for k, v in p.items() if k in ("running_mean", "running_var")}
            for p in getattr(self.model, "bn_params", None) or []
        ]

    def train(self) -> None:
        """Runs the optimisation, then puts the best parameters back into the model."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")

            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay

            if t == 0 or t == num_iterations - 1 or epoch_end:
                train_acc = self.check_accuracy(
                    self.X_train, self.y_train, num_samples=self.num_train_samples
                )
                val_acc = self.check_accuracy(
                    self.X_val, self.y_val, num_samples=self.num_val_samples
                )
                self.train_acc_history.append(train_acc)
                self.val_acc_history.append(val_acc)
                self._save_checkpoint()
                if self.verbose:
                    print(
                        f"(Epoch {self.epoch} / {self.num_epochs}) "
                        f"train acc: {train_acc:f}; val_acc: {val_acc:f}"
                    )
                if val_acc > self.best_val_acc or not self.best_params:
                    self.best_val_acc = val_acc
                    self.best_params = {k: v.copy() for k, v in self.model.params.items()}
                    self._best_running_stats = self._running_stats()

        self.model.params = {k: v.copy() for k, v in self.best_params.items()}
        for param, stats in zip(
            getattr(self.model, "bn_params", None) or [], self._best_running_stats, strict=False
        ):
            param.update(stats)
