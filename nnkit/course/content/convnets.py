"""Assignment ``convnets``: naive convolution and pooling, fast layers, sandwich layers, a
three-layer convolutional network, spatial batch normalisation and group normalisation."""

# ruff: noqa: E501  (long lines are notebook code inside strings)

from __future__ import annotations

from ..notebook import NotebookSpec

A = "convnets"


def notebook() -> NotebookSpec:
    nb = NotebookSpec(A, "ConvolutionalNetworks")
    nb.md("""
    # Convolutional networks

    A fully connected layer treats an image as a bag of unrelated numbers. A convolutional
    layer slides a small filter over the image and applies the same weights at every
    position: far fewer parameters, and a feature detected in one corner is detected
    everywhere. Pooling then summarises neighbourhoods, making the representation smaller
    and a little tolerant to shifts.

    You implement the layers naively first (clarity over speed), compare them with the
    provided fast versions, build a small convolutional network, and finish with the
    normalisation layers that suit images.

    **Grading.** As before: hidden suites run your functions outside the notebook on unseen
    inputs; the visible checks are for you; inline questions are read by a person.
    """)
    nb.readonly(
        "setup",
        """
    import time
    from typing import Any

    import numpy as np
    import matplotlib.pyplot as plt

    from nnlib.data import load_dataset
    from nnlib.fast_layers import (conv_backward_fast, conv_forward_fast, max_pool_backward_fast,
                                   max_pool_forward_fast)
    from nnlib.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
    from nnlib.plotting import plot_training, plot_weights
    from nnlib.solver import Solver

    plt.rcParams["figure.figsize"] = (9.0, 6.0)
    plt.rcParams["image.interpolation"] = "nearest"
    plt.rcParams["image.cmap"] = "gray"
    """,
    )
    nb.md("""
    ## Layers from the previous assignment

    The network at the end of this notebook needs the affine and ReLU layers, their
    sandwich, the softmax loss and batch normalisation from `fully_connected`. Paste your
    implementations into the cell below (they are not graded again here).
    """)
    nb.reference(
        "previous_layers",
        "reference.layers",
        [
            "affine_forward",
            "affine_backward",
            "relu_forward",
            "relu_backward",
            "softmax_loss",
            "batchnorm_forward",
            "batchnorm_backward_alt",
        ],
        task="paste your `affine_forward`, `affine_backward`, `relu_forward`, `relu_backward`, "
        "`softmax_loss`, `batchnorm_forward` and `batchnorm_backward_alt` from "
        "`fully_connected` (not graded again)",
    )
    nb.reference(
        "previous_sandwich",
        "reference.layer_utils",
        ["affine_relu_forward", "affine_relu_backward"],
        task="paste your `affine_relu_forward` and `affine_relu_backward` (not graded again)",
    )
    nb.code("""
    raw = load_dataset()
    data = dict(raw)
    mean_image, scale = raw["X_train"].mean(axis=0), raw["X_train"].std()
    for k in ["X_train", "X_val", "X_test"]:
        data[k] = (raw[k] - mean_image) / scale
    input_dim = data["X_train"].shape[1:]
    num_classes = int(data["y_train"].max()) + 1
    for k, v in data.items():
        print(f"{k}: {v.shape}")
    """)

    # ---------------------------------------------------------------- conv forward
    nb.md("""
    ## Convolution: forward pass

    For an input `x` of shape (N, C, H, W) and `F` filters `w` of shape (F, C, HH, WW), pad
    the input with `pad` zeros on every side of H and W, then place each filter at every
    `stride`-th position and take the sum of the elementwise product over all channels,
    plus the filter's bias. (Like every deep-learning library we do not flip the filter:
    strictly speaking this is a cross-correlation.) The output has shape (N, F, H', W') with
    `H' = 1 + (H + 2 * pad - HH) // stride` and likewise for `W'`.

    Loops are fine here; do not call the fast layers.
    """)
    nb.reference("conv_forward", "reference.layers", ["conv_forward_naive"])
    nb.tests(
        "test_conv_forward",
        3,
        ("conv_forward_naive",),
        """
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    correct_out = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                             [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                             [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                            [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                             [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                             [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    print("conv_forward_naive difference:", rel_error(out, correct_out))  # about 2e-8
    assert rel_error(out, correct_out) < 1e-6
    """,
    )
    nb.md("""
    ### Aside: image processing with hand-made filters

    A convolution with hand-picked weights is classic image processing. Below, one filter
    turns a colour photo into grey (a weighted sum of the channels at the centre pixel) and
    another responds to horizontal edges (a Sobel filter on the blue channel). The photo is
    the portrait of Grace Hopper that ships with matplotlib.
    """)
    nb.code("""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = plt.imread(f).astype(np.float64)
    size = 128
    rows = np.linspace(0, photo.shape[0] - 1, size).astype(int)
    cols = np.linspace(0, photo.shape[1] - 1, size).astype(int)
    small = photo[rows][:, cols]
    x = small.transpose(2, 0, 1)[None]          # (1, 3, size, size)
    x = np.concatenate([x, x[:, :, :, ::-1]])   # and its mirror image

    w = np.zeros((2, 3, 3, 3))
    w[0, 0, 1, 1], w[0, 1, 1, 1], w[0, 2, 1, 1] = 0.3, 0.6, 0.1
    w[1, 2] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    b = np.array([0, 128])
    t0 = time.perf_counter()
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    print(f"naive convolution of two {size}x{size} images: {time.perf_counter() - t0:.2f} s")

    def imshow_noax(ax, img, normalize=True):
        if normalize:
            img = 255.0 * (img - img.min()) / (img.max() - img.min())
        ax.imshow(img.astype("uint8"))
        ax.axis("off")

    fig, axes = plt.subplots(2, 3, figsize=(10, 7))
    for i in range(2):
        imshow_noax(axes[i, 0], x[i].transpose(1, 2, 0), normalize=False)
        imshow_noax(axes[i, 1], out[i, 0])
        imshow_noax(axes[i, 2], out[i, 1])
    for ax, title in zip(axes[0], ["input", "filter 0: grey", "filter 1: horizontal edges"]):
        ax.set_title(title)
    fig.suptitle("A photo and its mirror image, convolved with two hand-made filters")
    plt.tight_layout()
    plt.show()
    """)

    # ---------------------------------------------------------------- conv backward
    nb.md("""
    ## Convolution: backward pass

    Every output value is a sum of products, so its gradient spreads back to the input
    window it came from (weighted by the filter) and to the filter (weighted by that
    window). Accumulate into a padded `dx` and crop the padding at the end.
    """)
    nb.reference("conv_backward", "reference.layers", ["conv_backward_naive"])
    nb.tests(
        "test_conv_backward",
        4,
        ("conv_backward_naive",),
        """
    np.random.seed(231)
    x = np.random.randn(4, 3, 5, 5)
    w = np.random.randn(2, 3, 3, 3)
    b = np.random.randn(2)
    dout = np.random.randn(4, 2, 5, 5)
    conv_param = {"stride": 1, "pad": 1}
    dx_num = eval_numerical_gradient_array(lambda x: conv_forward_naive(x, w, b, conv_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: conv_forward_naive(x, w, b, conv_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: conv_forward_naive(x, w, b, conv_param)[0], b, dout)
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dx, dw, db = conv_backward_naive(dout, cache)
    for name, num, ana in [("dx", dx_num, dx), ("dw", dw_num, dw), ("db", db_num, db)]:
        print(f"{name} error: {rel_error(num, ana):.2e}")  # about 1e-9
        assert rel_error(num, ana) < 1e-6
    """,
    )

    # ---------------------------------------------------------------- pooling
    nb.md("""
    ## Max pooling

    Max pooling keeps the largest value of each `pool_height` x `pool_width` window, moving by
    `stride`. Its backward pass routes each upstream gradient to the position that won the
    maximum; everything else gets zero. Windows may overlap (stride smaller than the pool) or
    leave a few rows unused; handle both.
    """)
    nb.reference(
        "max_pool", "reference.layers", ["max_pool_forward_naive", "max_pool_backward_naive"]
    )
    nb.tests(
        "test_max_pool_forward",
        2,
        ("max_pool_forward_naive",),
        """
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    out, _ = max_pool_forward_naive(x, {"pool_width": 2, "pool_height": 2, "stride": 2})
    correct_out = np.array([[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                             [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                             [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
                            [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                             [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                             [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])
    print("max_pool_forward_naive difference:", rel_error(out, correct_out))  # about 4e-8
    assert rel_error(out, correct_out) < 1e-6
    """,
    )
    nb.tests(
        "test_max_pool_backward",
        2,
        ("max_pool_backward_naive",),
        """
    np.random.seed(231)
    x = np.random.randn(3, 2, 8, 8)
    dout = np.random.randn(3, 2, 4, 4)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    dx_num = eval_numerical_gradient_array(lambda x: max_pool_forward_naive(x, pool_param)[0], x, dout)
    out, cache = max_pool_forward_naive(x, pool_param)
    dx = max_pool_backward_naive(dout, cache)
    print("max_pool_backward_naive dx error:", rel_error(dx, dx_num))  # about 3e-12
    assert rel_error(dx, dx_num) < 1e-8
    """,
    )

    # ---------------------------------------------------------------- fast layers
    nb.md("""
    ## Fast layers

    `nnlib.fast_layers` provides the same four functions written with strided views and
    matrix products (no Python loops over positions). They take and return exactly what
    your naive versions do, so you can check them against each other and see what
    vectorisation buys. The comparison below runs on 200 training images with the layer
    sizes of the network at the end of this notebook (16 filters of 3x3, then a 2x2 pool).
    """)
    nb.code("""
    def timed(fn, *args, repeat=1):
        \"\"\"fn(*args) and the shortest of `repeat` wall-clock times in seconds.\"\"\"
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = fn(*args)
            best = min(best, time.perf_counter() - t0)
        return result, best

    def report(what, naive_s, fast_s, difference):
        print(f"{what:>13}: naive {naive_s:8.4f} s, fast {fast_s:8.5f} s, "
              f"speed-up {naive_s / fast_s:7.0f}x, difference {difference:.1e}")

    np.random.seed(231)
    x = data["X_train"][:200]
    w = 0.1 * np.random.randn(16, x.shape[1], 3, 3)
    b = 0.1 * np.random.randn(16)
    conv_param = {"stride": 1, "pad": 1}
    (out_naive, cache_naive), t_naive = timed(conv_forward_naive, x, w, b, conv_param)
    (out_fast, cache_fast), t_fast = timed(conv_forward_fast, x, w, b, conv_param, repeat=5)
    report("conv forward", t_naive, t_fast, rel_error(out_naive, out_fast))
    dout = np.random.randn(*out_naive.shape)
    (dx_n, dw_n, db_n), t_naive = timed(conv_backward_naive, dout, cache_naive)
    (dx_f, dw_f, db_f), t_fast = timed(conv_backward_fast, dout, cache_fast, repeat=5)
    report("conv backward", t_naive, t_fast, max(rel_error(dx_n, dx_f), rel_error(dw_n, dw_f)))

    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    (pool_naive, cache_naive), t_naive = timed(max_pool_forward_naive, out_naive, pool_param)
    (pool_fast, cache_fast), t_fast = timed(max_pool_forward_fast, out_naive, pool_param, repeat=5)
    report("pool forward", t_naive, t_fast, rel_error(pool_naive, pool_fast))
    dout = np.random.randn(*pool_naive.shape)
    dx_n, t_naive = timed(max_pool_backward_naive, dout, cache_naive)
    dx_f, t_fast = timed(max_pool_backward_fast, dout, cache_fast, repeat=5)
    report("pool backward", t_naive, t_fast, rel_error(dx_n, dx_f))
    """)

    # ---------------------------------------------------------------- sandwiches
    nb.md("""
    ## Convolutional sandwich layers

    Two combinations that every small convnet uses: conv - ReLU, and conv - ReLU - max pool.
    Build them from the **fast** layers (`conv_forward_fast`, `max_pool_forward_fast` and
    their backward passes): the network below calls them thousands of times, and with the
    naive loops one epoch would take minutes instead of seconds. The results are the same
    either way, so the checks and the graders accept both.
    """)
    nb.reference(
        "conv_sandwich",
        "reference.layer_utils",
        [
            "conv_relu_forward",
            "conv_relu_backward",
            "conv_relu_pool_forward",
            "conv_relu_pool_backward",
        ],
    )
    nb.tests(
        "test_conv_sandwich",
        3,
        (
            "conv_relu_forward",
            "conv_relu_backward",
            "conv_relu_pool_forward",
            "conv_relu_pool_backward",
        ),
        """
    np.random.seed(231)
    x = np.random.randn(2, 3, 8, 8)
    w = np.random.randn(3, 3, 3, 3)
    b = np.random.randn(3)
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

    dout = np.random.randn(2, 3, 4, 4)
    out, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    dx, dw, db = conv_relu_pool_backward(dout, cache)
    f = lambda x, w, b: conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0]
    for name, arr, ana in [("dx", x, dx), ("dw", w, dw), ("db", b, db)]:
        num = eval_numerical_gradient_array(
            lambda v: f(v if name == "dx" else x, v if name == "dw" else w, v if name == "db" else b),
            arr, dout)
        print(f"conv_relu_pool {name} error: {rel_error(num, ana):.2e}")
        assert rel_error(num, ana) < 1e-6

    dout = np.random.randn(2, 3, 8, 8)
    out, cache = conv_relu_forward(x, w, b, conv_param)
    dx, dw, db = conv_relu_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda x: conv_relu_forward(x, w, b, conv_param)[0], x, dout)
    print("conv_relu dx error:", rel_error(dx_num, dx))
    assert rel_error(dx_num, dx) < 1e-6
    """,
    )

    # ---------------------------------------------------------------- ThreeLayerConvNet
    nb.md("""
    ## A three-layer convolutional network

    `ThreeLayerConvNet` is conv (stride 1, padding that keeps the size) - ReLU - 2x2 max pool
    (stride 2) - affine - ReLU - affine - softmax. The parameters are `W1`, `b1` (the
    filters), `W2`, `b2` (the hidden affine layer) and `W3`, `b3` (the output layer), drawn
    in that order with `weight_scale * np.random.randn(...)` and cast to `dtype`.
    """)
    nb.reference("three_layer_convnet", "reference.classifiers", ["ThreeLayerConvNet"])
    nb.tests(
        "test_convnet",
        8,
        ("ThreeLayerConvNet",),
        """
    np.random.seed(231)
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=8, filter_size=5, hidden_dim=20)
    X = np.random.randn(50, 3, 16, 16)
    y = np.random.randint(10, size=50)
    loss, grads = model.loss(X, y)
    print("initial loss (no regularisation):", loss, "expected about", np.log(10))
    assert abs(loss - np.log(10)) < 0.05
    model.reg = 0.5
    loss_reg, _ = model.loss(X, y)
    print("initial loss (with regularisation):", loss_reg)
    assert loss_reg > loss

    np.random.seed(231)
    num_inputs, input_dim_small = 2, (3, 10, 10)
    X = np.random.randn(num_inputs, *input_dim_small)
    y = np.random.randint(10, size=num_inputs)
    model = ThreeLayerConvNet(num_filters=3, filter_size=3, input_dim=input_dim_small,
                              hidden_dim=7, dtype=np.float64, reg=0.5, weight_scale=1e-2)
    loss, grads = model.loss(X, y)
    for name in sorted(grads):
        grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name],
                                           verbose=False, h=1e-6)
        print(f"{name} max relative error: {rel_error(grad_num, grads[name]):.2e}")
        assert rel_error(grad_num, grads[name]) < 1e-3
    """,
    )
    nb.md("""
    ### Overfit a little data

    As with the fully connected nets: a hundred examples, a few epochs, and the training
    accuracy should climb far above the validation accuracy.
    """)
    nb.code("""
    np.random.seed(231)
    num_train = 100
    small_data = {"X_train": data["X_train"][:num_train], "y_train": data["y_train"][:num_train],
                  "X_val": data["X_val"], "y_val": data["y_val"]}
    model = ThreeLayerConvNet(input_dim=input_dim, num_filters=16, filter_size=3,
                              hidden_dim=50, weight_scale=1e-1, num_classes=num_classes)
    solver = Solver(model, small_data, num_epochs=15, batch_size=25, update_rule="sgd",
                    optim_config={"learning_rate": 1e-1}, verbose=False)
    solver.train()
    print("training accuracy", solver.train_acc_history[-1], "validation accuracy",
          solver.val_acc_history[-1])
    plot_training(solver, title=f"ThreeLayerConvNet on {num_train} examples: training loss")
    plt.show()
    """)
    nb.md("""
    ### One epoch on all the training data

    One pass over the training set should already reach **at least 40 %** training accuracy
    on the default data. This is the slowest cell of the notebook; it is fast only because
    the sandwich layers use the fast convolution and pooling.
    """)
    nb.code("""
    np.random.seed(231)
    model = ThreeLayerConvNet(input_dim=input_dim, num_filters=16, filter_size=3,
                              hidden_dim=100, weight_scale=5e-2, num_classes=num_classes)
    solver = Solver(model, data, num_epochs=1, batch_size=25, update_rule="sgd",
                    optim_config={"learning_rate": 1e-1}, verbose=True, print_every=10)
    t0 = time.perf_counter()
    solver.train()
    print(f"one epoch in {time.perf_counter() - t0:.1f} s")
    train_acc = solver.check_accuracy(data["X_train"], data["y_train"])
    print("training accuracy after one epoch:", train_acc)
    assert train_acc >= 0.4
    """)
    nb.code("""
    # The learned first-layer filters.
    filters = model.params["W1"].transpose(0, 2, 3, 1)
    plot_weights(filters, title=f"The {len(filters)} first-layer filters after one epoch")
    plt.show()
    """)
    nb.question(
        "q_receptive",
        2,
        """
    ### Inline question 1

    After a 3x3 convolution (stride 1) and a 2x2 max pool (stride 2), how many input pixels
    (in height x width) can influence one value of the pooled output? What happens to that
    number when you stack a second block of the same kind?
    """,
        """
    One pooled value looks at a 2x2 block of conv outputs, each of which sees a 3x3 patch;
    neighbouring patches overlap, so together they cover 4x4 input pixels. A second
    conv(3x3)-pool(2x2) block works on a grid whose steps are 2 input pixels: its 3x3 conv
    covers (3 - 1) * 2 + 4 = 8 input pixels per side and its pool adds one more step of 2,
    so 10x10. Each block roughly doubles the receptive field.
    """,
    )

    # ---------------------------------------------------------------- spatial batchnorm
    nb.md("""
    ## Spatial batch normalisation

    For images, batch normalisation keeps one mean and variance **per channel**, computed
    over the batch and over all positions (N, H and W). Reuse your `batchnorm_forward` and
    `batchnorm_backward_alt` by reshaping: move the channels last and flatten the rest.
    """)
    nb.reference(
        "spatial_batchnorm",
        "reference.layers",
        ["spatial_batchnorm_forward", "spatial_batchnorm_backward"],
    )
    nb.tests(
        "test_spatial_batchnorm",
        4,
        ("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
        """
    np.random.seed(231)
    N, C, H, W = 10, 3, 4, 5
    x = 4 * np.random.randn(N, C, H, W) + 10
    gamma, beta = np.asarray([3.0, 4.0, 5.0]), np.asarray([6.0, 7.0, 8.0])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    print("means per channel:", out.mean(axis=(0, 2, 3)), "stds:", out.std(axis=(0, 2, 3)))
    assert np.allclose(out.mean(axis=(0, 2, 3)), beta) and np.allclose(out.std(axis=(0, 2, 3)), gamma, atol=1e-3)

    N, C, H, W = 2, 3, 4, 5
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma = np.random.randn(C)
    beta = np.random.randn(C)
    dout = np.random.randn(N, C, H, W)
    bn_param = {"mode": "train"}
    dx_num = eval_numerical_gradient_array(lambda x: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0], x, dout)
    da_num = eval_numerical_gradient_array(lambda a: spatial_batchnorm_forward(x, a, beta, bn_param)[0], gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(lambda b: spatial_batchnorm_forward(x, gamma, b, bn_param)[0], beta.copy(), dout)
    _, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    for name, num, ana in [("dx", dx_num, dx), ("dgamma", da_num, dgamma), ("dbeta", db_num, dbeta)]:
        print(f"{name} error: {rel_error(num, ana):.2e}")
        assert rel_error(num, ana) < 1e-6
    """,
    )

    # ---------------------------------------------------------------- group norm
    nb.md("""
    ## Group normalisation

    Batch statistics are unreliable when a batch holds only a few images. Group
    normalisation (Wu and He, 2018) normalises each example on its own, like layer
    normalisation, but over groups of `C // G` channels (and all positions) rather than over
    all channels at once. `gamma` and `beta` have shape (1, C, 1, 1).
    """)
    nb.reference(
        "groupnorm", "reference.layers", ["spatial_groupnorm_forward", "spatial_groupnorm_backward"]
    )
    nb.tests(
        "test_groupnorm",
        4,
        ("spatial_groupnorm_forward", "spatial_groupnorm_backward"),
        """
    np.random.seed(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 4 * np.random.randn(N, C, H, W) + 10
    gamma, beta = np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1))
    out, _ = spatial_groupnorm_forward(x, gamma, beta, G, {})
    groups = out.reshape(N, G, -1)
    print("per example and group: means", groups.mean(axis=2).ravel(), "stds", groups.std(axis=2).ravel())
    assert np.allclose(groups.mean(axis=2), 0, atol=1e-7) and np.allclose(groups.std(axis=2), 1, atol=1e-3)

    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma = np.random.randn(1, C, 1, 1)
    beta = np.random.randn(1, C, 1, 1)
    dout = np.random.randn(N, C, H, W)
    gn_param = {}
    dx_num = eval_numerical_gradient_array(lambda x: spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[0], x, dout)
    da_num = eval_numerical_gradient_array(lambda a: spatial_groupnorm_forward(x, a, beta, G, gn_param)[0], gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(lambda b: spatial_groupnorm_forward(x, gamma, b, G, gn_param)[0], beta.copy(), dout)
    _, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    for name, num, ana in [("dx", dx_num, dx), ("dgamma", da_num, dgamma), ("dbeta", db_num, dbeta)]:
        print(f"{name} error: {rel_error(num, ana):.2e}")
        assert rel_error(num, ana) < 1e-6
    """,
    )
    nb.question(
        "q_groupnorm",
        2,
        """
    ### Inline question 2

    Layer normalisation is group normalisation with `G = 1`. Why might putting *all* the
    channels of an image into one group work worse than several groups?
    """,
        """
    Different channels detect different features and have very different typical scales;
    with a single group one very active channel dominates the shared mean and variance and
    squashes the others. Smaller groups of related channels are normalised with statistics
    that actually describe them, while still not depending on the batch.
    """,
    )
    return nb


def notebooks() -> list[NotebookSpec]:
    return [notebook()]
