"""The stand-alone two-layer net, written independently of the reference."""

# The API pins numpy's global random state (np.random.seed / randn / choice).
# ruff: noqa: NPY002

import numpy as np


class TwoLayerNet:
    """input - fully connected - ReLU - fully connected - softmax."""

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        self.params = {}
        self.params["W1"] = std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        """Scores for ``y`` None, else ``(loss, grads)`` with L2 term 0.5 * reg * sum(W**2)."""
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        n = X.shape[0]
        z1 = X.dot(W1) + b1
        a1 = np.maximum(z1, 0)
        scores = a1.dot(W2) + b2
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(n), y]))
        loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        d = probs.copy()
        d[np.arange(n), y] -= 1
        d /= n
        grads = {"W2": a1.T.dot(d) + reg * W2, "b2": d.sum(axis=0)}
        da1 = d.dot(W2.T)
        da1[z1 <= 0] = 0
        grads["W1"] = X.T.dot(da1) + reg * W1
        grads["b1"] = da1.sum(axis=0)
        return loss, grads

    def train(
        self,
        X,
        y,
        X_val,
        y_val,
        learning_rate=1e-3,
        learning_rate_decay=0.95,
        reg=5e-6,
        num_iters=100,
        batch_size=200,
        momentum=0.0,
        verbose=False,
    ):
        """Minibatch SGD (with momentum when ``momentum > 0``)."""
        n = X.shape[0]
        per_epoch = max(n / batch_size, 1)
        velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        history = {"loss_history": [], "train_acc_history": [], "val_acc_history": []}
        for it in range(num_iters):
            idx = np.random.choice(n, batch_size)
            xb, yb = X[idx], y[idx]
            loss, grads = self.loss(xb, y=yb, reg=reg)
            history["loss_history"].append(loss)
            for k in self.params:
                if momentum > 0:
                    velocity[k] = momentum * velocity[k] - learning_rate * grads[k]
                    self.params[k] += velocity[k]
                else:
                    self.params[k] -= learning_rate * grads[k]
            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")
            if it % per_epoch == 0:
                history["train_acc_history"].append(np.mean(self.predict(xb) == yb))
                history["val_acc_history"].append(np.mean(self.predict(X_val) == y_val))
                learning_rate *= learning_rate_decay
        return history

    def predict(self, X):
        """Predicted labels."""
        return np.argmax(self.loss(X), axis=1)
