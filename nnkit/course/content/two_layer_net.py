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
    from nnlib.plotting import plot_images, plot_weights

    plt.rcParams["figure.figsize"] = (9.0, 6.0)
    plt.rcParams["image.interpolation"] = "nearest"
    plt.rcParams["image.cmap"] = "gray"
    """,
    )

    # ------------------------------------------------------------------ T1
    nb.md(r"""
    ## 1. Backpropagation by hand

    A tiny graph with a skip connection (a residual block in miniature), on scalars:

    > x₁ = ReLU(x₀ · w₀ + b₀),   y₁ = x₁ · w₁ + b₁,   z = ReLU(y₁ + x₀)

    with x₀ = 1.0, w₀ = 0.3, w₁ = −0.2, b₀ = 0.1, b₁ = −0.3.

    Run the forward pass on paper, then apply the chain rule backwards from z. Note that
    x₀ reaches z along two paths, but we only ask for the parameters.

    Write each derivative as a number or as an expression that computes it: `-0.2`,
    `1 * 0.4`, `1/3`, `np.log(10)` and `math.sqrt(2) / 2` all count, and so do names you
    assign first in the same cell (`x1 = 0.3 * 1.0 + 0.1`, then `dz_dw1 = x1`). Answers are
    read from the notebook without running it: numbers, arithmetic and the constants and
    elementary functions of `math` and `numpy` (`np.exp`, `np.log`, `np.sqrt`, `np.tanh`,
    `max`, `abs`, ...) are understood; anything else (your own functions, arrays) is not an
    answer and scores zero.
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
    import numbers

    for name in ["dz_dw0", "dz_dw1", "dz_db0", "dz_db1"]:
        value = globals()[name]
        assert isinstance(value, numbers.Real) and not isinstance(value, bool), f"{name} should be a number"
    print("answers recorded; they are checked after submission")
    """,
        kind="answer",
    )
    nb.md("""
    You can check answers like these numerically: perturb an input by a small `h` and watch
    how `z` moves. Below we do it for x₀ (not asked above: its gradient adds up along
    both paths, w₀ · w₁ + 1 = 0.94); do the same for the parameters if you like.
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
    does the network have in total? (Numbers or expressions such as `32 * 1024`, as in
    part 1.)
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

    For the scores h₁, h₂, … (one per class) the softmax gives
    P(y = j) = exp(hⱼ) / Σₖ exp(hₖ), and with a one-hot target y the cross-entropy is
    L = −Σⱼ yⱼ · log P(y = j).

    Show that

    > ∂L/∂hᵢ = P(y = i) − yᵢ.

    *Hint:* compute ∂P(y = j)/∂hᵢ separately for j = i and j ≠ i, then combine with the
    chain rule and use Σⱼ yⱼ = 1.
    """)
    nb.question(
        "softmax_derivation",
        4,
        "Write your derivation below in Markdown (symbols such as ∂, Σ, · and subscripts like "
        "hᵢ can be copied from the question).",
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
        ("TwoLayerNet: initial parameters", "TwoLayerNet: scores", "TwoLayerNet: values"),
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
        (
            "TwoLayerNet: loss and gradients",
            "TwoLayerNet: numeric gradient",
            "TwoLayerNet: inputs not modified",
        ),
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

    plot_images(raw["X_train"][:36].transpose(0, 2, 3, 1), labels=raw["y_train"][:36],
                title="Training images and their labels")
    plt.show()
    """)
    nb.md("""
    ## 6. Training with momentum, with and without learning-rate decay

    `train` multiplies the learning rate by `learning_rate_decay` once per epoch, an epoch
    being `N // batch_size` iterations. Three runs from the same initial weights and the same
    fairly large starting rate: a fixed rate, a mild decay (0.9 per epoch) and a strong one
    (0.5 per epoch).
    """)
    nb.code("""
    input_size = X_train.shape[1]
    schedules = {"fixed rate": 1.0, "decay 0.9": 0.9, "decay 0.5": 0.5}
    runs = {}
    for label, decay in schedules.items():
        np.random.seed(0)
        run_net = TwoLayerNet(input_size, 50, num_classes)
        run_stats = run_net.train(X_train, y_train, X_val, y_val, num_iters=1000,
                                  batch_size=100, learning_rate=3e-2, learning_rate_decay=decay,
                                  reg=0.25, momentum=0.9)
        runs[label] = (run_net, run_stats)
        val_acc = (run_net.predict(X_val) == y_val).mean()
        last = np.mean(run_stats["loss_history"][-100:])
        print(f"{label:>10}: validation accuracy {val_acc:.3f}, "
              f"mean loss of the last 100 iterations {last:.3f}")
    """)
    nb.md("""
    ## 7. Debugging the training

    Two pictures tell a lot: the loss and accuracy curves (is it still improving? is there a
    gap between training and validation accuracy?) and the first-layer weights shown as
    images (smooth, stroke-like patterns are good; noise means undertrained or too little
    regularisation). The third panel shows the learning rate each run used.
    """)
    nb.code("""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for (label, (_, run_stats)), colour in zip(runs.items(), ["C0", "C1", "C2"]):
        epochs = np.arange(len(run_stats["val_acc_history"]))
        axes[0].plot(run_stats["loss_history"], color=colour, alpha=0.8, label=label)
        axes[1].plot(epochs, run_stats["val_acc_history"], color=colour, label=f"{label}, val")
        axes[1].plot(epochs, run_stats["train_acc_history"], color=colour, linestyle=":",
                     label=f"{label}, train batch")
        axes[2].semilogy(epochs, 3e-2 * schedules[label] ** epochs, color=colour, label=label)
    axes[0].set(title="Training loss", xlabel="iteration", ylabel="loss")
    axes[1].set(title="Accuracy (once per epoch)", xlabel="epoch", ylabel="accuracy",
                ylim=(0, 1.02))
    axes[2].set(title="Learning rate", xlabel="epoch", ylabel="learning rate (log scale)",
                ylim=(1e-8, 1e-1))
    for ax, where in zip(axes, ["upper right", "lower right", "lower left"]):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc=where)
    plt.tight_layout()
    plt.show()

    def show_net_weights(net, title):
        # One image per hidden unit: the weights it gives to each input pixel.
        W1 = net.params["W1"].T.reshape(-1, *image_shape).transpose(0, 2, 3, 1)
        plot_weights(W1, title=title)
        plt.show()

    show_net_weights(runs["decay 0.9"][0], "First-layer weights (decay 0.9), one tile per hidden unit")
    """)
    nb.question(
        "q_decay",
        2,
        """
    ### Inline question 1

    Look at the three runs above. What does the mild decay buy compared with the fixed rate
    (loss curve, final accuracy)? What happened with the strong decay of 0.5 per epoch, and
    why?
    """,
        """
    With the fixed rate of 3e-2 the loss keeps bouncing and the accuracy jumps from epoch to
    epoch: the steps stay too large to settle into a minimum. The mild decay makes the same
    fast progress at first and then shrinks the steps, so the loss ends lower and smoother
    and the validation accuracy is higher. With 0.5 per epoch the rate is below 1e-4 after
    about ten epochs, so training stalls long before
    convergence: the loss stays near its starting value and the network under-fits.
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
    for lr in [1e-2, 3e-2]:
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
    show_net_weights(best_net, "First-layer weights of best_net")
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
