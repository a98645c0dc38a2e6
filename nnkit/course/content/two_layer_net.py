"""Assignment ``two_layer_net``: backprop by hand, sizes and parameter counts, the softmax
gradient, and the stand-alone (monolithic) two-layer network."""

# ruff: noqa: E501  (long lines are notebook code inside strings)

from __future__ import annotations

from ..notebook import NotebookSpec

A = "two_layer_net"
THRESHOLD_NAMES = ("best_model_digits", "best_model_mnist", "best_model_cifar10")


def notebook() -> NotebookSpec:
    nb = NotebookSpec(A, "TwoLayerNet")
    nb.md("""
    # Two-layer neural networks, by hand and in numpy

    Before we build networks out of reusable layers (next assignment), we do the whole job
    once in the plainest possible way: a few gradients with pencil and paper, some
    bookkeeping of sizes, one derivation, and then a complete two-layer classifier whose
    forward pass, loss, backward pass and training loop all live in one class.

    **Grading.** Numeric answers (parts 1 and 2) and the `TwoLayerNet` class are checked
    outside this notebook by hidden tests; the derivation in part 3 and the inline questions
    are read by a person. Keep the variable and class names given in the cells.
    """)
    nb.readonly(
        "setup",
        """
    import numpy as np
    import matplotlib.pyplot as plt

    from nnlib.data import load_dataset
    from nnlib.gradient_check import eval_numerical_gradient, rel_error
    from nnlib.model_io import save_model
    from nnlib.plotting import visualize_grid

    plt.rcParams["figure.figsize"] = (9.0, 6.0)
    plt.rcParams["image.interpolation"] = "nearest"
    plt.rcParams["image.cmap"] = "gray"
    """,
    )

    # ------------------------------------------------------------------ T1
    nb.md(r"""
    ## 1. Backpropagation by hand

    A tiny graph with a skip connection (a residual block in miniature), on scalars:

    $$x_1 = \mathrm{ReLU}(x_0 w_0 + b_0), \qquad y_1 = x_1 w_1 + b_1, \qquad
    z = \mathrm{ReLU}(y_1 + x_0)$$

    with $x_0 = 1.0$, $w_0 = 0.3$, $w_1 = -0.2$, $b_0 = 0.1$, $b_1 = -0.3$.

    Run the forward pass on paper, then apply the chain rule backwards from $z$. Note that
    $x_0$ reaches $z$ along two paths, but we only ask for the parameters. Write the four
    derivatives as numbers (plain arithmetic such as `1 * -0.2` is fine; no function calls).
    """)
    nb.solution(
        "t1_answers",
        """
dz_dw0 = None
dz_dw1 = None
dz_db0 = None
dz_db1 = None
### BEGIN SOLUTION
# forward: x1 = relu(0.4) = 0.4, y1 = 0.4 * -0.2 - 0.3 = -0.38, z = relu(0.62) = 0.62;
# both ReLUs are active, so their local gradients are 1.
dz_dw0 = 1 * -0.2 * 1.0
dz_dw1 = 1 * 0.4
dz_db0 = 1 * -0.2 * 1
dz_db1 = 1.0
### END SOLUTION
""",
    )
    nb.tests(
        "t1_gradients",
        4,
        ("dz_dw0", "dz_dw1", "dz_db0", "dz_db1"),
        """
    for name in ["dz_dw0", "dz_dw1", "dz_db0", "dz_db1"]:
        assert isinstance(globals()[name], (int, float)), f"{name} should be a number"
    print("answers recorded; they are checked after submission")
    """,
        kind="answer",
    )
    nb.md("""
    You can check answers like these numerically: perturb an input by a small `h` and watch
    how `z` moves. Below we do it for $x_0$ (not asked above: its gradient adds up along
    both paths, $w_0 w_1 + 1 = 0.94$); do the same for the parameters if you like.
    """)
    nb.code("""
    def forward(x0=1.0, w0=0.3, w1=-0.2, b0=0.1, b1=-0.3):
        x1 = max(0.0, x0 * w0 + b0)
        y1 = x1 * w1 + b1
        return max(0.0, y1 + x0)

    h = 1e-6
    print("z =", forward())
    print("numeric dz/dx0 =", (forward(x0=1.0 + h) - forward(x0=1.0 - h)) / (2 * h))
    """)

    # ------------------------------------------------------------------ T2 / T3
    nb.md("""
    ## 2. Sizes and parameter counts

    A minibatch of **32** examples with **30** features each goes through

    `Linear(30 -> 1024)` → output **A** → ReLU → `Linear(1024 -> 512)` → output **B** → ReLU →
    `Linear(512 -> 1)` → output **C**.

    Every linear layer has a weight matrix and a bias vector. How many numbers does each of
    the outputs A, B and C hold for the whole minibatch, and how many learnable parameters
    does the network have in total?
    """)
    nb.solution(
        "t2_answers",
        """
size_A = None
size_B = None
size_C = None
num_params = None
### BEGIN SOLUTION
size_A = 32 * 1024
size_B = 32 * 512
size_C = 32 * 1
num_params = (30 + 1) * 1024 + (1024 + 1) * 512 + (512 + 1) * 1
### END SOLUTION
""",
    )
    nb.tests(
        "t2_sizes",
        3,
        ("size_A", "size_B", "size_C"),
        """
    print("sizes recorded:", size_A, size_B, size_C)
    """,
        kind="answer",
    )
    nb.tests(
        "t3_params",
        2,
        ("num_params",),
        """
    print("parameter count recorded:", num_params)
    """,
        kind="answer",
    )

    # ------------------------------------------------------------------ softmax gradient
    nb.md(r"""
    ## 3. The gradient of softmax with cross-entropy

    For scores $h_1, \dots, h_C$ the softmax gives $P(y=j) = e^{h_j} / \sum_k e^{h_k}$, and
    with a one-hot target $y$ the cross-entropy is $L = -\sum_j y_j \log P(y=j)$.

    Show that $\dfrac{\partial L}{\partial h_i} = P(y=i) - y_i$.

    *Hint:* compute $\partial P(y=j) / \partial h_i$ separately for $j = i$ and $j \ne i$,
    then combine with the chain rule and use $\sum_j y_j = 1$.
    """)
    nb.question(
        "softmax_derivation",
        4,
        "Write your derivation below (Markdown and LaTeX).",
        r"""
    Write $p_j = P(y=j)$ and $S = \sum_k e^{h_k}$.

    *Case $j = i$:* $\dfrac{\partial p_i}{\partial h_i} = \dfrac{e^{h_i} S - e^{h_i} e^{h_i}}{S^2}
    = p_i (1 - p_i)$.

    *Case $j \ne i$:* $\dfrac{\partial p_j}{\partial h_i} = -\dfrac{e^{h_j} e^{h_i}}{S^2} = -p_j p_i$.

    Then
    $\dfrac{\partial L}{\partial h_i} = -\sum_j \dfrac{y_j}{p_j}\dfrac{\partial p_j}{\partial h_i}
    = -y_i (1 - p_i) + \sum_{j \ne i} y_j p_i
    = -y_i + p_i \sum_j y_j = p_i - y_i$,
    using $\sum_j y_j = 1$ for a one-hot target.
    """,
    )

    # ------------------------------------------------------------------ the net
    nb.md("""
    ## 4. A two-layer network in one class

    The network is input → fully connected → ReLU → fully connected → softmax. For `D`
    inputs, `H` hidden units and `C` classes the parameters are `W1` (D, H), `b1` (H,),
    `W2` (H, C) and `b2` (C,), kept in the dictionary `self.params`. You write:

    0. the constructor: weights `std * np.random.randn(...)`, drawn `W1` first, zero biases;
    1. `loss(X)` without labels: the class scores (the forward pass);
    2. `loss(X, y, reg)`: the mean softmax loss plus `0.5 * reg * (sum(W1**2) + sum(W2**2))`,
       and the gradients of that total with respect to every parameter (the backward pass);
    3. `train(...)`: minibatch SGD with optional momentum and a learning rate that decays
       once per epoch (read the docstring carefully: the graders replay your training with
       the same random numbers and compare the histories);
    4. `predict(X)`: the label with the highest score.
    """)
    nb.reference("two_layer_net", "reference.neural_net", ["TwoLayerNet"])
    nb.md("### Toy model and toy data for checking")
    nb.code("""
    input_size, hidden_size, num_classes, num_inputs = 4, 10, 3, 5

    def init_toy_model():
        np.random.seed(0)
        return TwoLayerNet(input_size, hidden_size, num_classes, std=1e-1)

    def init_toy_data():
        np.random.seed(1)
        X = 10 * np.random.randn(num_inputs, input_size)
        y = np.array([0, 1, 2, 2, 1])
        return X, y

    net = init_toy_model()
    X, y = init_toy_data()
    """)
    nb.tests(
        "test_net_scores",
        3,
        ("TwoLayerNet: initial parameters", "TwoLayerNet: scores"),
        """
    scores = net.loss(X)
    correct_scores = np.asarray([
        [-0.81233741, -1.27654624, -0.70335995],
        [-0.17129677, -1.18803311, -0.47310444],
        [-0.51590475, -1.01354314, -0.8504215],
        [-0.15419291, -0.48629638, -0.52901952],
        [-0.00618733, -0.12435261, -0.15226949]])
    print("difference from the correct scores:", np.sum(np.abs(scores - correct_scores)))  # < 1e-7
    assert np.sum(np.abs(scores - correct_scores)) < 1e-6

    loss, _ = net.loss(X, y, reg=0.1)
    correct_loss = 1.30378789133
    print("difference from the correct loss:", abs(loss - correct_loss))  # < 1e-12
    assert abs(loss - correct_loss) < 1e-10
    """,
    )
    nb.tests(
        "test_net_gradients",
        3,
        ("TwoLayerNet: loss and gradients", "TwoLayerNet: numeric gradient"),
        """
    loss, grads = net.loss(X, y, reg=0.05)
    for name in sorted(grads):
        grad_num = eval_numerical_gradient(lambda W: net.loss(X, y, reg=0.05)[0], net.params[name],
                                           verbose=False)
        print(f"{name} max relative error: {rel_error(grad_num, grads[name]):.2e}")  # < 1e-8
        assert rel_error(grad_num, grads[name]) < 1e-7
    """,
    )
    nb.tests(
        "test_net_train",
        4,
        ("TwoLayerNet: train", "TwoLayerNet: predict"),
        """
    net = init_toy_model()
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    print("final training loss:", stats["loss_history"][-1])  # below 0.05
    assert stats["loss_history"][-1] < 0.05
    assert np.array_equal(net.predict(X), y)
    plt.plot(stats["loss_history"])
    plt.xlabel("iteration")
    plt.ylabel("training loss")
    plt.title("Training loss on the toy data")
    plt.show()
    """,
    )

    # ------------------------------------------------------------------ data
    nb.md("""
    ## 5. Real data

    The default data set is the small handwritten-digits collection that ships with the
    assignment (8x8 grey images with values 0..16). Set `NNKIT_DATASET=mnist` (after
    `python -m nnlib.data download mnist`) to work on MNIST as the original homework did.
    Each image becomes one row of pixels. We keep the pixel values as they are: the model
    you save at the end is evaluated on held-out images in exactly this form.
    """)
    nb.code("""
    raw = load_dataset()
    X_train, y_train = raw["X_train"].reshape(len(raw["X_train"]), -1), raw["y_train"]
    X_val, y_val = raw["X_val"].reshape(len(raw["X_val"]), -1), raw["y_val"]
    X_test, y_test = raw["X_test"].reshape(len(raw["X_test"]), -1), raw["y_test"]
    image_shape = raw["X_train"].shape[1:]
    num_classes = int(y_train.max()) + 1
    print("train", X_train.shape, "val", X_val.shape, "test", X_test.shape)

    grid = visualize_grid(raw["X_train"][:36].transpose(0, 2, 3, 1), padding=1)
    plt.imshow(grid.squeeze(), cmap="gray")
    plt.axis("off")
    plt.show()
    """)
    nb.md("""
    ## 6. Training with momentum, with and without learning-rate decay

    First a run with a fixed learning rate, then one with a larger starting rate that decays
    every epoch. Compare the loss curves.
    """)
    nb.code("""
    input_size = X_train.shape[1]
    np.random.seed(0)
    net_fixed = TwoLayerNet(input_size, 50, num_classes)
    stats = net_fixed.train(X_train, y_train, X_val, y_val, num_iters=1000, batch_size=100,
                            learning_rate=1e-3, learning_rate_decay=1.0, reg=0.25,
                            momentum=0.9, verbose=True)
    print("validation accuracy (fixed rate):", (net_fixed.predict(X_val) == y_val).mean())

    np.random.seed(0)
    net_decay = TwoLayerNet(input_size, 50, num_classes)
    stats_decay = net_decay.train(X_train, y_train, X_val, y_val, num_iters=1000,
                                  batch_size=100, learning_rate=3e-3, learning_rate_decay=0.9,
                                  reg=0.25, momentum=0.9)
    print("validation accuracy (decaying rate):", (net_decay.predict(X_val) == y_val).mean())
    """)
    nb.md("""
    ## 7. Debugging the training

    Two pictures tell a lot: the loss and accuracy curves (is it still improving? is there a
    gap between training and validation accuracy?) and the first-layer weights shown as
    images (smooth, stroke-like patterns are good; noise means undertrained or too little
    regularisation).
    """)
    nb.code("""
    fig, axes = plt.subplots(2, 1, figsize=(9, 8))
    axes[0].plot(stats["loss_history"], label="fixed rate")
    axes[0].plot(stats_decay["loss_history"], label="with decay")
    axes[0].set_title("Loss history")
    axes[0].set_xlabel("Iteration")
    axes[0].legend()
    axes[1].plot(stats["train_acc_history"], label="train, fixed")
    axes[1].plot(stats["val_acc_history"], label="val, fixed")
    axes[1].plot(stats_decay["train_acc_history"], label="train, decay")
    axes[1].plot(stats_decay["val_acc_history"], label="val, decay")
    axes[1].set_title("Classification accuracy")
    axes[1].set_xlabel("Epoch")
    axes[1].legend()
    plt.tight_layout()
    plt.show()

    def show_net_weights(net):
        W1 = net.params["W1"].T.reshape(-1, *image_shape).transpose(0, 2, 3, 1)
        plt.imshow(visualize_grid(W1, padding=1).squeeze(), cmap="gray")
        plt.axis("off")
        plt.show()

    show_net_weights(net_decay)
    """)
    nb.question(
        "q_decay",
        2,
        """
    ### Inline question 1

    Compare the two loss curves. What does the decaying learning rate buy, and what would go
    wrong if the decay were much stronger (say 0.5 per epoch)?
    """,
        """
    A larger rate early on makes fast progress, and shrinking it later lets the parameters
    settle into a minimum instead of bouncing around it, so the decayed run reaches a lower,
    less noisy loss. With a much stronger decay the rate becomes tiny after a few epochs and
    training stalls before the network has converged (under-fitting).
    """,
    )

    # ------------------------------------------------------------------ tuning
    nb.md("""
    ## 8. Tune your hyper-parameters

    Search over hidden size, learning rate, regularisation strength and number of iterations
    using the validation set, and keep the best network in `best_net`. On the digits data,
    aim for at least **95 %** accuracy on held-out data (your validation accuracy is a good
    estimate; the original MNIST homework asked for 97.4 % validation and 96.3 % test). Keep
    the search to a minute or two.
    """)
    nb.solution(
        "tuning",
        """
best_net = None
### BEGIN SOLUTION
best_val = -1.0
for hidden in [64, 128]:
    for lr in [1e-3, 3e-3]:
        np.random.seed(1)
        candidate = TwoLayerNet(input_size, hidden, num_classes)
        candidate.train(X_train, y_train, X_val, y_val, num_iters=1500, batch_size=100,
                        learning_rate=lr, learning_rate_decay=0.95, reg=0.1, momentum=0.9)
        val_acc = (candidate.predict(X_val) == y_val).mean()
        print(f"hidden {hidden}, lr {lr:g}: validation accuracy {val_acc:.3f}")
        if val_acc > best_val:
            best_val, best_net = val_acc, candidate
### END SOLUTION
""",
    )
    nb.code("""
    print("validation accuracy:", (best_net.predict(X_val) == y_val).mean())
    print("test accuracy:", (best_net.predict(X_test) == y_test).mean())
    show_net_weights(best_net)
    """)
    nb.tests(
        "best_net_model",
        5,
        THRESHOLD_NAMES,
        """
    # Saves best_net next to this notebook as best_model_<dataset>.npz; that file is part of
    # your submission and is evaluated on held-out data after you submit.
    import os

    dataset = os.environ.get("NNKIT_DATASET", "digits")
    save_model(f"best_model_{dataset}.npz", best_net, dataset=dataset)
    print(f"saved best_model_{dataset}.npz")
    """,
        kind="threshold",
    )
    nb.question(
        "q_generalisation",
        2,
        """
    ### Inline question 2

    After training, the test accuracy is noticeably lower than the training accuracy. Which
    of these can close the gap? (1) more training data, (2) more hidden units, (3) a stronger
    regularisation. Explain briefly.
    """,
        """
    (1) and (3). More data makes it harder to memorise the training set, and stronger L2
    regularisation restricts the weights, both reducing over-fitting. More hidden units give
    the model more capacity, which usually widens the gap unless it is combined with more
    regularisation; it helps only when the model under-fits.
    """,
    )
    return nb


def notebooks() -> list[NotebookSpec]:
    return [notebook()]
