"""The instructor's solution of the student API (docs/api.md); never shipped to students.

Modules: layers, layer_utils, optim, classifiers (TwoLayerNet, FullyConnectedNet,
ThreeLayerConvNet) and neural_net (the stand-alone TwoLayerNet).
"""
