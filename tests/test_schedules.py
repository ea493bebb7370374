"""Each schedule's learning rate at chosen steps equals its closed form; the trainer records it."""
import math

import numpy as np
import pytest

from mlp_scratch import MLP, SGD, Trainer, datasets
from mlp_scratch.schedules import (CosineAnnealingLR, CosineWarmRestarts, ExponentialDecay, ExponentialLR, InverseTimeDecay,
                                   LinearWarmup, MultiStepLR, ReduceLROnPlateau, StepLR, make_schedule)

CLOCK = [(0, 0), (1, 10), (2, 25), (3, 31), (7, 77), (12, 130)]  # (epochs completed, iterations completed)


@pytest.mark.parametrize("schedule, closed_form", [
    (make_schedule("constant"), lambda e, t: 0.5),
    (StepLR(step_size=3, gamma=0.5), lambda e, t: 0.5 * 0.5 ** (e // 3)),
    (MultiStepLR([2, 7], gamma=0.1), lambda e, t: 0.5 * 0.1 ** ((e >= 2) + (e >= 7))),
    (ExponentialLR(gamma=0.9), lambda e, t: 0.5 * 0.9 ** e),
    (ExponentialDecay(k=0.01), lambda e, t: 0.5 * math.exp(-0.01 * t)),
    (InverseTimeDecay(k=0.1), lambda e, t: 0.5 / (1 + 0.1 * t)),
    (InverseTimeDecay(k=0.5, per="epoch"), lambda e, t: 0.5 / (1 + 0.5 * e)),
    (CosineAnnealingLR(t_max=10, eta_min=0.01),
     lambda e, t: 0.01 + 0.49 * (1 + math.cos(math.pi * min(e, 10) / 10)) / 2),
    (CosineAnnealingLR(t_max=100, per="iteration"), lambda e, t: 0.25 * (1 + math.cos(math.pi * min(t, 100) / 100))),
    (CosineWarmRestarts(12), lambda e, t: 0.25 * (1 + math.cos(math.pi * (t % 12) / 12))),
    (CosineWarmRestarts(4, per="epoch"), lambda e, t: 0.25 * (1 + math.cos(math.pi * (e % 4) / 4))),
    (LinearWarmup(StepLR(3, 0.5), warmup=30), lambda e, t: 0.5 * 0.5 ** (e // 3) * min(1, (t + 1) / 30)),
], ids=["constant", "step", "multistep", "exponential", "exp-decay", "inverse-time", "inverse-time-epoch",
        "cosine", "cosine-iteration", "cosine-restarts", "cosine-restarts-epoch", "warmup-step"])
def test_schedule_equals_closed_form_and_fills_a_chunk_of_steps_alike(schedule, closed_form):
    chunk = np.empty(4)
    for epoch, iteration in CLOCK:
        assert schedule(0.5, epoch, iteration) == pytest.approx(closed_form(epoch, iteration), rel=1e-14)
        schedule.fill(chunk, 0.5, epoch, iteration)  # the trainer's way: 4 steps of this epoch at once
        assert chunk.tolist() == [schedule(0.5, epoch, iteration + k) for k in range(4)]


def test_cosine_matches_torch():
    torch = pytest.importorskip("torch")
    weight = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([weight], lr=0.5)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    ours = CosineAnnealingLR(t_max=10, eta_min=0.01)
    for epoch in range(10):
        assert ours(0.5, epoch, 0) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        reference.step()


def test_cosine_restarts_match_torch():
    torch = pytest.importorskip("torch")
    weight = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([weight], lr=0.5)
    reference = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=7)
    ours = make_schedule("cosine-restarts", cycle_length=7)
    for iteration in range(30):
        assert ours(0.5, 0, iteration) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        reference.step()


def test_reduce_on_plateau_follows_torch():
    losses = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    ours = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.05)
    got = []
    for loss in losses:
        ours.observe(loss)
        got.append(ours(0.4, 0, 0))
    # Written out by hand: bad epochs after 0.9 at indices 2,3,4 -> reduce at 4 (3 > patience 2), cooldown 1 at 5,
    # improvement at 6, bad at 7,8,9 -> reduce at 9, cooldown at 10, bad 11,12 (2 not > 2).
    assert got == pytest.approx([0.4] * 4 + [0.2] * 5 + [0.1] * 4)
    torch = pytest.importorskip("torch")
    weight = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([weight], lr=0.4)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.05)
    for loss, lr in zip(losses, got):
        reference.step(loss)
        assert opt.param_groups[0]["lr"] == pytest.approx(lr)


def test_reduce_on_plateau_stops_where_a_cut_would_change_the_rate_by_eps_or_less():
    """torch's rule: new = max(old * factor, min_lr), applied only if old - new > eps (1e-8)."""
    ours, got = ReduceLROnPlateau(factor=0.1, patience=0), []
    for epoch in range(6):
        got.append(ours(1e-6, epoch, 0))
        ours.observe(1.0)  # never better than the first epoch
    assert got == pytest.approx([1e-6, 1e-6, 1e-7, 1e-8, 1e-8, 1e-8], rel=1e-12, abs=0)
    torch = pytest.importorskip("torch")
    weight = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([weight], lr=1e-6)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0)
    for lr in got:
        assert opt.param_groups[0]["lr"] == pytest.approx(lr, rel=1e-12, abs=0)
        reference.step(1.0)


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="schedule must be one of"):
        make_schedule("linear")
    with pytest.raises(ValueError, match="step_size"):
        StepLR(0)
    with pytest.raises(ValueError, match="per must be"):
        InverseTimeDecay(0.1, per="batch")
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


def test_trainer_uses_and_records_the_schedule():
    data = datasets.load("iris")
    schedule = make_schedule("step", step_size=2, gamma=0.5, warmup=3)
    history = Trainer(MLP(4, [8], 3), SGD(lr=0.2), epochs=5, batch_size=32, schedule=schedule, log=None).fit(data)
    per_epoch = int(np.ceil(len(data.X_train) / 32))
    expected = [schedule(0.2, t // per_epoch, t) for t in range(5 * per_epoch)]
    assert history.iteration_lr == expected
    assert [e["lr"] for e in history.epochs] == expected[per_epoch - 1::per_epoch]
    assert expected[0] == pytest.approx(0.2 / 3) and expected[-1] == pytest.approx(0.05)
