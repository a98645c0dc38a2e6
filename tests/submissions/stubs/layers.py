"""Release-style stubs: every layer function raises NotImplementedError."""


def _todo(*args, **kwargs):
    raise NotImplementedError


affine_forward = affine_backward = relu_forward = relu_backward = _todo
sigmoid_forward = sigmoid_backward = softmax_loss = svm_loss = mse_loss = _todo
batchnorm_forward = batchnorm_backward = batchnorm_backward_alt = _todo
layernorm_forward = layernorm_backward = dropout_forward = dropout_backward = _todo
conv_forward_naive = conv_backward_naive = _todo
max_pool_forward_naive = max_pool_backward_naive = _todo
spatial_batchnorm_forward = spatial_batchnorm_backward = _todo
spatial_groupnorm_forward = spatial_groupnorm_backward = _todo
