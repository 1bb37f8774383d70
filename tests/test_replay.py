"""The jittable replay: n-step targets and prioritized sampling against hand-computed cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunebook.replay import jittable


def _filled(rewards, terminated, ends, capacity=16):
    state = jittable.init(capacity, (2,))
    for t, (r, term, end) in enumerate(zip(rewards, terminated, ends, strict=False)):
        obs = jnp.full((2,), t, jnp.uint8)
        state = jittable.add(state, obs, t % 3, r, obs + 100, term, end)
    return state


def test_n_step_returns_stop_at_episode_end():
    gamma = 0.5
    # t: 0 1 2 3(terminal) 4 5 6
    state = _filled([1, 2, 4, 8, 16, 32, 64], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0])
    returns, discounts, next_obs = jittable.n_step_targets(state, jnp.array([0, 2, 3, 4]), 3,
                                                           gamma)
    # from 0: 1 + .5*2 + .25*4 = 3, bootstrap gamma^3 from next_obs of t=2
    # from 2: 4 + .5*8 = 8, terminal at 3 -> discount 0
    # from 3: 8, terminal -> 0; from 4: 16 + 16 + 16 = 48, bootstrap from t=6
    np.testing.assert_allclose(returns, [3.0, 8.0, 8.0, 48.0])
    np.testing.assert_allclose(discounts, [0.125, 0.0, 0.0, 0.125])
    np.testing.assert_array_equal(next_obs[:, 0], [102, 103, 103, 106])


def test_truncation_cuts_the_window_but_bootstraps():
    state = _filled([1, 1, 1, 1], [0, 0, 0, 0], [0, 1, 0, 0])  # time limit after t=1
    returns, discounts, next_obs = jittable.n_step_targets(state, jnp.array([0]), 3, 0.9)
    np.testing.assert_allclose(returns, [1.9])
    np.testing.assert_allclose(discounts, [0.81], rtol=1e-6)
    assert int(next_obs[0, 0]) == 101


def test_incomplete_windows_are_never_sampled_and_wraparound():
    state = _filled(list(range(20)), [0] * 20, [0] * 20, capacity=8)  # wrapped: holds t=12..19
    assert int(state.size) == 8 and int(state.cursor) == 4
    batch = jittable.sample_uniform(state, jax.random.PRNGKey(0), 512, 3, 0.99)
    times = np.asarray(batch.obs[:, 0])
    assert times.min() == 12 and times.max() == 17  # t=18, 19 lack a full 3-step window
    np.testing.assert_allclose(batch.probabilities, 1 / 6)


def test_prioritized_sampling_matches_priorities():
    state = _filled([0.0] * 6, [0] * 6, [0] * 6)
    state = jittable.update_priorities(state, jnp.arange(6), jnp.array([1., 2., 3., 4., 0.5, 9.]))
    # n_step=2: the newest transition (t=5) is not sampleable, so total = 10.5
    batch = jittable.sample_prioritized(state, jax.random.PRNGKey(1), 4096, 2, 0.99)
    idx = np.asarray(batch.indices)
    assert 5 not in idx
    expected = np.array([1, 2, 3, 4, 0.5]) / 10.5
    np.testing.assert_allclose(np.bincount(idx, minlength=5)[:5] / idx.size, expected, atol=0.02)
    np.testing.assert_allclose(batch.probabilities, expected[idx], rtol=1e-6)
    assert float(state.max_priority) == pytest.approx(9.0)


def test_new_transitions_get_max_priority():
    state = _filled([0.0] * 3, [0] * 3, [0] * 3)
    state = jittable.update_priorities(state, jnp.array([0]), jnp.array([5.0]))
    state = jittable.add(state, jnp.zeros(2, jnp.uint8), 0, 0.0, jnp.zeros(2, jnp.uint8), False,
                         False)
    assert float(state.priorities[3]) == 5.0
