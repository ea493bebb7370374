"""A run's curves, diagnostics and histograms as TensorBoard event files, for a live view in
``tensorboard --logdir DIR``. Written through tensorboardX (the optional extra "tensorboard"), not
TensorFlow or torch."""
import numpy as np

from mlp_scratch.kernels.training.diagnostics import FIELDS

EXTRA = "pip install 'mlp-scratch[tensorboard]'"


class TensorBoard:
    """An ``on_epoch_end`` callback of Trainer.fit that writes, after each epoch, into ``logdir``:

    - scalars: ``loss/iteration`` and ``lr/iteration`` per step; ``loss/batch``, ``loss/train``,
      ``loss/val``, ``accuracy/train``, ``accuracy/val`` and ``lr/epoch`` per epoch; with diagnostics
      on, ``diagnostics/<statistic>/layer<l>`` per record (at its step);
    - histograms per epoch: ``weights/W<l>``, ``gradients/W<l>`` (the epoch's last step) and
      ``activations/layer<l>`` (evaluation mode, on ``X_sample``; none without it).
    """

    def __init__(self, logdir, X_sample=None):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError(f"TensorBoard logs need the tensorboardX package: {EXTRA}") from None
        self.writer = SummaryWriter(str(logdir))
        self.X_sample = X_sample
        self._steps = self._records = 0

    def __call__(self, trainer):
        history, model, add = trainer.history, trainer.model, self.writer.add_scalar
        for step in range(self._steps, len(history.iteration_loss)):
            add("loss/iteration", history.iteration_loss[step], step + 1)
            if history.iteration_lr[step] is not None:
                add("lr/iteration", history.iteration_lr[step], step + 1)
        self._steps = len(history.iteration_loss)
        epoch, metric = history.epochs[-1], history.metric
        score = "accuracy" if metric == "acc" else metric
        for tag, key in (("loss/batch", "batch_loss"), ("loss/train", "train_loss"), ("loss/val", "val_loss"),
                         (f"{score}/train", f"train_{metric}"), (f"{score}/val", f"val_{metric}"), ("lr/epoch", "lr")):
            if epoch[key] is not None:
                add(tag, epoch[key], epoch["epoch"])
        for row in history.diagnostics[self._records:]:
            for name in FIELDS:
                if row[name] is not None:
                    add(f"diagnostics/{name}/layer{row['layer']}", row[name], row["step"])
        self._records = len(history.diagnostics)
        for name, view in model.params.items():
            if name.startswith("W"):
                self.writer.add_histogram(f"weights/{name}", view.astype(np.float64), epoch["epoch"])
                self.writer.add_histogram(f"gradients/{name}", model.grads[name].astype(np.float64), epoch["epoch"])
        if self.X_sample is not None:
            for l, values in enumerate(model.hidden_activations(self.X_sample), start=1):
                self.writer.add_histogram(f"activations/layer{l}", values.astype(np.float64), epoch["epoch"])
        self.writer.flush()

    def close(self):
        self.writer.close()
