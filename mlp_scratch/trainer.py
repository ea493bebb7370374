"""Mini-batch training: shuffled batches each epoch, validation each epoch, history, best parameters."""
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from mlp_scratch.kernels.random import derive_seed
from mlp_scratch.validation import check_features, check_labels, check_positive_int


@dataclass
class History:
    """What a run produced. ``iteration_loss`` is the minimized objective (data loss + L2 penalty) of
    each mini-batch; the per-epoch losses in ``epochs`` are data losses in evaluation mode, comparable
    across L2 strengths."""
    iteration_loss: list = field(default_factory=list)
    epochs: list = field(default_factory=list)  # dicts: epoch, lr, train_loss, train_acc, val_loss, val_acc, time
    best_epoch: int = 0
    best_val_acc: float = -1.0
    stop_reason: str = "completed"

    def to_dict(self):
        return asdict(self)


class Trainer:
    """Trains ``model`` with ``optimizer`` on a Dataset (see mlp_scratch.datasets).

    Parameters
    ----------
    epochs, batch_size : int
        A batch size above the number of training samples is clipped to it (with a message).
    seed : int
        Seeds the shuffling and the dropout masks: the same seed gives bitwise-identical training at
        a fixed thread count.
    restore_best : bool
        At the end, put back the parameters of the epoch with the best validation accuracy.
    train_eval_samples : int
        Training accuracy and loss per epoch are measured on at most this many training samples
        (a fixed random subset), since a full pass over a large set costs as much as an epoch.
    log : callable or None
        Receives one line per epoch; None for silence.
    """

    def __init__(self, model, optimizer, *, epochs=10, batch_size=64, seed=0, restore_best=True,
                 train_eval_samples=10000, log=print):
        self.model = model
        self.optimizer = optimizer
        self.epochs = check_positive_int("epochs", epochs)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.seed = int(seed)
        self.restore_best = restore_best
        self.train_eval_samples = check_positive_int("train_eval_samples", train_eval_samples)
        self.log = log or (lambda line: None)
        optimizer.set_masks(decay=model.weight_mask())

    def fit(self, data):
        """Train on data.X_train / y_train, validating on X_val / y_val. Returns the History.

        Stops early, keeping the best parameters and the history, on a non-finite loss or on
        KeyboardInterrupt (``history.stop_reason`` says which)."""
        model = self.model
        X = check_features(data.X_train, model.input_dim, model.dtype, "X_train")
        y = check_labels(data.y_train, X.shape[0], model.num_classes, "y_train")
        X_val = check_features(data.X_val, model.input_dim, model.dtype, "X_val")
        y_val = check_labels(data.y_val, X_val.shape[0], model.num_classes, "y_val")
        n = X.shape[0]
        batch_size = self.batch_size
        if batch_size > n:
            self.log(f"batch_size {batch_size} is larger than the {n} training samples; using {n}")
            batch_size = n

        rng = np.random.default_rng(self.seed)
        subset = np.sort(rng.permutation(n)[:self.train_eval_samples])
        X_sub, y_sub = X[subset], y[subset]
        X_batch = np.empty((batch_size, X.shape[1]), model.dtype)
        y_batch = np.empty(batch_size, np.int64)
        history = History()
        best_params, best_running = model.flat_params.copy(), model.running.copy()
        self._step = 0
        start = time.perf_counter()
        try:
            for epoch in range(1, self.epochs + 1):
                if not self._train_epoch(epoch, X, y, rng.permutation(n), X_batch, y_batch, history):
                    break
                record = self._epoch_record(epoch, X_sub, y_sub, X_val, y_val, start)
                history.epochs.append(record)
                if record["val_acc"] > history.best_val_acc:
                    history.best_epoch, history.best_val_acc = epoch, record["val_acc"]
                    best_params[:], best_running[:] = model.flat_params, model.running
                self.log(f"epoch {epoch:3d}/{self.epochs}  loss {record['train_loss']:.4f}  "
                         f"train acc {record['train_acc']:.4f}  val loss {record['val_loss']:.4f}  "
                         f"val acc {record['val_acc']:.4f}  lr {record['lr']:.3g}  {record['time']:.1f}s")
        except KeyboardInterrupt:
            history.stop_reason = f"interrupted after {len(history.epochs)} epochs"
            self.log("stopped: " + history.stop_reason)
        if self.restore_best and history.epochs:
            model.flat_params[:], model.running[:] = best_params, best_running
        return history

    def _train_epoch(self, epoch, X, y, order, X_batch, y_batch, history):
        """One pass over the shuffled training set; False if the loss stopped being finite."""
        model = self.model
        for first in range(0, len(order), len(X_batch)):
            idx = order[first:first + len(X_batch)]
            xb, yb = X_batch[:len(idx)], y_batch[:len(idx)]
            np.take(X, idx, axis=0, out=xb)
            np.take(y, idx, out=yb)
            data_loss, penalty = model._forward_backward(xb, yb, np.uint64(derive_seed(self.seed, self._step)))
            loss = data_loss + penalty
            if not math.isfinite(loss):
                history.stop_reason = (f"non-finite loss ({loss}) at epoch {epoch}, iteration "
                                       f"{self._step}: lower the learning rate or check the data")
                self.log("stopped: " + history.stop_reason)
                return False
            self.optimizer.step(model.flat_params, model.flat_grads)
            history.iteration_loss.append(loss)
            self._step += 1
        return True

    def _epoch_record(self, epoch, X_sub, y_sub, X_val, y_val, start):
        train_loss, train_acc = self.model.evaluate(X_sub, y_sub)
        val_loss, val_acc = self.model.evaluate(X_val, y_val)
        return {"epoch": epoch, "lr": self.optimizer.lr, "train_loss": train_loss, "train_acc": train_acc,
                "val_loss": val_loss, "val_acc": val_acc, "time": time.perf_counter() - start}
