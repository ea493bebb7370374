"""The course's module path for FullyConnectedNet."""
from mlp_scratch.cs231n.fc_net import *  # noqa: F401,F403
from mlp_scratch.cs231n.fc_net import FullyConnectedNet  # noqa: F401
