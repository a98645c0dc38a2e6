"""Assignment ``fully_connected``: modular layers, losses, fully connected nets, update rules,
normalisation, dropout and regression. Two notebooks; the second imports the first."""

# ruff: noqa: E501  (long lines are notebook code inside strings)

from __future__ import annotations

from ..notebook import NotebookSpec

A = "fully_connected"
THRESHOLD_NAMES = ("best_model_digits", "best_model_mnist", "best_model_cifar10")
REGRESSION_NAMES = ("best_model_diabetes", "best_model_california")

SETUP = """
import os
import time
from typing import Any

import numpy as np
import matplotlib.pyplot as plt

from nnlib.data import load_dataset
from nnlib.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from nnlib.model_io import save_model
from nnlib.plotting import plot_training
from nnlib.solver import Solver

plt.rcParams["figure.figsize"] = (9.0, 6.0)
plt.rcParams["image.interpolation"] = "nearest"
plt.rcParams["image.cmap"] = "gray"
"""

DATA = """
# The dataset comes from $NNKIT_DATASET ('digits', bundled, by default; 'cifar10' or 'mnist'
# once downloaded with `python -m nnlib.data download cifar10`).
raw = load_dataset()
mean_image = raw["X_train"].mean(axis=0)
scale = raw["X_train"].std()
data = {k: ((v - mean_image) / scale if k.startswith("X_") else v) for k, v in raw.items()}
input_dim = int(np.prod(data["X_train"].shape[1:]))
num_classes = int(data["y_train"].max()) + 1
for k, v in data.items():
    print(f"{k}: {v.shape}")
"""


def notebook_fc() -> NotebookSpec:
    nb = NotebookSpec(A, "FullyConnectedNets")
    nb.md("""
    # Fully connected networks, one layer at a time

    A network written as one big `loss` function is fine for two layers and miserable for
    ten. In this assignment every layer becomes a pair of functions:

    * `layer_forward(inputs, params...)` computes the output **and** returns a `cache`, the
      values the backward pass will need;
    * `layer_backward(dout, cache)` receives the gradient of the loss with respect to the
      layer's output and returns the gradients with respect to each of its inputs.

    Chaining forwards builds the network, chaining backwards in the opposite order is
    backpropagation. Once the layers exist, a model is a few lines of glue.

    **How this notebook is graded.** Every function you complete below is run by hidden test
    suites outside this notebook, on inputs you have not seen (several shapes, `float32` and
    `float64`), and compared with a reference. The checks in this notebook are there to help
    you; passing them is necessary, not sufficient. Keep every definition at the top level of
    its cell, keep the function names and signatures, and do not modify arrays passed to you
    (return new ones), except the state dictionaries that a docstring says are updated.
    Questions marked *Inline question* are graded by hand.
    """)
    nb.readonly("fc_setup", SETUP)
    nb.md("""
    ## The data

    By default the notebook uses the small handwritten-digits set that ships with the
    assignment (8x8 grey images, 10 classes) so that everything runs in seconds on a laptop.
    We centre the images on the mean training image and divide by one global scale.
    """)
    nb.code(DATA)

    # ---------------------------------------------------------------- affine
    nb.md("""
    ## Affine layer

    An affine (fully connected) layer flattens each example into a row of `D` numbers and
    computes `out = x @ w + b`. The input may have any shape `(N, d_1, ..., d_k)`; images
    arrive as `(N, C, H, W)`. The gradient with respect to `x` has to come back in that
    original shape.

    Complete `affine_forward` and `affine_backward`.
    """)
    nb.reference("affine", "reference.layers", ["affine_forward", "affine_backward"])
    nb.tests(
        "test_affine_forward",
        2,
        ("affine_forward",),
        """
    num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
    input_size = num_inputs * np.prod(input_shape)
    weight_size = output_dim * np.prod(input_shape)
    x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
    w = np.linspace(-0.2, 0.3, num=weight_size).reshape(np.prod(input_shape), output_dim)
    b = np.linspace(-0.3, 0.1, num=output_dim)
    out, _ = affine_forward(x, w, b)
    correct_out = np.array([[1.49834967, 1.70660132, 1.91485297],
                            [3.25553199, 3.5141327, 3.77273342]])
    print("affine_forward difference:", rel_error(out, correct_out))  # about 1e-9
    assert rel_error(out, correct_out) < 1e-7
    """,
    )
    nb.tests(
        "test_affine_backward",
        3,
        ("affine_backward",),
        """
    np.random.seed(231)
    x = np.random.randn(10, 2, 3)
    w = np.random.randn(6, 5)
    b = np.random.randn(5)
    dout = np.random.randn(10, 5)
    dx_num = eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_forward(x, w, b)[0], b, dout)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    for name, num, ana in [("dx", dx_num, dx), ("dw", dw_num, dw), ("db", db_num, db)]:
        print(f"{name} error: {rel_error(num, ana):.2e}")  # about 1e-10
        assert rel_error(num, ana) < 1e-7
    """,
    )

    # ---------------------------------------------------------------- relu / sigmoid
    nb.md("""
    ## Activations: ReLU and sigmoid

    ReLU keeps positive values and zeroes the rest; its gradient passes `dout` through where
    the input was positive and blocks it elsewhere (we use 0 at exactly 0). The sigmoid
    `1 / (1 + exp(-x))` squashes into (0, 1); its derivative is `s (1 - s)`, which you can
    compute from the forward output alone. A naive `np.exp(-x)` overflows for very negative
    `x`: write it so that large inputs of either sign give no warnings.
    """)
    nb.reference(
        "activations",
        "reference.layers",
        ["relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward"],
    )
    nb.tests(
        "test_relu",
        2,
        ("relu_forward", "relu_backward"),
        """
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    correct_out = np.array([[0., 0., 0., 0.],
                            [0., 0., 0.04545455, 0.13636364],
                            [0.22727273, 0.31818182, 0.40909091, 0.5]])
    print("relu_forward difference:", rel_error(out, correct_out))  # about 5e-8
    assert rel_error(out, correct_out) < 1e-6

    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    print("relu_backward dx error:", rel_error(dx_num, dx))  # about 3e-12
    assert rel_error(dx_num, dx) < 1e-8
    """,
    )
    nb.tests(
        "test_sigmoid",
        2,
        ("sigmoid_forward", "sigmoid_backward"),
        """
    x = np.linspace(-6, 6, num=12).reshape(3, 4)
    out, _ = sigmoid_forward(x)
    correct_out = np.array([[0.00247262, 0.00732514, 0.0214955, 0.06138311],
                            [0.16296047, 0.36691963, 0.63308037, 0.83703953],
                            [0.93861689, 0.9785045, 0.99267486, 0.99752738]])
    print("sigmoid_forward difference:", rel_error(out, correct_out))  # about 6e-7
    assert rel_error(out, correct_out) < 1e-5

    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx_num = eval_numerical_gradient_array(lambda x: sigmoid_forward(x)[0], x, dout)
    _, cache = sigmoid_forward(x)
    print("sigmoid_backward dx error:", rel_error(dx_num, sigmoid_backward(dout, cache)))
    assert rel_error(dx_num, sigmoid_backward(dout, cache)) < 1e-8
    """,
    )
    nb.question(
        "q_activations",
        2,
        """
    ### Inline question 1

    Some activation functions let almost no gradient through for some inputs. Of sigmoid,
    ReLU and leaky ReLU, which suffer from this in one dimension, and for which inputs?
    """,
        """
    Sigmoid saturates at both ends: for inputs of large magnitude (positive or negative) its
    slope s(1 - s) is nearly zero, so almost nothing flows back. ReLU passes exactly zero
    gradient for every negative input; a unit whose input is negative for all data ("dead"
    ReLU) never recovers. Leaky ReLU has a small non-zero slope for negative inputs and a
    slope of one for positive ones, so it does not have this problem.
    """,
    )

    # ---------------------------------------------------------------- sandwich
    nb.md("""
    ## Sandwich layers

    Some chains of layers occur so often that a combined forward/backward pair saves typing.
    `affine_relu_forward` applies an affine layer and then ReLU, keeping both caches;
    `affine_relu_backward` undoes them in reverse order.
    """)
    nb.reference(
        "affine_relu", "reference.layer_utils", ["affine_relu_forward", "affine_relu_backward"]
    )
    nb.tests(
        "test_affine_relu",
        2,
        ("affine_relu_forward", "affine_relu_backward"),
        """
    np.random.seed(231)
    x = np.random.randn(2, 3, 4)
    w = np.random.randn(12, 10)
    b = np.random.randn(10)
    dout = np.random.randn(2, 10)
    out, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda x: affine_relu_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_relu_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_relu_forward(x, w, b)[0], b, dout)
    for name, num, ana in [("dx", dx_num, dx), ("dw", dw_num, dw), ("db", db_num, db)]:
        print(f"{name} error: {rel_error(num, ana):.2e}")  # about 1e-10
        assert rel_error(num, ana) < 1e-7
    """,
    )

    # ---------------------------------------------------------------- losses
    nb.md(r"""
    ## Loss layers: softmax, SVM and mean squared error

    A loss layer takes the scores `x` and the targets `y` and returns the (mean) loss and
    its gradient `dx` at once.

    * **Softmax / cross-entropy**: for the scores s = `x[i]` of example i with label
      yᵢ = `y[i]`, Lᵢ = −log( exp(s[yᵢ]) / Σⱼ exp(s[j]) ).
      Subtract each row's maximum before exponentiating: the result is unchanged and nothing
      overflows even for scores of 1e4.
    * **Multiclass SVM**: Lᵢ = Σ over j ≠ yᵢ of max(0, s[j] − s[yᵢ] + 1).
    * **Mean squared error** for regression: `mean((x - y)**2)` over all entries, with
      `x` and `y` of the same shape.

    All three average over the `N` examples.
    """)
    nb.reference("losses", "reference.layers", ["softmax_loss", "svm_loss", "mse_loss"])
    nb.tests(
        "test_svm_loss",
        2,
        ("svm_loss",),
        """
    np.random.seed(231)
    num_classes, num_inputs = 10, 50
    x = 0.001 * np.random.randn(num_inputs, num_classes)
    y = np.random.randint(num_classes, size=num_inputs)
    dx_num = eval_numerical_gradient(lambda x: svm_loss(x, y)[0], x, verbose=False)
    loss, dx = svm_loss(x, y)
    print("svm loss:", loss, "(expected about 8.9996)")
    print("dx error:", rel_error(dx_num, dx))  # about 1e-9
    assert abs(loss - 8.999602749096233) < 1e-6 and rel_error(dx_num, dx) < 1e-6
    """,
    )
    nb.tests(
        "test_softmax_loss",
        2,
        ("softmax_loss",),
        """
    np.random.seed(231)
    num_classes, num_inputs = 10, 50
    x = 0.001 * np.random.randn(num_inputs, num_classes)
    y = np.random.randint(num_classes, size=num_inputs)
    dx_num = eval_numerical_gradient(lambda x: softmax_loss(x, y)[0], x, verbose=False)
    loss, dx = softmax_loss(x, y)
    print("softmax loss:", loss, "(expected about 2.3025)")
    print("dx error:", rel_error(dx_num, dx))  # about 1e-8
    assert abs(loss - 2.302545844500738) < 1e-6 and rel_error(dx_num, dx) < 1e-6
    big_loss, _ = softmax_loss(np.array([[1e4, 0.0, -1e4]]), np.array([1]))
    assert np.isfinite(big_loss), "softmax_loss overflows for large scores"
    """,
    )
    nb.tests(
        "test_mse_loss",
        1,
        ("mse_loss",),
        """
    np.random.seed(231)
    x = np.random.randn(50)
    y = np.random.randn(50)
    dx_num = eval_numerical_gradient(lambda x: mse_loss(x, y)[0], x, verbose=False)
    loss, dx = mse_loss(x, y)
    print("mse loss:", loss, "(expected about 1.867)")
    print("dx error:", rel_error(dx_num, dx))  # about 3e-9
    assert abs(loss - 1.8672282748726519) < 1e-8 and rel_error(dx_num, dx) < 1e-6
    """,
    )

    # ---------------------------------------------------------------- TwoLayerNet
    nb.md("""
    ## A two-layer network from the pieces

    `TwoLayerNet` is affine - ReLU - affine - softmax. Its parameters live in the dictionary
    `self.params` (`W1`, `b1`, `W2`, `b2`); weights start as `weight_scale` times standard
    normal draws (`W1` first), biases at zero. `loss(X)` returns the class scores; `loss(X, y)`
    returns the loss (with L2 regularisation `0.5 * reg * sum(W**2)` for each weight matrix,
    biases excluded) and a dictionary of gradients with the same keys as `self.params`.
    """)
    nb.reference("two_layer_net", "reference.classifiers", ["TwoLayerNet"])
    nb.tests(
        "test_two_layer_net",
        5,
        ("TwoLayerNet",),
        """
    np.random.seed(231)
    N, D, H, C = 3, 5, 50, 7
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=N)
    std = 1e-3
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std)
    assert abs(model.params["W1"].std() - std) < std / 10, "W1 initialisation"
    assert abs(model.params["W2"].std() - std) < std / 10, "W2 initialisation"
    assert np.all(model.params["b1"] == 0) and np.all(model.params["b2"] == 0), "biases"

    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    scores = model.loss(X)
    correct_scores = np.asarray(
        [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
         [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
         [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
    assert np.abs(scores - correct_scores).sum() < 1e-6, "test-time forward pass"

    y = np.asarray([0, 5, 1])
    loss, grads = model.loss(X, y)
    assert abs(loss - 3.4702243556) < 1e-10, "training loss without regularisation"
    model.reg = 1.0
    loss, grads = model.loss(X, y)
    assert abs(loss - 26.5948426952) < 1e-10, "regularisation loss"

    for reg in [0.0, 0.7]:
        model.reg = reg
        loss, grads = model.loss(X, y)
        for name in sorted(grads):
            grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name],
                                               verbose=False)
            print(f"reg={reg} {name} relative error: {rel_error(grad_num, grads[name]):.2e}")
            assert rel_error(grad_num, grads[name]) < 1e-5
    """,
    )

    # ---------------------------------------------------------------- Solver
    nb.md("""
    ## Training with the Solver

    Training logic lives in the provided `Solver` (see `nnlib/solver.py`): it draws
    minibatches, asks the model for gradients, applies an update rule and records the loss
    and the train/validation accuracies every epoch. At the end the model holds the
    parameters that reached the best validation accuracy.

    Use a `Solver` to train a `TwoLayerNet` on the data above to at least **90 %**
    validation accuracy (the digits set; on CIFAR-10 aim for 50 %).
    """)
    nb.solution(
        "train_two_layer_net",
        """
model = None
solver = None
### BEGIN SOLUTION
model = TwoLayerNet(input_dim=input_dim, hidden_dim=100, num_classes=num_classes,
                    weight_scale=1e-2, reg=1e-3)
solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 0.3},
                lr_decay=0.95, num_epochs=10, batch_size=100, print_every=200)
solver.train()
### END SOLUTION
""",
    )
    nb.code("""
    print("best validation accuracy:", solver.best_val_acc)
    plot_training(solver, title="TwoLayerNet trained with the Solver: training loss")
    plt.show()
    """)

    # ---------------------------------------------------------------- update rules
    nb.md(r"""
    ## Update rules

    Plain SGD steps against the gradient. Three classic improvements, each written as
    `rule(w, dw, config) -> (next_w, config)` where `config` carries the hyper-parameters
    and the rule's state between calls (fill in missing keys with the defaults from the
    docstring):

    * **SGD**, the plain step, to get used to the interface.
    * **SGD with momentum** keeps a velocity, `v = momentum * v - lr * dw`, and moves by it.
    * **RMSProp** divides each step by the root of a running average of squared gradients.
    * **Adam** combines both moving averages with bias correction; increment `t` *before*
      using it.
    """)
    nb.reference("update_rules", "reference.optim", ["sgd", "sgd_momentum", "rmsprop", "adam"])
    nb.tests(
        "test_sgd",
        1,
        ("sgd",),
        """
    w, dw = np.ones((2, 3)), np.full((2, 3), 0.5)
    next_w, config = sgd(w, dw)
    assert config["learning_rate"] == 1e-2 and np.allclose(next_w, 1 - 0.005)
    print("sgd ok")
    """,
    )
    nb.tests(
        "test_sgd_momentum",
        2,
        ("sgd_momentum",),
        """
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-3}
    config["velocity"] = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    next_w, _ = sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    print("next_w error:", rel_error(next_w, expected_next_w))  # about 1e-8
    print("velocity error:", rel_error(expected_velocity, config["velocity"]))
    assert rel_error(next_w, expected_next_w) < 1e-6
    assert rel_error(expected_velocity, config["velocity"]) < 1e-6
    """,
    )
    nb.tests(
        "test_rmsprop",
        2,
        ("rmsprop",),
        """
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2}
    config["cache"] = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    next_w, _ = rmsprop(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    print("next_w error:", rel_error(expected_next_w, next_w))  # about 1e-7
    print("cache error:", rel_error(expected_cache, config["cache"]))
    assert rel_error(expected_next_w, next_w) < 1e-6
    assert rel_error(expected_cache, config["cache"]) < 1e-6
    """,
    )
    nb.tests(
        "test_adam",
        3,
        ("adam",),
        """
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "t": 5}
    config["m"] = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config["v"] = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    next_w, _ = adam(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    for name, exp, got in [("next_w", expected_next_w, next_w), ("v", expected_v, config["v"]),
                           ("m", expected_m, config["m"])]:
        print(f"{name} error: {rel_error(exp, got):.2e}")  # about 1e-7 or less
        assert rel_error(exp, got) < 1e-6
    """,
    )
    return nb


def notebook_norm(previous: NotebookSpec) -> NotebookSpec:
    nb = NotebookSpec(A, "DeepNetworks")
    # Private helpers of the first notebook are not copied by import_notebook(into=...);
    # they are bound explicitly below, so students write each helper once.
    helpers = sorted(n for n in previous.emitted if n.startswith("_"))
    nb.emitted.update(helpers)
    nb.md("""
    # Deep fully connected networks: depth, update rules, normalisation, dropout

    This notebook continues `FullyConnectedNets.ipynb`: its first cell imports the
    definitions (functions, classes and constants, not the training runs) of that notebook,
    so finish that one first. Here you build networks of any depth, compare update rules,
    add batch and layer normalisation and dropout, train the best fully connected model you
    can, and finish with a regression problem.

    Grading works as before: hidden suites run your functions outside the notebook; inline
    questions are graded by hand; the model you save at the end is evaluated on examples
    that you never see.
    """)
    nb.readonly(
        "norm_setup",
        SETUP
        + """
from nnlib.loader import import_notebook

# Everything FullyConnectedNets.ipynb defines (layers, losses, TwoLayerNet, update rules).
fc_nets = import_notebook("FullyConnectedNets.ipynb", into=globals())
"""
        + "".join(f"{h} = fc_nets.{h}\n" for h in helpers),
    )
    nb.code(DATA)

    # ---------------------------------------------------------------- FullyConnectedNet
    nb.md("""
    ## A network of any depth

    `FullyConnectedNet` stacks `L - 1` blocks of affine - [batch/layer norm] - ReLU -
    [dropout] and ends with an affine layer and a softmax loss. Implement the
    initialisation, the forward pass and the backward pass now. The normalisation and
    dropout branches call functions that you write further down in this notebook; add those
    branches now or come back later: with `normalization=None` and `dropout_keep_ratio=1`
    nothing of them is needed.

    Weights are drawn layer by layer (`W1` first) as `weight_scale * np.random.randn(...)`;
    all parameters are cast to `dtype`.
    """)
    nb.reference("fc_net", "reference.classifiers", ["FullyConnectedNet"])
    nb.tests(
        "test_fc_net",
        8,
        ("FullyConnectedNet",),
        """
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    expected_initial = {0: 2.3004790897684924, 3.14: 7.052114776533016}
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg,
                                  weight_scale=5e-2, dtype=np.float64)
        loss, grads = model.loss(X, y)
        print(f"reg={reg}: initial loss {loss:.6f} (expected {expected_initial[reg]:.6f})")
        assert abs(loss - expected_initial[reg]) < 1e-6
        for name in sorted(grads):
            grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name],
                                               verbose=False, h=1e-5)
            print(f"  {name} relative error: {rel_error(grad_num, grads[name]):.2e}")
            assert rel_error(grad_num, grads[name]) < 1e-4
    """,
    )
    nb.md("""
    ### Overfitting a tiny training set

    A network that cannot drive the training loss of 50 examples to (almost) zero has a bug
    or a bad initialisation. Tune the weight scale and the learning rate so that a
    three-layer network (two hidden layers of 100 units) reaches 100 % training accuracy
    within 20 epochs of plain SGD.
    """)
    nb.code("""
    num_train = 50
    small_data = {
        "X_train": data["X_train"][:num_train], "y_train": data["y_train"][:num_train],
        "X_val": data["X_val"], "y_val": data["y_val"],
    }
    """)
    nb.solution(
        "overfit_three_layer",
        """
weight_scale = 1e-3   # try other values
learning_rate = 1e-4  # try other values
### BEGIN SOLUTION
weight_scale = 1e-1
learning_rate = 1e-1
### END SOLUTION
np.random.seed(0)
model = FullyConnectedNet([100, 100], input_dim=input_dim, num_classes=num_classes,
                          weight_scale=weight_scale, dtype=np.float64)
solver = Solver(model, small_data, print_every=10, num_epochs=20, batch_size=25,
                update_rule="sgd", optim_config={"learning_rate": learning_rate}, verbose=False)
solver.train()
print("final training accuracy:", solver.train_acc_history[-1])
plt.plot(solver.loss_history, "o")
plt.title("Three-layer net on 50 examples: training loss")
plt.xlabel("Iteration")
plt.ylabel("Loss")
plt.grid(alpha=0.3)
plt.show()
""",
    )
    nb.md("Now the same with a five-layer network (four hidden layers of 100 units).")
    nb.solution(
        "overfit_five_layer",
        """
weight_scale = 1e-3   # try other values
learning_rate = 1e-4  # try other values
### BEGIN SOLUTION
weight_scale = 2e-1
learning_rate = 2e-2
### END SOLUTION
np.random.seed(0)
model = FullyConnectedNet([100, 100, 100, 100], input_dim=input_dim, num_classes=num_classes,
                          weight_scale=weight_scale, dtype=np.float64)
solver = Solver(model, small_data, print_every=10, num_epochs=20, batch_size=25,
                update_rule="sgd", optim_config={"learning_rate": learning_rate}, verbose=False)
solver.train()
print("final training accuracy:", solver.train_acc_history[-1])
plt.plot(solver.loss_history, "o")
plt.title("Five-layer net on 50 examples: training loss")
plt.xlabel("Iteration")
plt.ylabel("Loss")
plt.grid(alpha=0.3)
plt.show()
""",
    )
    nb.question(
        "q_depth",
        2,
        """
    ### Inline question 2

    Which of the two networks was more sensitive to the weight scale, and why would you
    expect that?
    """,
        """
    The five-layer net. The scale of the activations (and of the gradients flowing back) is
    multiplied by roughly the same factor at every layer, so with more layers a slightly too
    small scale makes the signal vanish and a slightly too large one makes it explode; the
    window of workable scales (and learning rates) narrows as depth grows.
    """,
    )

    nb.md("""
    ### Comparing the update rules

    Train the same five-layer network with each rule for a few epochs and compare the
    curves. Momentum, RMSProp and Adam should all beat plain SGD clearly.
    """)
    nb.code("""
    rules = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
    learning_rates = {"sgd": 1e-2, "sgd_momentum": 1e-2, "rmsprop": 1e-3, "adam": 1e-3}
    solvers = {}
    for name, rule in rules.items():
        np.random.seed(0)
        model = FullyConnectedNet([100] * 5, input_dim=input_dim, num_classes=num_classes,
                                  weight_scale=1e-1)
        solver = Solver(model, data, num_epochs=5, batch_size=50, update_rule=rule,
                        optim_config={"learning_rate": learning_rates[name]}, verbose=False)
        solver.train()
        solvers[name] = solver
        print(f"{name:>12}: final training loss {solver.loss_history[-1]:.3f}, "
              f"best val acc {solver.best_val_acc:.3f}")

    fig, axes = plt.subplots(3, 1, figsize=(9, 11))
    for name, solver in solvers.items():
        axes[0].plot(solver.loss_history, "o", markersize=2, label=name)
        axes[1].plot(solver.train_acc_history, "-o", label=name)
        axes[2].plot(solver.val_acc_history, "-o", label=name)
    for ax, title in zip(axes, ["Training loss", "Training accuracy", "Validation accuracy"]):
        ax.set_title(title)
        ax.legend(ncol=4, title="update rule")
        ax.grid(alpha=0.3)
    axes[0].set(xlabel="Iteration", ylabel="Loss")
    axes[1].set(xlabel="Epoch", ylabel="Accuracy")
    axes[2].set(xlabel="Epoch", ylabel="Accuracy")
    plt.tight_layout()
    plt.show()
    """)
    nb.question(
        "q_adagrad",
        2,
        """
    ### Inline question 3

    AdaGrad keeps `cache += dw**2` and steps by `-lr * dw / (sqrt(cache) + eps)`. Training
    with it, a student sees the steps shrink until learning nearly stops. Why? Does Adam
    have the same problem?
    """,
        """
    AdaGrad's cache is a sum of squared gradients that only ever grows, so the effective
    learning rate lr / sqrt(cache) decreases monotonically and eventually becomes tiny even
    where the loss is still far from a minimum. Adam (like RMSProp) keeps an exponentially
    decaying average of squared gradients instead of a sum, so old gradients are forgotten
    and the step size does not decay to zero.
    """,
    )

    nb.md(r"""
    ## Batch normalisation: forward

    Deep networks train more easily when every layer sees inputs of a stable scale. Batch
    normalisation standardises each feature with the statistics of the current minibatch,
    x̂ = (x − μ) / √(σ² + ε) with the batch mean μ and the biased batch variance σ², and
    then lets the
    network undo that if it wants: `out = gamma * xhat + beta`.

    At test time there is no batch to average over, so training keeps running averages
    `running = momentum * running + (1 - momentum) * batch` in `bn_param`, and test mode
    normalises with those.
    """)
    nb.reference("batchnorm_forward", "reference.layers", ["batchnorm_forward"])
    nb.tests(
        "test_batchnorm_forward",
        3,
        ("batchnorm_forward",),
        """
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    print("before: means", a.mean(axis=0), "stds", a.std(axis=0))

    a_norm, _ = batchnorm_forward(a, np.ones(D3), np.zeros(D3), {"mode": "train"})
    print("gamma=1, beta=0: means", a_norm.mean(axis=0), "stds", a_norm.std(axis=0))
    assert np.allclose(a_norm.mean(axis=0), 0, atol=1e-7)
    assert np.allclose(a_norm.std(axis=0), 1, atol=1e-4)

    gamma, beta = np.asarray([1.0, 2.0, 3.0]), np.asarray([11.0, 12.0, 13.0])
    a_norm, _ = batchnorm_forward(a, gamma, beta, {"mode": "train"})
    print("gamma=[1,2,3], beta=[11,12,13]: means", a_norm.mean(axis=0), "stds", a_norm.std(axis=0))
    assert np.allclose(a_norm.mean(axis=0), beta) and np.allclose(a_norm.std(axis=0), gamma, atol=1e-4)

    # Warm up the running averages, then check test mode.
    np.random.seed(231)
    bn_param = {"mode": "train"}
    for _ in range(50):
        Xb = np.random.randn(N, D1)
        batchnorm_forward(np.maximum(0, Xb.dot(W1)).dot(W2), np.ones(D3), np.zeros(D3), bn_param)
    bn_param["mode"] = "test"
    Xb = np.random.randn(N, D1)
    a_norm, _ = batchnorm_forward(np.maximum(0, Xb.dot(W1)).dot(W2), np.ones(D3), np.zeros(D3),
                                  bn_param)
    print("test mode: means", a_norm.mean(axis=0), "stds", a_norm.std(axis=0))
    assert np.all(np.abs(a_norm.mean(axis=0)) < 0.3) and np.all(np.abs(a_norm.std(axis=0) - 1) < 0.3)
    """,
    )
    nb.md(r"""
    ## Batch normalisation: backward

    First derive the backward pass on the computation graph, node by node (mean, centred
    values, variance, standard deviation, normalised values, scale and shift), and implement
    it in `batchnorm_backward`.

    Then simplify: with x̂ and σ = √(σ² + ε) from the forward pass, the whole gradient
    collapses into one expression,

    > ∂L/∂x = ( g − mean(g) − x̂ · mean(g · x̂) ) / σ

    where g = γ · `dout` and the means are taken over the batch. Implement that in
    `batchnorm_backward_alt`; both must give the same numbers.
    """)
    nb.reference(
        "batchnorm_backward", "reference.layers", ["batchnorm_backward", "batchnorm_backward_alt"]
    )
    nb.tests(
        "test_batchnorm_backward",
        4,
        ("batchnorm_backward",),
        """
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)
    bn_param = {"mode": "train"}
    fx = lambda x: batchnorm_forward(x, gamma, beta, bn_param)[0]
    fg = lambda a: batchnorm_forward(x, a, beta, bn_param)[0]
    fb = lambda b: batchnorm_forward(x, gamma, b, bn_param)[0]
    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(fb, beta.copy(), dout)
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    for name, num, ana in [("dx", dx_num, dx), ("dgamma", da_num, dgamma), ("dbeta", db_num, dbeta)]:
        print(f"{name} error: {rel_error(num, ana):.2e}")  # about 1e-9 or less
        assert rel_error(num, ana) < 1e-6
    """,
    )
    nb.tests(
        "test_batchnorm_backward_alt",
        3,
        ("batchnorm_backward_alt",),
        """
    np.random.seed(231)
    N, D = 100, 500
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    t1 = time.perf_counter()
    dx1, dgamma1, dbeta1 = batchnorm_backward(dout, cache)
    t2 = time.perf_counter()
    dx2, dgamma2, dbeta2 = batchnorm_backward_alt(dout, cache)
    t3 = time.perf_counter()
    print("dx difference:", rel_error(dx1, dx2))
    print("dgamma difference:", rel_error(dgamma1, dgamma2))
    print("dbeta difference:", rel_error(dbeta1, dbeta2))
    print(f"speed-up: {(t2 - t1) / max(t3 - t2, 1e-9):.2f}x")
    assert rel_error(dx1, dx2) < 1e-8 and rel_error(dgamma1, dgamma2) < 1e-8
    """,
    )
    nb.md("""
    ## Fully connected nets with batch normalisation

    Now add the `normalization="batchnorm"` branch to `FullyConnectedNet` (a `gamma`/`beta`
    pair per hidden layer, one `bn_param` dict each, train mode when `y` is given, test mode
    otherwise), rerun its cell, and check the gradients.
    """)
    nb.code("""
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg,
                                  weight_scale=5e-2, dtype=np.float64, normalization="batchnorm")
        loss, grads = model.loss(X, y)
        print(f"reg={reg}: initial loss {loss:.4f}")
        for name in sorted(grads):
            grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name],
                                               verbose=False, h=1e-5)
            print(f"  {name} relative error: {rel_error(grad_num, grads[name]):.2e}")
    """)
    nb.md("""
    Batch normalisation should make a deep network train faster. Compare a six-layer
    network with and without it.
    """)
    nb.code("""
    hidden_dims = [100] * 5
    small = {k: v[:1000] if k.endswith("train") else v for k, v in data.items()}
    runs = {}
    for norm in [None, "batchnorm"]:
        np.random.seed(0)
        model = FullyConnectedNet(hidden_dims, input_dim=input_dim, num_classes=num_classes,
                                  weight_scale=2e-2, normalization=norm)
        solver = Solver(model, small, num_epochs=8, batch_size=50, update_rule=adam,
                        optim_config={"learning_rate": 1e-3}, verbose=False)
        solver.train()
        runs[str(norm)] = solver
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, solver in runs.items():
        label = "no normalisation" if name == "None" else name
        axes[0].plot(solver.loss_history, "o", markersize=2, label=label)
        axes[1].plot(solver.val_acc_history, "-o", label=label)
    axes[0].set(title="Training loss", xlabel="Iteration", ylabel="Loss")
    axes[1].set(title="Validation accuracy", xlabel="Epoch", ylabel="Accuracy")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    plt.tight_layout()
    plt.show()
    """)
    nb.question(
        "q_batchnorm",
        2,
        """
    ### Inline question 4

    Batch normalisation couples the examples of a minibatch. Name one situation in which
    that is a problem, and explain why layer normalisation avoids it.
    """,
        """
    With very small batches (for example a batch of 1 or 2 because a model barely fits in
    memory, or online learning) the batch mean and variance are extremely noisy estimates,
    and the output for one example depends on which other examples share its batch. Layer
    normalisation computes the statistics over the features of each example separately, so
    it behaves identically for any batch size and in training and test mode.
    """,
    )

    nb.md("""
    ## Layer normalisation

    Layer normalisation uses the same formula with the statistics taken over the features
    of each example (a row), not over the batch (a column). There are no running averages:
    training and test behave the same.
    """)
    nb.reference("layernorm", "reference.layers", ["layernorm_forward", "layernorm_backward"])
    nb.tests(
        "test_layernorm",
        5,
        ("layernorm_forward", "layernorm_backward"),
        """
    np.random.seed(231)
    N, D1, D2, D3 = 4, 50, 60, 3
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    gamma, beta = np.asarray([3.0, 3.0, 3.0]), np.asarray([5.0, 5.0, 5.0])
    a_norm, _ = layernorm_forward(a, gamma, beta, {"mode": "train"})
    print("per-example means", a_norm.mean(axis=1), "stds", a_norm.std(axis=1))
    assert np.allclose(a_norm.mean(axis=1), 5) and np.allclose(a_norm.std(axis=1), 3, atol=1e-3)

    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)
    ln_param = {}
    dx_num = eval_numerical_gradient_array(lambda x: layernorm_forward(x, gamma, beta, ln_param)[0], x, dout)
    da_num = eval_numerical_gradient_array(lambda a: layernorm_forward(x, a, beta, ln_param)[0], gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(lambda b: layernorm_forward(x, gamma, b, ln_param)[0], beta.copy(), dout)
    _, cache = layernorm_forward(x, gamma, beta, ln_param)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    for name, num, ana in [("dx", dx_num, dx), ("dgamma", da_num, dgamma), ("dbeta", db_num, dbeta)]:
        print(f"{name} error: {rel_error(num, ana):.2e}")
        assert rel_error(num, ana) < 1e-6
    """,
    )

    nb.md("""
    ## Dropout

    During training, dropout keeps each unit with probability `p` and zeroes the rest. We use
    *inverted* dropout: the kept units are divided by `p`, so the expected activation is
    unchanged and test mode is simply the identity. Draw the mask exactly as the docstring
    says (`np.random.rand(*x.shape) < p`, after `np.random.seed(seed)` when a seed is given).
    """)
    nb.reference("dropout", "reference.layers", ["dropout_forward", "dropout_backward"])
    nb.tests(
        "test_dropout",
        3,
        ("dropout_forward", "dropout_backward"),
        """
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    for p in [0.25, 0.4, 0.7]:
        out, _ = dropout_forward(x, {"mode": "train", "p": p})
        out_test, _ = dropout_forward(x, {"mode": "test", "p": p})
        print(f"p={p}: mean in {x.mean():.3f}, train out {out.mean():.3f}, "
              f"test out {out_test.mean():.3f}, kept {np.mean(out != 0):.3f}")
        assert abs(out.mean() - x.mean()) < 0.1 and abs(np.mean(out != 0) - p) < 0.01
        assert np.array_equal(out_test, x)

    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)
    dropout_param = {"mode": "train", "p": 0.2, "seed": 123}
    out, cache = dropout_forward(x, dropout_param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda xx: dropout_forward(xx, dropout_param)[0], x, dout)
    print("dx relative error:", rel_error(dx, dx_num))  # about 1e-11
    assert rel_error(dx, dx_num) < 1e-8
    """,
    )
    nb.code("""
    # Fully connected nets with dropout: the gradient check must still pass.
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for keep in [1, 0.75, 0.5]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2,
                                  dtype=np.float64, dropout_keep_ratio=keep, seed=123)
        loss, grads = model.loss(X, y)
        errors = []
        for name in sorted(grads):
            grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name],
                                               verbose=False, h=1e-5)
            errors.append(rel_error(grad_num, grads[name]))
        print(f"keep ratio {keep}: initial loss {loss:.4f}, worst relative error {max(errors):.2e}")
    """)
    nb.question(
        "q_dropout",
        2,
        """
    ### Inline question 5

    If we did not divide by `p` in the training-time forward pass, what would have to change
    at test time, and why?
    """,
        """
    Without the division, the expected value of a unit during training is p times its
    value, so the next layer is trained on inputs scaled by p. At test time (no dropout) the
    activations would be 1/p times larger than what the network was trained on; we would
    have to multiply the test-time activations by p to match. Inverted dropout moves that
    scaling into training so test time is unchanged.
    """,
    )

    nb.md("""
    ## Train a good model

    Train the best `FullyConnectedNet` you can and store it in `best_model`. Batch
    normalisation, dropout, Adam and a small search over learning rates and weight scales all
    help. On the digits data the requirement is **95 %** accuracy on held-out examples that
    you never see (your validation accuracy is a good estimate); on CIFAR-10 it is 50 %, on
    MNIST 95 %. Keep the search small: the notebook should run in a couple of minutes.
    """)
    nb.solution(
        "train_best_model",
        """
best_model = None
### BEGIN SOLUTION
best_val = -1.0
for lr in [1e-3, 3e-3]:
    np.random.seed(0)
    model = FullyConnectedNet([128, 128], input_dim=input_dim, num_classes=num_classes,
                              weight_scale=5e-2, normalization="batchnorm", reg=1e-4)
    solver = Solver(model, data, num_epochs=15, batch_size=100, update_rule=adam,
                    optim_config={"learning_rate": lr}, lr_decay=0.95, verbose=False)
    solver.train()
    print(f"lr {lr:g}: best validation accuracy {solver.best_val_acc:.3f}")
    if solver.best_val_acc > best_val:
        best_val, best_model = solver.best_val_acc, model
### END SOLUTION
""",
    )
    nb.code("""
    for split in ["val", "test"]:
        pred = np.argmax(best_model.loss(data[f"X_{split}"]), axis=1)
        print(f"{split} accuracy: {(pred == data[f'y_{split}']).mean():.3f}")
    """)
    nb.tests(
        "best_fc_model",
        5,
        THRESHOLD_NAMES,
        """
    # Saves your model next to this notebook as best_model_<dataset>.npz; that file is part
    # of your submission and is evaluated on held-out data after you submit. The graders feed
    # it raw images, so the preprocessing (x_mean, x_std) is saved with it.
    dataset = os.environ.get("NNKIT_DATASET", "digits")
    save_model(f"best_model_{dataset}.npz", best_model, dataset=dataset,
               x_mean=mean_image.tolist(), x_std=float(scale))
    print(f"saved best_model_{dataset}.npz")
    """,
        kind="threshold",
    )

    nb.md("""
    ## Regression with a mean squared error

    The same layers solve regression problems: replace the softmax by `mse_loss` and predict
    one number per example. The bundled *diabetes* data (442 patients, 10 measurements, a
    disease-progression score) is small and noisy; with `NNKIT_DATASET=california` and the
    California housing data downloaded, the same cell fits house prices.

    The little network below is written out by hand from your layers (affine - ReLU - affine
    with an L2 penalty, trained with your `adam`). Inputs and targets are standardised with
    the training statistics. Because the architecture is a `FullyConnectedNet` with one
    hidden layer and one output, the trained weights are then placed into one and saved,
    together with the standardisation, for the held-out evaluation (RMSE at most 60 on
    diabetes).
    """)
    nb.code("""
    reg_name = "california" if os.environ.get("NNKIT_DATASET") == "california" else "diabetes"
    reg_data = load_dataset(reg_name)
    x_mu, x_sigma = reg_data["X_train"].mean(axis=0), reg_data["X_train"].std(axis=0) + 1e-8
    t_mu, t_sigma = float(reg_data["y_train"].mean()), float(reg_data["y_train"].std())
    Xr = {k: (reg_data[f"X_{k}"] - x_mu) / x_sigma for k in ["train", "val", "test"]}
    yr = {k: (reg_data[f"y_{k}"] - t_mu) / t_sigma for k in ["train", "val", "test"]}

    np.random.seed(0)
    hidden, l2 = 16, 1e-2
    params = {"W1": 0.1 * np.random.randn(Xr["train"].shape[1], hidden), "b1": np.zeros(hidden),
              "W2": 0.1 * np.random.randn(hidden, 1), "b2": np.zeros(1)}
    configs = {k: {"learning_rate": 3e-3} for k in params}

    def predict(X):
        h, _ = affine_relu_forward(X, params["W1"], params["b1"])
        out, _ = affine_forward(h, params["W2"], params["b2"])
        return out[:, 0]

    history = []
    for it in range(500):
        idx = np.random.choice(len(Xr["train"]), 64)
        h, cache1 = affine_relu_forward(Xr["train"][idx], params["W1"], params["b1"])
        out, cache2 = affine_forward(h, params["W2"], params["b2"])
        loss, dout = mse_loss(out[:, 0], yr["train"][idx])
        dh, grads_W2, grads_b2 = affine_backward(dout[:, None], cache2)
        _, grads_W1, grads_b1 = affine_relu_backward(dh, cache1)
        grads = {"W1": grads_W1 + l2 * params["W1"], "b1": grads_b1,
                 "W2": grads_W2 + l2 * params["W2"], "b2": grads_b2}
        for k in params:
            params[k], configs[k] = adam(params[k], grads[k], configs[k])
        history.append(loss)

    for split in ["train", "val", "test"]:
        rmse = np.sqrt(np.mean((predict(Xr[split]) * t_sigma + t_mu - reg_data[f"y_{split}"]) ** 2))
        print(f"{split} RMSE: {rmse:.2f}  (predicting the mean: {t_sigma:.2f})")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    axes[0].plot(history)
    axes[0].set(title="Training loss (MSE, standardised targets)", xlabel="Iteration",
                ylabel="MSE")
    axes[1].scatter(reg_data["y_val"], predict(Xr["val"]) * t_sigma + t_mu, s=8,
                    label="validation examples")
    lo, hi = reg_data["y_val"].min(), reg_data["y_val"].max()
    axes[1].plot([lo, hi], [lo, hi], "k--", label="perfect prediction")
    axes[1].set(title=f"{reg_name}: validation predictions", xlabel="true target",
                ylabel="predicted target")
    axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    plt.tight_layout()
    plt.show()
    """)
    nb.tests(
        "regression_model",
        3,
        REGRESSION_NAMES,
        """
    # The trained regression net as a FullyConnectedNet with one output, saved with its
    # standardisation as best_model_<dataset>.npz for the held-out evaluation.
    reg_model = FullyConnectedNet([hidden], input_dim=Xr["train"].shape[1], num_classes=1,
                                  dtype=np.float64)
    reg_model.params = {k: v.copy() for k, v in params.items()}
    assert np.allclose(reg_model.loss(Xr["val"])[:, 0], predict(Xr["val"]))
    save_model(f"best_model_{reg_name}.npz", reg_model, dataset=reg_name, x_mean=x_mu.tolist(),
               x_std=x_sigma.tolist(), y_mean=t_mu, y_std=t_sigma)
    print(f"saved best_model_{reg_name}.npz")
    """,
        kind="threshold",
    )
    return nb


def notebooks() -> list[NotebookSpec]:
    first = notebook_fc()
    return [first, notebook_norm(first)]
