"""Frame-once replay: n-step targets, stack rebuilding, wrap-around and priorities by hand."""

import numpy as np
import pytest

from prunebook.replay.frames import ImageReplay, PrioritizedImageReplay, SumTree


def frame(value):
    return np.full((84, 84), value, np.uint8)


def stack_values(obs):
    """(B, 84, 84, 4) constant frames -> (B, 4) frame values."""
    assert (obs == obs[:, :1, :1, :]).all()
    return obs[:, 0, 0, :].astype(int)


def add_episode(replay, values, rewards, terminal=True, episode_end=False):
    for i, (v, r) in enumerate(zip(values, rewards, strict=True)):
        last = i == len(values) - 1
        replay.add(frame(v), action=v, reward=r, terminal=terminal and last,
                   episode_end=episode_end and last)  # fmt: skip


def test_memory_is_one_frame_per_transition():
    assert ImageReplay.bytes_per_transition() == 84 * 84 + 10
    replay = ImageReplay(capacity=1000)
    assert replay.nbytes == 1000 * (84 * 84 + 10)
    assert 1_000_000 * ImageReplay.bytes_per_transition() < 7.1e9  # ~7 GB at paper capacity
    prio = PrioritizedImageReplay(capacity=1000)
    assert prio.nbytes <= 1000 * (84 * 84 + 10 + 32)  # sum-tree: at most 32 B per transition


def test_n_step_returns_and_discounts_by_hand():
    replay = ImageReplay(capacity=50, update_horizon=3, gamma=0.5)
    add_episode(replay, [10, 11, 12, 13, 14, 15], [1, 2, 3, 4, 5, 6])  # slots 3..8, 0-2 pad
    add_episode(replay, [20, 21, 22, 23, 24, 25], [0] * 6)  # slots 9-11 pad, 12..17
    batch = replay.transitions([3, 5, 7, 8])
    # R = sum_{k<L} gamma^k r; L = 3, or up to and including the terminal.
    np.testing.assert_allclose(batch["rewards"], [1 + 1 + 0.75, 3 + 2 + 1.25, 5 + 3, 6])
    np.testing.assert_allclose(batch["discounts"], [0.125, 0.125, 0, 0])
    np.testing.assert_array_equal(batch["terminals"], [0, 0, 1, 1])
    np.testing.assert_array_equal(batch["actions"], [10, 12, 14, 15])
    np.testing.assert_array_equal(
        stack_values(batch["observations"]), [[0, 0, 0, 10], [0, 10, 11, 12], [11, 12, 13, 14],
                                              [12, 13, 14, 15]]
    )  # fmt: skip
    np.testing.assert_array_equal(
        stack_values(batch["next_observations"][:2]), [[10, 11, 12, 13], [12, 13, 14, 15]]
    )
    assert batch["observations"].dtype == np.uint8


def test_stacks_restart_with_zeros_at_episode_boundaries():
    replay = ImageReplay(capacity=50, update_horizon=1)
    add_episode(replay, [10, 11, 12], [0, 0, 0])  # slots 3..5
    add_episode(replay, [20, 21, 22, 23, 24], [0] * 5)  # pads 6-8, slots 9..13
    batch = replay.transitions([9, 10, 11])
    np.testing.assert_array_equal(
        stack_values(batch["observations"]), [[0, 0, 0, 20], [0, 0, 20, 21], [0, 20, 21, 22]]
    )
    valid = set(np.flatnonzero(replay.is_valid(np.arange(50))))
    # The cursor is 14: the n-step window of 13 is incomplete; padding stacks hold a terminal.
    assert valid == {3, 4, 5, 9, 10, 11, 12}
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert set(replay.sample(16, rng)["indices"]) <= valid


def test_truncated_episode_end():
    replay = ImageReplay(capacity=50, update_horizon=2, gamma=0.9)
    add_episode(replay, [10, 11, 12, 13], [1, 1, 1, 1], terminal=False, episode_end=True)
    add_episode(replay, [20, 21, 22, 23], [0] * 4)  # pads 7-9, slots 10..13
    valid = set(np.flatnonzero(replay.is_valid(np.arange(50))))
    # Windows of 5 and 6 run into the truncation at 6; pads 7-9 straddle the episode end.
    assert valid == {3, 4, 10, 11}
    batch = replay.transitions([4])
    np.testing.assert_allclose(batch["rewards"], [1.9])
    np.testing.assert_allclose(batch["discounts"], [0.81])


def test_wraparound_never_crosses_the_cursor():
    capacity = 12
    replay = ImageReplay(capacity=capacity, update_horizon=1, gamma=0.5)
    for t in range(1, 31):  # one long episode: frame t, reward t, slot (t + 2) % 12
        replay.add(frame(t), action=t % 7, reward=float(t), terminal=False)
    assert replay.is_full() and replay.cursor == 33 % capacity
    invalid = {(replay.cursor - 1 + i) % capacity for i in range(4 + 1)}  # c-n .. c+k-1
    valid = set(np.flatnonzero(replay.is_valid(np.arange(capacity))))
    assert valid == set(range(capacity)) - invalid
    batch = replay.sample(200, np.random.default_rng(1))
    assert set(batch["indices"]) == valid  # every valid slot, and only those, comes up
    obs, nxt = stack_values(batch["observations"]), stack_values(batch["next_observations"])
    newest = obs[:, -1]
    np.testing.assert_array_equal(obs, newest[:, None] + np.arange(-3, 1))  # consecutive frames
    np.testing.assert_array_equal(nxt, obs + 1)
    np.testing.assert_allclose(batch["rewards"], newest)
    np.testing.assert_array_equal(batch["actions"], newest % 7)
    assert newest.min() >= 30 - capacity + 4  # never a frame that was overwritten


def test_too_few_transitions():
    replay = ImageReplay(capacity=20, update_horizon=3)
    replay.add(frame(1), 0, 0.0, False)
    with pytest.raises(RuntimeError, match="cannot sample"):
        replay.sample(2, np.random.default_rng(0))


def test_sum_tree_totals_and_prefix_sums():
    tree = SumTree(5)
    tree.set([0, 1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0, 0.0])
    assert tree.total == 10.0 and tree.max_recorded_priority == 4.0
    # Prefix intervals: [0,1) -> 0, [1,3) -> 1, [3,6) -> 2, [6,10) -> 3; leaf 4 has no mass.
    np.testing.assert_array_equal(
        tree.sample(np.array([0.0, 0.099, 0.1, 0.29, 0.3, 0.59, 0.6, 0.9999])),
        [0, 0, 1, 1, 2, 2, 3, 3],
    )
    tree.set(3, 0.5)
    tree.set([0, 2, 0], [2.0, 1.0, 5.0])  # repeated index: the last value wins
    np.testing.assert_array_equal(tree.get([0, 1, 2, 3, 4]), [5.0, 2.0, 1.0, 0.5, 0.0])
    assert tree.total == pytest.approx(8.5) and tree.max_recorded_priority == 5.0
    # Every internal node is the sum of its children.
    inner = np.arange(1, tree._first_leaf)
    np.testing.assert_allclose(tree.nodes[inner], tree.nodes[2 * inner] + tree.nodes[2 * inner + 1])
    counts = np.bincount(tree.stratified_sample(85, np.random.default_rng(0)), minlength=5)
    np.testing.assert_array_equal(counts, [50, 20, 10, 5, 0])  # exact for stratified draws
    with pytest.raises(ValueError):
        tree.set(0, -1.0)


def test_prioritized_probabilities_and_frequencies():
    replay = PrioritizedImageReplay(capacity=64, update_horizon=1)
    add_episode(replay, list(range(10, 30)), [0] * 20, terminal=False)  # slots 3..22
    assert (replay.sum_tree.get([0, 1, 2]) == 0).all()  # padding is never drawn
    assert (replay.sum_tree.get(np.arange(3, 23)) == 1.0).all()  # max priority (1.0 at first)
    priorities = np.zeros(23)
    priorities[[3, 5, 8, 13]] = [1.0, 2.0, 3.0, 4.0]  # the rest (incl. invalid slot 22) get 0
    replay.update_priorities(np.arange(3, 23), priorities[3:])
    rng = np.random.default_rng(0)
    counts = np.zeros(23)
    for _ in range(200):
        batch = replay.sample(50, rng)
        np.testing.assert_allclose(batch["probabilities"], priorities[batch["indices"]] / 10.0)
        np.testing.assert_allclose(batch["priorities"], priorities[batch["indices"]])
        counts += np.bincount(batch["indices"], minlength=23)
    np.testing.assert_allclose(counts / counts.sum(), priorities / 10.0, atol=0.005)
    replay.update_priorities([5], [7.0])
    replay.add(frame(99), 0, 0.0, False)
    assert replay.sum_tree.get([23])[0] == 7.0  # new transitions get the max seen so far


def test_prioritized_resamples_invalid_indices():
    replay = PrioritizedImageReplay(capacity=64, update_horizon=3)
    add_episode(replay, list(range(10, 20)), [1.0] * 10, terminal=False)  # slots 3..12
    replay.update_priorities(np.arange(3, 13), [1.0] * 7 + [3.0] * 3)  # most mass on 10-12
    batch = replay.sample(32, np.random.default_rng(0))
    assert replay.is_valid(batch["indices"]).all()  # 10-12 have no complete 3-step window
