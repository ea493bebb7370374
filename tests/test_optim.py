"""Every optimizer's fused kernel against torch.optim's formula in NumPy (tests/reference.py) and,
when PyTorch is installed, against torch.optim itself; masks; state round trips."""
import numba
import numpy as np
import pytest

from mlp_scratch import functional
from mlp_scratch.kernels.config import SERIAL_ELEMENTS
from mlp_scratch.kernels.training.optimizers import optimizer_update
from mlp_scratch.optim import Adam, RMSprop, SGD, make_optimizer
from reference import optimizer_reference


SETTINGS = [
    ("sgd", 0.05, {}), ("sgd", 0.05, dict(momentum=0.9)), ("sgd", 0.05, dict(momentum=0.9, dampening=0.3)),
    ("sgd", 0.05, dict(momentum=0.8, nesterov=True)), ("sgd", 0.05, dict(momentum=0.9, weight_decay=0.01)),
    ("sgd", 0.05, dict(weight_decay=0.1)),
    ("adagrad", 0.1, {}), ("adagrad", 0.1, dict(lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("rmsprop", 0.01, {}), ("rmsprop", 0.01, dict(momentum=0.9)), ("rmsprop", 0.01, dict(centered=True)),
    ("rmsprop", 0.01, dict(centered=True, momentum=0.5, weight_decay=0.1, alpha=0.9)),
    ("adadelta", 1.0, {}), ("adadelta", 0.5, dict(rho=0.8, weight_decay=0.05)),
    ("adam", 0.01, {}), ("adam", 0.01, dict(amsgrad=True)), ("adam", 0.01, dict(weight_decay=0.1, betas=(0.8, 0.99))),
    ("adamw", 0.01, {}), ("adamw", 0.01, dict(weight_decay=0.3, amsgrad=True)),
]
IDS = [f"{name}-{kwargs}" for name, _, kwargs in SETTINGS]


def changing_gradients(rng, size=1000, steps=12):
    """Gradients that change scale and sign from step to step."""
    return [rng.standard_normal(size) * (0.1 + t % 3) for t in range(steps)]


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("name, lr, settings", SETTINGS, ids=IDS)
def test_optimizer_matches_reference_over_changing_gradients(dtype, tol, name, lr, settings):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(1000)
    grads = changing_gradients(rng)
    params = p0.astype(dtype)
    opt = make_optimizer(name, lr=lr, **settings)
    for g in grads:
        opt.step(params, g.astype(dtype))
    want = optimizer_reference(name, p0.astype(dtype), [g.astype(dtype) for g in grads], lr, **settings)
    # relative to the parameters' scale: element-wise rtol alone fails where p crosses zero
    np.testing.assert_allclose(params, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("name, lr, settings", SETTINGS, ids=IDS)
def test_optimizer_matches_torch(name, lr, settings):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(500)
    grads = changing_gradients(rng, 500)
    params = p0.copy()
    opt = make_optimizer(name, lr=lr, **settings)
    weight = torch.nn.Parameter(torch.tensor(p0))
    torch_opt = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
                 "adadelta": torch.optim.Adadelta, "adam": torch.optim.Adam,
                 "adamw": torch.optim.AdamW}[name]([weight], lr=lr, **settings)
    for g in grads:
        opt.step(params, g)
        weight.grad = torch.tensor(g)
        torch_opt.step()
    np.testing.assert_allclose(params, weight.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_centered_rmsprop_stays_finite_under_a_near_constant_gradient():
    params = np.zeros(1000, np.float32)
    opt = RMSprop(lr=1e-4, centered=True)
    grads = np.full(1000, 0.3, np.float32) + np.linspace(0, 1e-6, 1000, dtype=np.float32)
    for _ in range(3000):
        opt.step(params, grads)
    assert np.isfinite(params).all()


MASKED = [("sgd", 0.1, dict(momentum=0.9, weight_decay=0.5)), ("adagrad", 0.1, dict(weight_decay=0.5)),
          ("rmsprop", 0.01, dict(weight_decay=0.5, momentum=0.5, centered=True)),
          ("adadelta", 1.0, dict(weight_decay=0.5)), ("adam", 0.01, dict(weight_decay=0.5, amsgrad=True)),
          ("adamw", 0.01, dict(weight_decay=0.5))]


@pytest.mark.parametrize("name, lr, settings", MASKED, ids=[m[0] for m in MASKED])
def test_masks_keep_decay_off_and_frozen_elements_still(name, lr, settings):
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(50)
    decay = np.arange(50) < 30
    frozen = np.arange(50) >= 45
    params = p0.copy()
    opt = make_optimizer(name, lr=lr, **settings)
    opt.set_masks(decay=decay, frozen=frozen)
    grads = changing_gradients(rng, 50, 5)
    for g in grads:
        opt.step(params, g)
    want = optimizer_reference(name, p0, grads, lr, decay=decay, **settings)
    np.testing.assert_allclose(params[:45], want[:45], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(params[45:], p0[45:])
    fresh = opt._init_state(p0)
    for state_name, array in opt.state.items():  # frozen elements' state never moved
        np.testing.assert_array_equal(array[45:], fresh[state_name][45:])


@pytest.mark.parametrize("name, lr, settings", MASKED, ids=[m[0] for m in MASKED])
def test_masks_that_change_nothing_give_the_unmasked_bits(name, lr, settings):
    """Without masks the update is compiled without flags (flags=None): an all-decay, none-frozen
    mask, which takes the flag-testing loop, must give the same bits; clear_masks goes back."""
    rng = np.random.default_rng(3)
    p0, grads = rng.standard_normal(40).astype(np.float32), changing_gradients(rng, 40, 4)
    unmasked, neutral, cleared = (make_optimizer(name, lr=lr, **settings) for _ in range(3))
    neutral.set_masks(decay=np.ones(40, bool), frozen=np.zeros(40, bool))
    cleared.set_masks(frozen=np.ones(40, bool))
    cleared.clear_masks()
    runs = []
    for opt in (unmasked, neutral, cleared):
        params = p0.copy()
        for g in grads:
            opt.step(params, g.astype(np.float32))
        runs.append(params)
    np.testing.assert_array_equal(runs[1], runs[0])
    np.testing.assert_array_equal(runs[2], runs[0])


def test_masks_of_another_size_are_refused():
    opt = make_optimizer("adam", lr=0.01)
    opt.set_masks(frozen=np.zeros(7, bool))
    with pytest.raises(ValueError, match="masks have 7 elements but params has 5"):
        opt.step(np.zeros(5), np.ones(5))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("name, lr, settings", MASKED, ids=[m[0] for m in MASKED])
def test_an_update_on_two_threads_is_its_plain_loops_to_the_bit(name, lr, settings, masked):
    """Each update is a config.kernel: a plain loop on one thread, numba's parallel loop on two from
    SERIAL_ELEMENTS parameters (the tests above, on fewer, run the plain one). Both must give the
    same bits, with and without masks."""
    rng = np.random.default_rng(3)
    size = SERIAL_ELEMENTS + 13
    p0 = rng.standard_normal(size).astype(np.float32)
    grads = [g.astype(np.float32) for g in changing_gradients(rng, size, steps=4)]
    results = []
    saved = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            params, opt = p0.copy(), make_optimizer(name, lr=lr, **settings)
            if masked:
                opt.set_masks(decay=np.arange(size) % 3 == 0, frozen=np.arange(size) % 7 == 0)
            for g in grads:
                optimizer_update(params, g, opt.compiled(params, g), lr)
            results.append(params)
    finally:
        numba.set_num_threads(saved)
    assert not np.array_equal(results[0], p0)
    np.testing.assert_array_equal(results[1], results[0])


@pytest.mark.parametrize("name, lr, settings", SETTINGS, ids=IDS)
def test_state_dict_round_trip_continues_bitwise(name, lr, settings):
    rng = np.random.default_rng(2)
    grads = [g.astype(np.float32) for g in changing_gradients(rng, 300, 10)]
    straight = rng.standard_normal(300).astype(np.float32)
    resumed = straight.copy()
    a = make_optimizer(name, lr=lr, **settings)
    for g in grads:
        a.step(straight, g)
    b = make_optimizer(name, lr=lr, **settings)
    for g in grads[:4]:
        b.step(resumed, g)
    c = make_optimizer(name, lr=lr, **settings)
    c.load_state_dict(b.state_dict())
    for g in grads[4:]:
        c.step(resumed, g)
    np.testing.assert_array_equal(resumed, straight)


def test_mismatched_optimizer_state_is_refused_not_written_out_of_bounds():
    momentum = SGD(lr=0.1, momentum=0.9)
    momentum.step(np.zeros(10), np.ones(10))
    plain = SGD(lr=0.1)
    plain.load_state_dict(momentum.state_dict())  # takes the hyperparameters that go with the state
    assert plain.hyperparameters["momentum"] == 0.9
    with pytest.raises(ValueError, match="momentum_buffer"):
        plain.step(np.zeros(20), np.ones(20))  # a state for 10 elements, params of 20
    state = momentum.state_dict()
    del state["state"]["momentum_buffer"]
    with pytest.raises(ValueError, match="needs"):
        SGD(lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="float"):
        SGD(lr=0.1).step(np.zeros(3, np.int64), np.ones(3, np.int64))


def test_negative_or_inconsistent_optimizer_steps_are_refused():
    state = Adam().state_dict()
    with pytest.raises(ValueError, match="steps"):
        Adam().load_state_dict({**state, "steps": -5})
    with pytest.raises(ValueError, match="needs"):
        Adam().load_state_dict({**state, "steps": 3})  # 3 steps but no state arrays


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="lr"):
        SGD(lr=0)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=-0.5)
    with pytest.raises(ValueError, match="nesterov requires momentum"):
        SGD(nesterov=True)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("adamax")
    with pytest.raises(ValueError, match="params and grads"):
        SGD().step(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adadelta", "adam", "adamw"])
def test_eps_must_be_positive(name):
    with pytest.raises(ValueError, match="eps"):
        make_optimizer(name, eps=0.0)


def test_functional_form_refuses_unknown_config_keys():
    with pytest.raises(ValueError, match="learning_rate"):
        functional.sgd(np.zeros(3), np.ones(3), {"learning_rate": 1.0})
