"""``from cs231n.classifiers.fc_net import *`` in a notebook becomes
``from mlp_scratch.cs231n.classifiers.fc_net import *``."""
