"""SGD's fused kernel against torch.optim.SGD's formula in NumPy, masks, and state round trips."""
import numpy as np
import pytest

from mlp_scratch.optim import SGD, make_optimizer


def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, decay=None):
    """torch.optim.SGD written out in float64 NumPy."""
    p = p.astype(np.float64).copy()
    decay = np.ones_like(p, bool) if decay is None else decay
    buf = None
    for g in grads:
        g = g.astype(np.float64) + weight_decay * p * decay
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p -= lr * g
    return p


SETTINGS = [dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3),
            dict(momentum=0.8, nesterov=True), dict(momentum=0.9, weight_decay=0.01),
            dict(weight_decay=0.1)]


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_sgd_matches_reference_over_changing_gradients(dtype, tol, settings):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(1000)
    grads = [rng.standard_normal(1000) for _ in range(12)]
    params = p0.astype(dtype)
    opt = SGD(lr=0.05, **settings)
    for g in grads:
        opt.step(params, g.astype(dtype))
    want = sgd_reference(p0.astype(dtype), [g.astype(dtype) for g in grads], 0.05, **settings)
    np.testing.assert_allclose(params, want, rtol=tol, atol=tol)


def test_masks_keep_decay_off_and_frozen_elements_still():
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(50)
    decay = np.arange(50) < 30
    frozen = np.arange(50) >= 45
    params = p0.copy()
    opt = SGD(lr=0.1, momentum=0.9, weight_decay=0.5)
    opt.set_masks(decay=decay, frozen=frozen)
    grads = [rng.standard_normal(50) for _ in range(5)]
    for g in grads:
        opt.step(params, g)
    want = sgd_reference(p0, grads, 0.1, momentum=0.9, weight_decay=0.5, decay=decay)
    np.testing.assert_allclose(params[:45], want[:45], rtol=1e-12)
    np.testing.assert_array_equal(params[45:], p0[45:])
    np.testing.assert_array_equal(opt.state["momentum_buffer"][45:], 0)


def test_state_dict_round_trip_continues_bitwise():
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(300).astype(np.float32) for _ in range(10)]
    straight = rng.standard_normal(300).astype(np.float32)
    resumed = straight.copy()
    a = SGD(lr=0.1, momentum=0.9, nesterov=True)
    for g in grads:
        a.step(straight, g)
    b = SGD(lr=0.1, momentum=0.9, nesterov=True)
    for g in grads[:4]:
        b.step(resumed, g)
    c = SGD(lr=0.1, momentum=0.9, nesterov=True)
    c.load_state_dict(b.state_dict())
    for g in grads[4:]:
        c.step(resumed, g)
    np.testing.assert_array_equal(resumed, straight)


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
