"""Reference stand-alone two-layer net: the monolithic exercise that precedes the layers.

Loss, gradients and the training loop all live in one class, written directly in numpy.
"""

# docs/api.md fixes numpy's legacy global random state (np.random.randn / choice).
# ruff: noqa: NPY002

import numpy as np


class TwoLayerNet:
    """input - fully connected - ReLU - fully connected - softmax.

    For D inputs, H hidden units and C classes, self.params holds W1 (D, H), b1 (H,),
    W2 (H, C), b2 (C,); the weights are drawn as std * np.random.randn, W1 first.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, std: float = 1e-4):
        self.params = {
            "W1": std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None, reg: float = 0.0):
        """Scores or loss and gradients.

        Inputs:
        - X: (N, D)
        - y: (N,) integer labels in [0, C), or None
        - reg: L2 strength; the loss adds 0.5 * reg * (sum(W1**2) + sum(W2**2))

        Returns the scores (N, C) if y is None, else (loss, grads) with grads keyed like
        self.params.
        """
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        n = X.shape[0]
        hidden = np.maximum(X @ W1 + b1, 0)
        scores = hidden @ W2 + b2
        if y is None:
            return scores

        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), y].mean()
        loss += 0.5 * reg * (np.sum(W1**2) + np.sum(W2**2))

        dscores = np.exp(log_probs)
        dscores[np.arange(n), y] -= 1
        dscores /= n
        dhidden = (dscores @ W2.T) * (hidden > 0)
        grads = {
            "W1": X.T @ dhidden + reg * W1,
            "b1": dhidden.sum(axis=0),
            "W2": hidden.T @ dscores + reg * W2,
            "b2": dscores.sum(axis=0),
        }
        return float(loss), grads

    def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray,
        y_val: np.ndarray,
        learning_rate: float = 1e-3,
        learning_rate_decay: float = 0.95,
        reg: float = 5e-6,
        num_iters: int = 100,
        batch_size: int = 200,
        momentum: float = 0.0,
        verbose: bool = False,
    ) -> dict:
        """Minibatch SGD (with momentum when momentum > 0).

        Inputs:
        - X: (N, D) training data, y: (N,) labels
        - X_val: (N_val, D) validation data, y_val: (N_val,) labels
        - learning_rate, learning_rate_decay: step size, multiplied by the decay once an epoch
        - reg: L2 strength
        - num_iters: number of updates
        - batch_size: examples per minibatch, drawn with np.random.choice(N, batch_size)
        - momentum: velocity v = momentum * v - learning_rate * grad, w += v; v starts at zero
        - verbose: print the loss every 100 iterations

        An epoch is iterations_per_epoch = max(N // batch_size, 1) iterations (whole
        minibatches). Every iteration `it` with it % iterations_per_epoch == 0 (it = 0
        included) records, after its update, the accuracy on its minibatch and on the
        validation set, then decays the learning rate.

        Returns a dict with loss_history (one loss per iteration), train_acc_history and
        val_acc_history.
        """
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train // batch_size, 1)
        velocity = {name: np.zeros_like(value) for name, value in self.params.items()}
        loss_history, train_acc_history, val_acc_history = [], [], []

        for it in range(num_iters):
            batch = np.random.choice(num_train, batch_size)
            X_batch, y_batch = X[batch], y[batch]
            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)

            # With momentum = 0 this is exactly plain SGD: w - learning_rate * grad.
            for name, grad in grads.items():
                velocity[name] = momentum * velocity[name] - learning_rate * grad
                self.params[name] = self.params[name] + velocity[name]

            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")

            if it % iterations_per_epoch == 0:
                train_acc_history.append(float(np.mean(self.predict(X_batch) == y_batch)))
                val_acc_history.append(float(np.mean(self.predict(X_val) == y_val)))
                learning_rate *= learning_rate_decay

        return {
            "loss_history": loss_history,
            "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history,
        }

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels (N,) for X (N, D): the argmax of the scores."""
        return np.argmax(self.loss(X), axis=1)
